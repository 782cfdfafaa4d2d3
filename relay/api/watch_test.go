package api_test

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/oob-relay/relay/relay"
	"github.com/oob-relay/relay/relay/api"
	"github.com/oob-relay/relay/relay/node"
	"github.com/oob-relay/relay/relay/secret"
)

// A bot beats a configured heartbeat; an unknown one is 404 and writes
// nothing; GET /v1/watch shows the beat.
func TestHeartbeatBeatAndWatchView(t *testing.T) {
	n, err := node.Open(node.Options{Name: "seoul-1", Site: "seoul", DataDir: t.TempDir(),
		Deadline: func(relay.Severity) time.Duration { return time.Minute },
		Watch:    node.Watch{Heartbeats: []node.Heartbeat{{Name: "watchdog", Every: time.Hour, To: []string{"group:ops"}}}}})
	if err != nil {
		t.Fatal(err)
	}
	if err := n.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { n.Close(t.Context()) })
	h := &harness{}
	url := h.serve(t, api.Options{Node: n, Tokens: []api.Token{
		{Name: "cron", Role: relay.RoleBot, Secret: secret.New(botToken)},
		{Name: "eyes", Role: relay.RoleViewer, Secret: secret.New(viewerToken)}}})
	do := func(method, path, tok string) (int, string) {
		req, _ := http.NewRequestWithContext(t.Context(), method, url+path, nil)
		req.Header.Set("Authorization", "Bearer "+tok)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if code, body := do("POST", "/v1/heartbeats/nope", botToken); code != http.StatusNotFound || !strings.Contains(body, `no such heartbeat: \"nope\"`) {
		t.Errorf("unknown heartbeat: %d %s", code, body)
	}
	if code, _ := do("POST", "/v1/heartbeats/watchdog", viewerToken); code != http.StatusForbidden {
		t.Errorf("a viewer beat: %d", code)
	}
	if at, _ := n.Store().LastBeat("watchdog"); !at.IsZero() {
		t.Fatalf("refused beats recorded: %s", at)
	}
	if code, body := do("POST", "/v1/heartbeats/watchdog", botToken); code != http.StatusOK {
		t.Fatalf("beat: %d %s", code, body)
	}
	code, body := do("GET", "/v1/watch", viewerToken)
	var v api.WatchView
	if err := json.Unmarshal([]byte(body), &v); code != http.StatusOK || err != nil {
		t.Fatalf("GET /v1/watch: %d %s %v", code, body, err)
	}
	if len(v.Heartbeats) != 1 || v.Heartbeats[0].LastBeat == nil || v.Heartbeats[0].Down || v.Heartbeats[0].EverySeconds != 3600 {
		t.Errorf("heartbeats %+v", v.Heartbeats)
	}
	if len(v.Members) != 1 || v.Members[0].Name != "seoul-1" || v.Members[0].Detail != "seoul" || v.Isolated {
		t.Errorf("view %+v", v)
	}
}
