package relay_test

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/oob-relay/relay/relay"
)

func TestWatchText(t *testing.T) {
	since := time.Date(2026, 12, 2, 5, 3, 0, 0, time.UTC) // 14:03 in Seoul
	for _, c := range []struct {
		page relay.WatchPage
		want string
	}{
		{relay.WatchPage{Kind: "target", Name: "web", Detail: "https://www.example.com/", Down: true, Since: since, Sites: []string{"busan", "seoul"}, Reason: "status 503"},
			"[장애] web (https://www.example.com/) 응답 없음: busan, seoul에서 14:03부터 (status 503)"},
		{relay.WatchPage{Kind: "target", Name: "web", Detail: "https://www.example.com/", Since: since, Sites: []string{"busan", "seoul"}},
			"[복구] web (https://www.example.com/) 정상: busan, seoul에서 14:03부터"},
		{relay.WatchPage{Lang: "en", Kind: "target", Name: "web", Detail: "db:5432", Down: true, Since: since, Sites: []string{"busan", "seoul", "tokyo"}, Reason: "dial: connection refused"},
			"[DOWN] web (db:5432) not answering from busan, seoul and tokyo since 05:03 UTC (dial: connection refused)"},
		{relay.WatchPage{Kind: "node", Name: "relay-2", Detail: "busan", Down: true, Since: since, Sites: []string{"seoul", "tokyo"}},
			"[장애] relay-2 (busan) 연결 불가: seoul, tokyo에서 14:03부터"},
		{relay.WatchPage{Lang: "en", Kind: "node", Name: "relay-2", Detail: "busan", Down: true, Since: since, Sites: []string{"seoul", "tokyo"}},
			"[DOWN] relay-2 (busan) unreachable from seoul and tokyo since 05:03 UTC"},
		{relay.WatchPage{Kind: "heartbeat", Name: "watchdog", Down: true, Since: since},
			"[장애] 하트비트 watchdog 끊김: 14:03 이후 신호 없음"},
		{relay.WatchPage{Lang: "en", Kind: "heartbeat", Name: "watchdog", Since: since},
			"[RECOVERED] heartbeat watchdog beating again since 05:03 UTC"},
	} {
		got, err := relay.WatchText(&c.page, nil)
		if err != nil || got != c.want {
			t.Errorf("got %q, %v\nwant %q", got, err, c.want)
		}
	}
}

func TestWatchIncidentIsAnIDForAnyName(t *testing.T) {
	if got := relay.WatchIncident("target:web", 3); got != "watch-target-web-3" {
		t.Errorf("incident %q", got)
	}
	long := "target:" + strings.Repeat("a", 64)
	if got := relay.WatchIncident(long, 12); !relay.ValidID(got) || got == relay.WatchIncident("target:"+strings.Repeat("b", 64), 12) {
		t.Errorf("incident of a long name %q", got)
	}
}

// FuzzWatchEvents: any JSON of a watch event from a peer either fails
// its check or is one whose page renders.
func FuzzWatchEvents(f *testing.F) {
	for _, s := range []string{
		`{"origin":"o","seq":1,"node":"seoul-1","watch_report":{"node":"seoul-1","subject":"target:web","up":false,"since":"2026-12-02T05:03:00Z","reason":"status 503"}}`,
		`{"origin":"o","seq":1,"beat":{"heartbeat":"watchdog","at":"2026-12-02T05:03:00Z","by":"cron"}}`,
		`{"origin":"o","seq":2,"watch_verdict":{"subject":"node:relay-2","outage":1,"down":true,"since":"2026-12-02T05:03:00Z","sites":["seoul"],"incident":"watch-node-relay-2-1"}}`,
		`{"origin":"o","seq":1,"site":{"node":"seoul-1","site":"seoul"}}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var e relay.Event
		if json.Unmarshal(data, &e) != nil || e.Check() != nil {
			return
		}
		if r := e.WatchReport; r != nil {
			kind, name, _ := strings.Cut(r.Subject, ":")
			if _, err := relay.WatchText(&relay.WatchPage{Kind: kind, Name: name, Down: !r.Up, Since: r.Since, Reason: r.Reason}, nil); err != nil {
				t.Fatal(err)
			}
		}
		if v := e.WatchVerdict; v != nil && !relay.ValidID(relay.WatchIncident(v.Subject, v.Outage)) {
			t.Fatalf("verdict %+v gives an invalid incident", v)
		}
	})
}
