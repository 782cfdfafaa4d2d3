package main

import (
	"strings"
	"testing"
	"time"

	"github.com/oob-relay/relay/relay"
)

// TestTallyLines renders a tally with bars for a terminal and as plain
// lines; a hostile label is escaped either way.
func TestTallyLines(t *testing.T) {
	t0 := time.Date(2026, 12, 2, 9, 0, 0, 0, time.UTC)
	tl := &relay.Tally{
		RollCall: relay.RollCall{ID: "rc1", Incident: "pangyo-fire", Question: "판교 화재. 안전하면 1\n둘째 줄",
			StartedAt: t0, Until: t0.Add(2 * time.Hour)},
		Options: []relay.OptionCount{{RollCallOption: relay.RollCallOption{Digit: 1, Label: "안전"}, Count: 15},
			{RollCallOption: relay.RollCallOption{Digit: 2, Label: "help\x1b[2J", Urgent: true}, Count: 3}},
		Audience: 30, Answered: 18, Unanswered: 10, Unreachable: 2,
	}
	bars := strings.Join(tallyLines(tl, true, t0.Add(time.Hour)), "\n")
	for _, want := range []string{"판교 화재. 안전하면 1\n", "  1 안전", strings.Repeat("█", 15) + strings.Repeat("░", 15) + "    15",
		strings.Repeat("█", 3) + strings.Repeat("░", 27) + "     3 (urgent)", `help\x1b[2J`, "answered 18 of 30, unanswered 10, unreachable 2"} {
		if !strings.Contains(bars, want) {
			t.Errorf("bars lack %q:\n%s", want, bars)
		}
	}
	if strings.Contains(bars, "\x1b") || strings.Contains(bars, "둘째 줄") {
		t.Errorf("bars hold a raw escape or the question's second line:\n%s", bars)
	}
	plain := tallyLines(tl, false, t0.Add(3*time.Hour))
	if !strings.Contains(plain[0], "ended") || plain[2] != "  1 안전: 15" || plain[3] != `  2 help\x1b[2J: 3 (urgent)` {
		t.Errorf("plain lines:\n%s", strings.Join(plain, "\n"))
	}
}
