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
	if IdempotentMessageID(ViaAPI, "bot", "k") == IdempotentMessageID(ViaAPI, "other-bot", "k") {
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

func TestNewMessageFollowsPolicy(t *testing.T) {
	r := &Roster{People: []Person{{ID: "kim", Phone: "+821012345678", Email: "kim@example.com",
		Channels: []string{ChannelVoice, ChannelSMS, ChannelEmail}}}}
	plan := Plan{ID: "m1", Author: "bot", Node: "seoul-1", Now: time.Now(),
		Enabled:  []string{ChannelSMS, ChannelVoice, ChannelEmail},
		Deadline: func(Severity) time.Duration { return time.Hour }}
	for _, tc := range []struct {
		sev      Severity
		mode     Mode
		channels string
	}{
		// Calls are for critical messages; the rest fall back from
		// channel to channel.
		{SeverityCritical, ModeAll, "voice,sms,email"},
		{SeverityWarning, ModeFallback, "sms,email"},
		{SeverityInfo, ModeFallback, "sms,email"},
	} {
		m, err := NewMessage(&Post{Incident: "x", Text: "t", To: []string{"everyone"}, Severity: tc.sev}, r, plan)
		if err != nil {
			t.Fatal(err)
		}
		if m.Mode != tc.mode || m.UnconfirmedAfter != DefaultPolicies()[tc.sev].UnconfirmedAfter ||
			strings.Join(m.Recipients[0].Channels, ",") != tc.channels {
			t.Errorf("%s: mode %s, unconfirmed after %v, channels %v; want %s on %s", tc.sev, m.Mode,
				m.UnconfirmedAfter, m.Recipients[0].Channels, tc.mode, tc.channels)
		}
	}
	_, err := NewMessage(&Post{Incident: "x", Text: "t", To: []string{"everyone"}, Severity: SeverityInfo, Channels: []string{"voice"}}, r, plan)
	var fe *FieldError
	if !errors.As(err, &fe) || fe.Field != "channels[0]" || !strings.Contains(fe.Message, "not used for info messages by policy") {
		t.Errorf("a call for an info message: %v", err)
	}
	plan.Policies = Policies{SeverityWarning: {Mode: ModeAll, UnconfirmedAfter: time.Minute, Channels: []string{ChannelEmail}}}
	m, err := NewMessage(&Post{Incident: "x", Text: "t", To: []string{"everyone"}, Severity: SeverityWarning}, r, plan)
	if err != nil || m.Mode != ModeAll || strings.Join(m.Recipients[0].Channels, ",") != "email" {
		t.Errorf("configured warning policy: %+v, %v", m, err)
	}
}

func TestReopenedRoundOutranksFinalStatus(t *testing.T) {
	d := &Delivery{ID: "m.voice.kim"}
	at := time.Now()
	steps := []DeliveryChange{
		{Status: StatusSending, Attempt: 1, At: at},
		{Status: StatusFailed, Attempt: 1, Error: "call busy", At: at},
		{Status: StatusPending, Round: 1, Attempt: 1, At: at},
		{Status: StatusSending, Round: 1, Attempt: 2, At: at},
	}
	for i := range steps {
		d.Apply(&steps[i], uint64(i+1), "seoul")
	}
	if d.Status != StatusSending || d.Round != 1 || d.Attempts != 2 {
		t.Fatalf("after reopening: %s round %d attempts %d", d.Status, d.Round, d.Attempts)
	}
	// A round-0 change arriving late (replicated from a peer) is ignored.
	if d.Apply(&DeliveryChange{Status: StatusSent, Attempt: 1, At: at}, 99, "busan") && d.Status != StatusSending {
		t.Fatalf("a round-0 change applied over round 1: %s", d.Status)
	}
	if d.Status != StatusSending {
		t.Fatalf("status %s, want sending", d.Status)
	}
}
