package relay

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func TestPostValidate(t *testing.T) {
	ok := Post{Incident: "db-outage", Text: "DB 장애", To: []string{"group:oncall"}}
	if err := ok.Validate(); err != nil {
		t.Fatalf("valid post refused: %v", err)
	}
	bad := Post{Incident: "DB Outage", Text: "  \n", Severity: "urgent", Channels: []string{"sms", "fax", "sms"}}
	err := bad.Validate()
	want := []string{
		`incident: "DB Outage" must be`,
		"text: is required and must not be blank",
		"to: is required",
		`severity: "urgent" must be one of critical, warning and info`,
		`channels[1]: "fax" is not a channel`,
		`channels[2]: "sms" is listed twice`,
	}
	for _, w := range want {
		if err == nil || !strings.Contains(err.Error(), w) {
			t.Errorf("error lacks %q:\n%v", w, err)
		}
	}
	var fe *FieldError
	if !errors.As(err, &fe) {
		t.Errorf("problems are not *FieldError: %T", err)
	}
	long := ok
	long.Text = strings.Repeat("가", MaxTextBytes/3+1)
	if err := long.Validate(); err == nil || !strings.Contains(err.Error(), "the limit is 65536") {
		t.Errorf("oversized text: %v", err)
	}
	broken := ok
	broken.Text = "\xff\xfe"
	if err := broken.Validate(); err == nil || !strings.Contains(err.Error(), "not valid UTF-8") {
		t.Errorf("invalid UTF-8: %v", err)
	}
}

func TestPostHash(t *testing.T) {
	a := Post{Incident: "x", Text: "t", To: []string{"everyone"}}
	b := a
	b.Severity = DefaultSeverity
	if a.Hash() != b.Hash() {
		t.Error("the default severity changes the hash")
	}
	c := a
	c.Text = "t2"
	if a.Hash() == c.Hash() {
		t.Error("a different text has the same hash")
	}
	if IdempotentMessageID("bot", "k") == IdempotentMessageID("other-bot", "k") {
		t.Error("two authors' keys collide")
	}
}

func TestNewMessage(t *testing.T) {
	r, err := DecodeRoster(strings.NewReader(goodRoster))
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 11, 24, 9, 0, 0, 0, time.UTC)
	plan := Plan{ID: "m1", Author: "bot", Node: "seoul-1", Now: now,
		Enabled:  []string{ChannelSMS, ChannelNATS},
		Deadline: func(s Severity) time.Duration { return map[Severity]time.Duration{SeverityCritical: time.Hour}[s] }}
	m, err := NewMessage(&Post{Incident: "x", Text: "t", To: []string{"everyone"}, Severity: SeverityCritical}, r, plan)
	if err != nil {
		t.Fatal(err)
	}
	// kim prefers sms then email, but this node has no email provider;
	// park has only email, so is unreachable here.
	if len(m.Recipients) != 2 || m.Recipients[0].Person.ID != "kim" || strings.Join(m.Recipients[0].Channels, ",") != "sms" {
		t.Errorf("recipients = %+v", m.Recipients)
	}
	if strings.Join(m.Unreachable, ",") != "park" {
		t.Errorf("unreachable = %v, want [park]", m.Unreachable)
	}
	if strings.Join(m.Broadcasts, ",") != "nats" {
		t.Errorf("broadcasts = %v, want [nats]", m.Broadcasts)
	}
	if !m.Deadline.Equal(now.Add(time.Hour)) {
		t.Errorf("deadline = %v", m.Deadline)
	}
	if got := len(m.Deliveries()); got != 3 {
		t.Errorf("%d deliveries, want 3", got)
	}

	// A requested channel limits every person; one without a provider is refused.
	m, err = NewMessage(&Post{Incident: "x", Text: "t", To: []string{"group:oncall"}, Channels: []string{"nats"}}, r, plan)
	if err != nil || len(m.Recipients) != 0 || len(m.Broadcasts) != 1 {
		t.Errorf("nats-only post: %+v, %v", m, err)
	}
	_, err = NewMessage(&Post{Incident: "x", Text: "t", To: []string{"everyone"}, Channels: []string{"email"}}, r, plan)
	if err == nil || !strings.Contains(err.Error(), `channels[0]: "email" has no provider configured on this node`) {
		t.Errorf("channel without provider: %v", err)
	}
	_, err = NewMessage(&Post{Incident: "x", Text: "t", To: []string{"person:kim", "group:ghosts"}}, r, plan)
	var fe *FieldError
	if !errors.As(err, &fe) || fe.Field != "to[1]" {
		t.Errorf("unknown group: %v", err)
	}
}
