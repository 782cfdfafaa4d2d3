package relay

import (
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestParseRollCallAnswer(t *testing.T) {
	cases := []struct {
		text  string
		digit int
		code  string
		ok    bool
	}{
		{"2", 2, "", true},
		{" 1 ", 1, "", true},
		{"2번", 2, "", true},
		{"３", 3, "", true},
		{"2.", 2, "", true},
		{"9)", 9, "", true},
		{"KP47 2", 2, "KP47", true},
		{"kp47 2번", 2, "KP47", true},
		{"2 KP47", 2, "KP47", true},
		{"2\n\n> 판교 화재. 안전하면 1", 2, "", true},
		{"1\r\nSent from my phone", 1, "", true},
		{"0", 0, "", false},
		{"10", 0, "", false},
		{"22", 0, "", false},
		{"-1", 0, "", false},
		{"2번 도움 필요", 0, "", false},
		{"I am 2 floors up", 0, "", false},
		{"KP47", 0, "", false},
		{"KP47 2 3", 0, "", false},
		{"AB12 2", 0, "", false},
		{"안전", 0, "", false},
		{"", 0, "", false},
		{"\n2", 0, "", false},
		{"２번", 2, "", true},
		{"0번", 0, "", false},
	}
	for _, c := range cases {
		d, code, ok := ParseRollCallAnswer(c.text)
		if d != c.digit || code != c.code || ok != c.ok {
			t.Errorf("ParseRollCallAnswer(%q) = %d, %q, %v; want %d, %q, %v", c.text, d, code, ok, c.digit, c.code, c.ok)
		}
	}
}

func FuzzParseRollCallAnswer(f *testing.F) {
	for _, s := range []string{"2", "KP47 2", "2 KP47", "２번", "1\n> quoted", "도움", "\xff1", "9)"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		d, code, ok := ParseRollCallAnswer(s)
		if !ok {
			if d != 0 || code != "" {
				t.Fatalf("%q: no answer but digit %d, code %q", s, d, code)
			}
			return
		}
		if d < 1 || d > 9 {
			t.Fatalf("%q: digit %d out of 1-9", s, d)
		}
		if code != "" && !LooksLikeReplyCode(code) {
			t.Fatalf("%q: code %q is no reply code", s, code)
		}
		if line, _, _ := strings.Cut(strings.ReplaceAll(s, "\r", "\n"), "\n"); len(strings.Fields(line)) > 2 {
			t.Fatalf("%q: answer taken from a line of more than two words", s)
		}
	})
}

func validStart() *RollCallStart {
	return &RollCallStart{Incident: "pangyo-fire", Question: "판교 화재. 안전하면 1, 도움이 필요하면 2",
		Options: []RollCallOption{{Digit: 1, Label: "안전"}, {Digit: 2, Label: "도움 필요", Urgent: true}},
		To:      []string{"group:all"}, Reping: "10m", Until: "2h"}
}

func TestRollCallStartValidate(t *testing.T) {
	if err := validStart().Validate(); err != nil {
		t.Fatalf("valid start refused: %v", err)
	}
	cases := []struct {
		name   string
		mutate func(*RollCallStart)
		want   string
	}{
		{"no incident", func(s *RollCallStart) { s.Incident = "" }, "incident: is required"},
		{"blank question", func(s *RollCallStart) { s.Question = "  " }, "question: is required"},
		{"control character", func(s *RollCallStart) { s.Question = "a\x1b[2J" }, "question: contains U+001B"},
		{"one option", func(s *RollCallStart) { s.Options = s.Options[:1] }, "options: lists 1 options"},
		{"digit 0", func(s *RollCallStart) { s.Options[0].Digit = 0 }, "options[0].digit: is 0"},
		{"digit 10", func(s *RollCallStart) { s.Options[1].Digit = 10 }, "options[1].digit: is 10"},
		{"same digit", func(s *RollCallStart) { s.Options[1].Digit = 1 }, "options[1].digit: 1 is used by an earlier option"},
		{"label with newline", func(s *RollCallStart) { s.Options[0].Label = "a\nb" }, "options[0].label: contains U+000A"},
		{"all urgent", func(s *RollCallStart) { s.Options[0].Urgent = true }, "options: are all urgent"},
		{"no audience", func(s *RollCallStart) { s.To = nil }, "to: is required"},
		{"bad target", func(s *RollCallStart) { s.To = []string{"kim"} }, "to[0]:"},
		{"bad reping", func(s *RollCallStart) { s.Reping = "soon" }, `reping: "soon" is not a duration`},
		{"short reping", func(s *RollCallStart) { s.Reping = "5s" }, "reping: is 5s; re-pings are at least 1m0s apart"},
		{"reping past until", func(s *RollCallStart) { s.Reping = "3h" }, "reping: is 3h0m0s, not shorter than until"},
		{"long until", func(s *RollCallStart) { s.Until = "100h" }, "until: is 100h0m0s"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := validStart()
			c.mutate(s)
			err := s.Validate()
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("Validate() = %v; want an error with %q", err, c.want)
			}
			var fe *FieldError
			if !errors.As(err, &fe) {
				t.Fatalf("error %v is no FieldError", err)
			}
		})
	}
}

func TestRollCallRounds(t *testing.T) {
	t0 := time.Date(2026, 12, 2, 9, 0, 0, 0, time.UTC)
	rc, err := NewRollCall(validStart(), "rc1", "bot", "m1", t0)
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		at    time.Duration
		round int
		due   time.Duration
		ok    bool
	}{
		{0, 1, 10 * time.Minute, true},
		{9 * time.Minute, 1, 10 * time.Minute, true},
		{10 * time.Minute, 1, 10 * time.Minute, true},
		{25 * time.Minute, 2, 20 * time.Minute, true},
		{115 * time.Minute, 11, 110 * time.Minute, true},
		{120 * time.Minute, 0, 0, false},
	}
	for _, c := range cases {
		r, due, ok := rc.Round(t0.Add(c.at))
		if r != c.round || ok != c.ok || (ok && !due.Equal(t0.Add(c.due))) {
			t.Errorf("Round(+%s) = %d, %s, %v; want %d, +%s, %v", c.at, r, due.Sub(t0), ok, c.round, c.due, c.ok)
		}
	}
}

func TestSplitOption(t *testing.T) {
	o, err := SplitOption("2=도움 필요")
	if err != nil || o.Digit != 2 || o.Label != "도움 필요" {
		t.Fatalf("SplitOption = %+v, %v", o, err)
	}
	if o.Urgent {
		t.Errorf("SplitOption(2=도움 필요) is urgent")
	}
	if o, err := SplitOption("2 = 도움 필요 ! "); err != nil || o.Label != "도움 필요" || !o.Urgent {
		t.Errorf("SplitOption with a closing ! = %+v, %v; want the label without it, urgent", o, err)
	}
	for _, bad := range []string{"도움", "0=x", "12=x", "=x"} {
		if _, err := SplitOption(bad); err == nil {
			t.Errorf("SplitOption(%q) took it", bad)
		}
	}
}

// TestMarkHelpUrgent: an unmarked question makes its calls for help
// urgent; a marked one, or one all of whose options call for help, is
// left as it is.
func TestMarkHelpUrgent(t *testing.T) {
	opts := func(labels ...string) []RollCallOption {
		var out []RollCallOption
		for i, l := range labels {
			out = append(out, RollCallOption{Digit: i + 1, Label: l})
		}
		return out
	}
	for _, c := range []struct {
		name string
		opts []RollCallOption
		want []int
	}{
		{"the issue's question", opts("안전", "도움 필요"), []int{2}},
		{"English", opts("Safe", "Need HELP", "Injured", "At home"), []int{2, 3}},
		{"not safe", opts("안전", "안전하지 않음", "Not safe"), []int{2, 3}},
		{"where people are", opts("사무실", "재택", "이동 중"), nil},
		{"every option asks", opts("도움 필요", "구조 요청"), nil},
		{"one marked by hand", append(opts("안전", "도움 필요"), RollCallOption{Digit: 3, Label: "연락 바람", Urgent: true}), nil},
	} {
		before := slices.Clone(c.opts)
		got := MarkHelpUrgent(c.opts)
		if !slices.Equal(got, c.want) {
			t.Errorf("%s: MarkHelpUrgent = %v, want %v", c.name, got, c.want)
		}
		for i, o := range c.opts {
			want := before[i].Urgent || slices.Contains(c.want, o.Digit)
			if o.Urgent != want {
				t.Errorf("%s: option %d urgent = %v, want %v", c.name, o.Digit, o.Urgent, want)
			}
		}
	}
}

// FuzzRollCallStart decodes a start request as the API does and checks
// that what Validate takes makes a roll-call whose texts relay keeps.
func FuzzRollCallStart(f *testing.F) {
	f.Add(`{"incident":"pangyo-fire","question":"판교 화재","options":[{"digit":1,"label":"안전"},{"digit":2,"label":"도움 필요","urgent":true}],"to":["group:all"],"reping":"10m","until":"2h"}`)
	f.Add(`{"incident":"a","question":"q","options":[{"digit":9,"label":"x"},{"digit":1,"label":"y"}],"to":["everyone"]}`)
	f.Add(`{"incident":"a","question":"q\u202e","options":[{"digit":0,"label":""}],"to":["kim"],"reping":"1ns"}`)
	f.Fuzz(func(t *testing.T, doc string) {
		var s RollCallStart
		if json.Unmarshal([]byte(doc), &s) != nil || s.Validate() != nil {
			return
		}
		rc, err := NewRollCall(&s, "rc", "bot", "m", time.Unix(0, 0))
		if err != nil {
			t.Fatalf("valid start refused: %v", err)
		}
		if err := CheckText("text", rc.QuestionText()); err != nil {
			t.Fatalf("question text: %v", err)
		}
		if len(rc.Options) < 2 || len(rc.Options) > 9 || !rc.Until.After(rc.StartedAt) {
			t.Fatalf("roll-call %+v", rc)
		}
		if r, _, ok := rc.Round(rc.StartedAt); ok && r != 1 {
			t.Fatalf("first round %d", r)
		}
	})
}
