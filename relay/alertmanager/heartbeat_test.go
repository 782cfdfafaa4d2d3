package alertmanager_test

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/oob-relay/relay/relay"
	"github.com/oob-relay/relay/relay/alertmanager"
)

// A notification to a receiver named for a heartbeat beats it while it
// fires and posts nothing; other receivers post as before.
func TestReceiverNamedForAHeartbeatBeats(t *testing.T) {
	var beats, resolved, posts int
	srv := httptest.NewServer(alertmanager.Handler(alertmanager.Options{Config: baseConfig(),
		Post: func(context.Context, *relay.Post, string) (string, bool, error) { posts++; return "m", false, nil },
		Heartbeat: func(_ context.Context, receiver string, firing bool) (bool, error) {
			if receiver != "watchdog" {
				return false, nil
			}
			if firing {
				beats++
			} else {
				resolved++
			}
			return true, nil
		}}))
	defer srv.Close()
	send := func(payload []byte) int {
		req, _ := http.NewRequest(http.MethodPost, srv.URL, bytes.NewReader(payload))
		req.Header.Set("Content-Type", "application/json")
		bearer(testToken)(req)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	firing := fixture(t, "firing")
	watchdog := bytes.Replace(firing, []byte(`"receiver": "relay"`), []byte(`"receiver": "watchdog"`), 1)
	if bytes.Equal(watchdog, firing) {
		t.Fatal("the fixture's receiver is not relay")
	}
	if code := send(watchdog); code != http.StatusOK || beats != 1 || posts != 0 {
		t.Errorf("watchdog firing: %d, %d beats, %d posts", code, beats, posts)
	}
	res := strings.Replace(string(watchdog), `"status": "firing"`, `"status": "resolved"`, 1)
	if code := send([]byte(res)); code != http.StatusOK || beats != 1 || resolved != 1 || posts != 0 {
		t.Errorf("watchdog resolved: %d, %d beats, %d posts", code, beats, posts)
	}
	if code := send(firing); code != http.StatusOK || posts == 0 || beats != 1 {
		t.Errorf("another receiver: %d, %d beats, %d posts", code, beats, posts)
	}
}
