package relay

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"
)

// TestPostRefusesHostileText checks that a post's text may hold any
// language and emoji, newlines and tabs, but no other control character
// and no bidirectional override, and that the problem names the field.
func TestPostRefusesHostileText(t *testing.T) {
	for _, s := range intact {
		if s == "" {
			continue
		}
		p := Post{Incident: "x", Text: s, To: []string{"everyone"}}
		if err := p.Validate(); err != nil {
			t.Errorf("%q refused: %v", s, err)
		}
	}
	for text, want := range map[string]string{
		"ok\x1b[2J\x1b[H":      "text: contains U+001B (a control character) at byte 2",
		"nul\x00":              "text: contains U+0000",
		"windows\r\nline ends": "text: contains U+000D",
		"invoice\u202efdp.exe": "text: contains U+202E (a bidirectional formatting character)",
		"\u2067isolate\u2069":  "text: contains U+2067",
	} {
		p := Post{Incident: "x", Text: text, To: []string{"everyone"}}
		err := p.Validate()
		var fe *FieldError
		if !errors.As(err, &fe) || fe.Field != "text" || !strings.Contains(err.Error(), want) {
			t.Errorf("text %q: %v, want %q", text, err, want)
		}
	}
}

// TestPostAudienceEntries checks every to entry's form before the roster
// is looked at, naming the entry, with a bounded list of problems for a
// huge list, and that a list of repeated channels is reported once.
func TestPostAudienceEntries(t *testing.T) {
	p := Post{Incident: "x", Text: "t", To: []string{"everyone", "person:kim", "group:db-oncall", "kim", "person:\x1b[2J", "group:" + strings.Repeat("a", 300)}}
	err := p.Validate()
	got := fieldsOf(err)
	if want := []string{"to[3]", "to[4]", "to[5]"}; !slices.Equal(got, want) {
		t.Fatalf("fields %v, want %v: %v", got, want, err)
	}
	msg := err.Error()
	for _, want := range []string{`to[3]: "kim" is not an audience: use "person:<id>", "group:<id>", "role:<role>", "schedule:<id>", "escalation:<id>" or "everyone"`, `to[4]: "person:\x1b[2J" is not an audience`, `"group:aaaa`, `"… is not an audience`} {
		if !strings.Contains(msg, want) {
			t.Errorf("error lacks %q:\n%s", want, msg)
		}
	}
	if len(msg) > 2000 {
		t.Errorf("error is %d bytes: a long entry is quoted whole", len(msg))
	}

	junk := make([]string, 75000)
	for i := range junk {
		junk[i] = fmt.Sprintf("junk-%d", i)
	}
	p.To = junk
	p.Channels = slices.Repeat([]string{"sms"}, 10000)
	err = p.Validate()
	if n := len(flatten(err)); n > 25 {
		t.Fatalf("%d problems for 75,000 bad entries and 10,000 channels: the list is not bounded", n)
	}
	for _, want := range []string{`to[0]: "junk-0" is not an audience`, "to: 74990 more entries are not audiences", `channels[1]: "sms" is listed twice`, "channels: 9989 more entries are unknown or repeated"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q", want)
		}
	}
}

// TestPostToCap checks the cap on a post's audience: distinct entries
// count, a group counts as one, and the problem names the field and the
// limit.
func TestPostToCap(t *testing.T) {
	to := make([]string, 0, 1200)
	for i := range 1000 {
		to = append(to, fmt.Sprintf("person:p%d", i))
	}
	p := Post{Incident: "x", Text: "t", To: to}
	if err := p.CheckTo(0); err != nil {
		t.Errorf("1,000 entries with the default limit: %v", err)
	}
	p.To = append(slices.Clone(to), to[:200]...) // repeats do not count
	if err := p.CheckTo(DefaultMaxTo); err != nil {
		t.Errorf("1,000 distinct entries and 200 repeats: %v", err)
	}
	p.To = append(slices.Clone(to), "group:everyone-else")
	err := p.CheckTo(0)
	var fe *FieldError
	if !errors.As(err, &fe) || fe.Field != "to" || fe.Message != "names 1001 audience targets; the limit is 1000 (a group counts as one target: name a group rather than its people)" {
		t.Errorf("1,001 entries: %v", err)
	}
	if err := p.CheckTo(5000); err != nil {
		t.Errorf("1,001 entries with a limit of 5,000: %v", err)
	}
}

// TestNewMessageRemovesRepeatedTargets checks that a message keeps each
// audience target once, in the order first given.
func TestNewMessageRemovesRepeatedTargets(t *testing.T) {
	r, err := DecodeRoster(strings.NewReader(goodRoster))
	if err != nil {
		t.Fatal(err)
	}
	plan := Plan{ID: "m1", Author: "bot", Node: "seoul-1", Now: time.Now(), Enabled: []string{ChannelSMS, ChannelEmail},
		Deadline: func(Severity) time.Duration { return time.Hour }}
	p := &Post{Incident: "x", Text: "t", To: []string{"group:oncall", "person:kim", "group:oncall", "person:kim", "everyone", "person:kim"}}
	m, err := NewMessage(p, r, plan)
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"group:oncall", "person:kim", "everyone"}; !slices.Equal(m.To, want) {
		t.Errorf("message to %v, want %v", m.To, want)
	}
	if len(p.To) != 6 {
		t.Errorf("the post itself changed: %v", p.To)
	}
}

func fieldsOf(err error) []string {
	var out []string
	for _, e := range flatten(err) {
		var fe *FieldError
		if errors.As(e, &fe) {
			out = append(out, fe.Field)
		}
	}
	return out
}
