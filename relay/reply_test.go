package relay

import (
	"fmt"
	"testing"
	"time"
)

func TestParseCommand(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want Command
	}{
		{"1", Command{Kind: CommandAck}},
		{" ack ", Command{Kind: CommandAck}},
		{"확인", Command{Kind: CommandAck}},
		{"ACK kp47", Command{Kind: CommandAck, Code: "KP47"}},
		{"1 KP47", Command{Kind: CommandAck, Code: "KP47"}},
		{"ACK the fire is out", Command{Kind: CommandText, Text: "ACK the fire is out"}},
		{"STOP", Command{Kind: CommandStop}},
		{"stop.", Command{Kind: CommandStop}},
		{"Stop the pumps now", Command{Kind: CommandText, Text: "Stop the pumps now"}},
		{"unsubscribe", Command{Kind: CommandStop}},
		{"START", Command{Kind: CommandStart}},
		{"help", Command{Kind: CommandHelp}},
		{"KP47 판교 도착했습니다", Command{Kind: CommandText, Code: "KP47", Text: "판교 도착했습니다"}},
		{"GOOD morning", Command{Kind: CommandText, Text: "GOOD morning"}},
		{"#db-fire 3층 진입 불가", Command{Kind: CommandText, Incident: "db-fire", Text: "3층 진입 불가"}},
		{"#db-fire", Command{Kind: CommandText, Text: "#db-fire"}},
		{"지금 가는 중", Command{Kind: CommandText, Text: "지금 가는 중"}},
	} {
		got := ParseCommand(tc.in)
		tc.want.Body = got.Body
		if got != tc.want {
			t.Errorf("ParseCommand(%q) = %+v, want %+v", tc.in, got, tc.want)
		}
	}
}

func TestReplyCodesNeverRepeatWithinTheWindow(t *testing.T) {
	start := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	var incs []Incident
	for i := range 3000 {
		incs = append(incs, Incident{ID: fmt.Sprintf("inc-%04d", i), OpenedAt: start.Add(time.Duration(i) * time.Minute)})
	}
	codes := ReplyCodes("kim", incs)
	seen := map[string]Incident{}
	for _, inc := range incs {
		code := codes[inc.ID]
		if !LooksLikeReplyCode(code) {
			t.Fatalf("code %q of %s is not a reply code", code, inc.ID)
		}
		if prev, ok := seen[code]; ok && inc.OpenedAt.Sub(prev.OpenedAt) < ReplyWindow {
			t.Fatalf("code %s given to %s and %s, opened %v apart", code, prev.ID, inc.ID, inc.OpenedAt.Sub(prev.OpenedAt))
		}
		seen[code] = inc
	}
	// An incident's code does not depend on incidents opened after it,
	// nor on the order the incidents are listed in.
	again := ReplyCodes("kim", incs[:1500])
	for id, code := range again {
		if codes[id] != code {
			t.Fatalf("code of %s changed from %s to %s when later incidents were left out", id, again[id], codes[id])
		}
	}
	rev := make([]Incident, len(incs))
	for i := range incs {
		rev[len(incs)-1-i] = incs[i]
	}
	if r := ReplyCodes("kim", rev); fmt.Sprint(r) != fmt.Sprint(codes) {
		t.Fatal("codes depend on the order of the incidents")
	}
	if ReplyCodes("lee", incs[:1])["inc-0000"] == "" {
		t.Fatal("no code")
	}
}

func FuzzParseCommand(f *testing.F) {
	for _, s := range []string{"1", "ACK KP47", "STOP", "#db-fire 지금", "KP47 hi", "\xff\xfe"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		c := ParseCommand(s)
		if c.Code != "" && !LooksLikeReplyCode(c.Code) {
			t.Fatalf("code %q is not a reply code", c.Code)
		}
		if c.Kind == CommandText && c.Text == "" && c.Body != "" {
			t.Fatalf("text command without text for %q", s)
		}
	})
}
