package launch_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/oob-relay/relay/cmd/relay/internal/launch"
	"github.com/oob-relay/relay/internal/testkit"
	"github.com/oob-relay/relay/relay/api"
)

// startWatching starts the node relay serve builds from a config file
// watching the HTTP target url, or returns Start's error.
func startWatching(t *testing.T, url string) (*launch.Server, error) {
	t.Helper()
	// baseConfig, in site seoul, watching url.
	cfg := strings.Replace(baseConfig, "  data_dir: data\n", "  site: seoul\n  data_dir: data\n", 1) + fmt.Sprintf(`watch:
  targets:
    - name: web
      kind: http
      url: %s
      interval: 1s
      timeout: 1s
      for: 1m
      to: [group:all]
`, url)
	roster := "people:\n  - id: kim\n    name: 김민준\n    email: kim@example.com\ngroups:\n  - {id: all, members: [kim]}\n"
	c := loadConfig(t, cfg, roster)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s, err := launch.Start(context.Background(), c, launch.Options{Listener: ln})
	if err != nil {
		ln.Close()
		return nil, err
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := s.Shutdown(ctx); err != nil {
			t.Error(err)
		}
	})
	return s, nil
}

// TestFlakyDialHook: RELAY_TEST_FLAKY_DIAL=1 makes every probe of the
// node relay serve builds fail, so a target that answers is down from
// its site; a value that is not a probability stops relay serve with an
// error naming the variable.
func TestFlakyDialHook(t *testing.T) {
	var hits atomic.Int32
	tg := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { hits.Add(1); w.Write([]byte("ok")) }))
	defer tg.Close()

	for _, bad := range []string{"1.5", "-0.1", "half", "NaN"} {
		t.Setenv(launch.FlakyDialEnv, bad)
		if _, err := startWatching(t, tg.URL); err == nil || !strings.Contains(err.Error(), launch.FlakyDialEnv) {
			t.Errorf("%s=%s: %v, want an error naming the variable", launch.FlakyDialEnv, bad, err)
		}
	}

	t.Setenv(launch.FlakyDialEnv, "1")
	s, err := startWatching(t, tg.URL)
	if err != nil {
		t.Fatal(err)
	}
	client := &http.Client{Timeout: 10 * time.Second}
	defer client.CloseIdleConnections()
	testkit.EventuallyNil(t, 30*time.Second, func() error {
		req, _ := http.NewRequest(http.MethodGet, s.URL+"/v1/watch", nil)
		req.Header.Set("Authorization", "Bearer "+testToken)
		resp, err := client.Do(req)
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		var v api.WatchView
		if err := json.Unmarshal(b, &v); err != nil {
			return err
		}
		if len(v.Targets) != 1 || len(v.Targets[0].Views) != 1 || v.Targets[0].Views[0].Up ||
			!strings.Contains(v.Targets[0].Views[0].Reason, "unreachable") {
			return fmt.Errorf("watch view %s", b)
		}
		return nil
	})
	if n := hits.Load(); n != 0 {
		t.Errorf("the target was reached %d times through a network that fails every probe", n)
	}
}
