package alertmanager_test

import (
	"bytes"
	"encoding/json"
	"testing"

	"github.com/oob-relay/relay/relay"
	"github.com/oob-relay/relay/relay/alertmanager"
)

// FuzzDecode checks that Decode never panics, that what it accepts keeps
// its promises, that every accepted notification makes valid posts, and
// that a notification sent again, as re-encoded JSON, gets the same
// idempotency keys.
func FuzzDecode(f *testing.F) {
	for _, name := range fixtures {
		f.Add(fixture(f, name))
	}
	f.Add([]byte(valid))
	f.Add([]byte(`{"version":"4","groupKey":"k","status":"firing","alerts":[null]}`))
	f.Add([]byte(`{"version":"4","groupKey":"k","status":"resolved","alerts":[{"status":"resolved","startsAt":"2026-11-03T05:00:00+09:00","endsAt":"2026-11-03T05:00:00.123456789Z","labels":{"alertname":"\u0000\ud800"}}]}`))
	f.Add([]byte(`[]`))
	cfg := everyone("ko")
	f.Fuzz(func(t *testing.T, body []byte) {
		n, err := alertmanager.Decode(bytes.NewReader(body), 64<<10)
		if err != nil {
			return
		}
		if n.Version != "4" || n.GroupKey == "" || len(n.Alerts) == 0 || n.TruncatedAlerts < 0 {
			t.Fatalf("accepted an invalid notification: %+v", n)
		}
		for i, a := range n.Alerts {
			if a.Status != alertmanager.StatusFiring && a.Status != alertmanager.StatusResolved {
				t.Fatalf("alerts[%d] has status %q", i, a.Status)
			}
		}
		reqs, err := alertmanager.Posts(n, cfg)
		if err != nil || len(reqs) != 1 {
			t.Fatalf("Posts: %d posts, %v", len(reqs), err)
		}
		if err := reqs[0].Post.Validate(); err != nil {
			t.Fatalf("invalid post: %v\n%q", err, reqs[0].Post.Text)
		}
		if !relay.ValidID(alertmanager.IncidentID(n)) {
			t.Fatalf("incident id %q", alertmanager.IncidentID(n))
		}
		again, err := json.Marshal(n)
		if err != nil {
			t.Fatal(err)
		}
		m, err := alertmanager.Decode(bytes.NewReader(again), 0)
		if err != nil {
			t.Fatalf("re-encoded notification refused: %v\n%s", err, again)
		}
		reqs2, err := alertmanager.Posts(m, cfg)
		if err != nil || reqs2[0].Key != reqs[0].Key {
			t.Fatalf("the same notification sent again gets key %q, not %q (%v)", reqs2[0].Key, reqs[0].Key, err)
		}
	})
}
