package main

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/oob-relay/relay/relay/api"
)

// relay watch prints each target's verdict and each site's view, a node
// cut off first, and what nodes report escaped.
func TestPrintWatch(t *testing.T) {
	since := time.Date(2026, 12, 2, 5, 3, 0, 0, time.UTC)
	v := &api.WatchView{Isolated: true, Alive: 1, Nodes: 3,
		Targets: []api.SubjectView{{Name: "web", Detail: "https://www.example.com/", Down: true, Since: &since, Incident: "watch-target-web-1",
			Views: []api.SiteView{
				{Node: "busan-1", Site: "busan", Since: since, Reason: "status 503\x1b[2J"},
				{Node: "seoul-1", Site: "seoul", Up: true, Since: since, Live: true},
			}}},
		Heartbeats: []api.HeartbeatView{{Name: "watchdog", EverySeconds: 60, GraceSeconds: 30, LastBeat: &since}},
		Members:    []api.SubjectView{{Name: "seoul-1", Detail: "seoul", Views: []api.SiteView{}}},
	}
	var b bytes.Buffer
	w := newSafeWriter(&b)
	printWatch(w, v)
	w.Flush()
	out := b.String()
	for _, want := range []string{
		"this node sees 1 of 3 nodes alive: it is cut off from the majority and pages nobody",
		"TARGET", "web (https://www.example.com/)", "DOWN since", "watch-target-web-1",
		"busan", "down (not live)", `status 503\x1b[2J`, "seoul-1", "HEARTBEAT", "watchdog", "1m0s", "30s", "NODE",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "\x1b") {
		t.Errorf("an escape reached the terminal:\n%q", out)
	}
}
