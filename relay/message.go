package relay

import (
	"fmt"
	"time"
)

// Severity ranks a message. It picks the delivery deadline and, later, the
// per-person channel policy.
type Severity string

// Severities, most urgent first.
const (
	SeverityCritical Severity = "critical"
	SeverityWarning  Severity = "warning"
	SeverityInfo     Severity = "info"
)

// Severities lists every severity, most urgent first.
var Severities = []Severity{SeverityCritical, SeverityWarning, SeverityInfo}

// Valid reports whether s is one of Severities.
func (s Severity) Valid() bool {
	return s == SeverityCritical || s == SeverityWarning || s == SeverityInfo
}

// Priority orders deliveries inside a channel's queue: a higher priority
// is sent before any lower one that is due.
type Priority int

// Priorities.
const (
	PriorityNormal Priority = 0
	PriorityHigh   Priority = 1
)

// MaxTextBytes bounds a message's text.
const MaxTextBytes = 64 << 10

// Message is one incident message as accepted, with its audience resolved
// at that moment. It never changes after acceptance.
type Message struct {
	ID       string   `json:"id"`
	Incident string   `json:"incident"`
	Text     string   `json:"text"`
	Severity Severity `json:"severity"`
	// Author names who posted it: an API token's name or a person id.
	Author string `json:"author"`
	// To is the audience as requested; Recipients is what it resolved to.
	To []string `json:"to"`
	// Channels restricts the channels used, as requested; empty means every
	// channel each person has.
	Channels   []string    `json:"channels,omitempty"`
	Recipients []Recipient `json:"recipients"`
	// Broadcasts lists the broadcast channels (NATS) this message goes out on.
	Broadcasts []string `json:"broadcasts,omitempty"`
	// Unreachable lists people in the audience with no channel left to try.
	Unreachable []string `json:"unreachable,omitempty"`
	Priority    Priority `json:"priority,omitempty"`
	// Mode and UnconfirmedAfter are the severity's policy when the message
	// was accepted; every node follows them, whatever its own config.
	Mode             Mode          `json:"mode,omitempty"`
	UnconfirmedAfter time.Duration `json:"unconfirmed_after,omitempty"`
	AcceptedAt       time.Time     `json:"accepted_at"`
	AcceptedBy       string        `json:"accepted_by"`
	Deadline         time.Time     `json:"deadline"`
	// IdempotencyKey and RequestHash let a retried post find this message.
	IdempotencyKey string `json:"idempotency_key,omitempty"`
	RequestHash    string `json:"request_hash,omitempty"`
	// Reply is set on a message made from a person's reply, or a summary
	// of their held replies: how it came, and why it reached nobody if
	// it was withheld.
	Reply *ReplyInfo `json:"reply,omitempty"`
	// RollCall is the id of the roll-call whose question (or re-ping)
	// the message is: a call reading it asks for the answer's key.
	RollCall string `json:"rollcall,omitempty"`
	// Escalation is set on a message posted to an escalation policy:
	// the policy as the message follows it. Recipients are its first
	// step's audience; the people later steps notify are added by
	// Escalated events.
	Escalation *EscalationPlan `json:"escalation,omitempty"`
	// Drill is the id of the drill whose message this is: every channel
	// marks it as a drill (DrillMarker).
	Drill string `json:"drill,omitempty"`
}

// Recipient is one person of a message's audience, as the roster described
// them when the message was accepted, and the channels they get it on.
type Recipient struct {
	Person   Person   `json:"person"`
	Channels []string `json:"channels"`
}

// DeliveryID names the delivery of message msgID to person on channel.
// Broadcast deliveries have no person.
func DeliveryID(msgID, channel, person string) string {
	if person == "" {
		return msgID + "." + channel
	}
	return msgID + "." + channel + "." + person
}

// Deliveries lists the deliveries a message makes, recipients first.
func (m *Message) Deliveries() []DeliveryRef {
	out := make([]DeliveryRef, 0, len(m.Recipients)*2+len(m.Broadcasts))
	for _, r := range m.Recipients {
		for _, ch := range r.Channels {
			out = append(out, DeliveryRef{ID: DeliveryID(m.ID, ch, r.Person.ID), Person: r.Person.ID, Channel: ch})
		}
	}
	for _, ch := range m.Broadcasts {
		out = append(out, DeliveryRef{ID: DeliveryID(m.ID, ch, ""), Channel: ch})
	}
	return out
}

// Recipient returns the recipient with the given person id.
func (m *Message) Recipient(personID string) (*Recipient, bool) {
	for i := range m.Recipients {
		if m.Recipients[i].Person.ID == personID {
			return &m.Recipients[i], true
		}
	}
	return nil, false
}

// DeliveryRef names one delivery of a message.
type DeliveryRef struct {
	ID      string `json:"id"`
	Person  string `json:"person,omitempty"`
	Channel string `json:"channel"`
}

// Status is where a delivery stands.
type Status string

// Delivery statuses. A delivery starts pending, is sending while an
// attempt is under way, goes back to pending (with its last error and the
// time of its next attempt) after a temporary failure, and ends sent,
// delivered (the provider confirmed arrival), failed, or skipped (a
// fallback channel that was not needed: the person was reached before it
// was its turn).
const (
	StatusPending   Status = "pending"
	StatusSending   Status = "sending"
	StatusSent      Status = "sent"
	StatusDelivered Status = "delivered"
	StatusFailed    Status = "failed"
	StatusSkipped   Status = "skipped"
)

// Statuses lists every status.
var Statuses = []Status{StatusPending, StatusSending, StatusSent, StatusDelivered, StatusFailed, StatusSkipped}

// Settled reports whether the engine has nothing left to do for a delivery
// in this status.
func (s Status) Settled() bool {
	return s == StatusSent || s.Final()
}

// Final reports whether no later change can follow, short of a reopened
// round (see DeliveryChange.Round).
func (s Status) Final() bool { return s == StatusDelivered || s == StatusFailed || s == StatusSkipped }

// class ranks statuses above attempts: a settled delivery is never
// reopened by a change from an older or concurrent attempt, and a final
// receipt (delivered, failed) overrides sent.
func class(s Status) int {
	switch s {
	case StatusSent:
		return 1
	case StatusDelivered, StatusFailed, StatusSkipped:
		return 2
	}
	return 0
}

// phase orders statuses within one attempt. A pending after an attempt
// (waiting to retry) follows that attempt's sending.
func phase(s Status, attempt int) int {
	switch s {
	case StatusPending:
		if attempt > 0 {
			return 2
		}
		return 0
	case StatusSending:
		return 1
	case StatusSent:
		return 3
	case StatusDelivered, StatusFailed, StatusSkipped:
		return 4
	}
	return -1
}

// Delivery is the state of one (message, person, channel), folded from its
// changes.
type Delivery struct {
	ID        string   `json:"id"`
	MessageID string   `json:"message"`
	Incident  string   `json:"incident"`
	Person    string   `json:"person,omitempty"`
	Channel   string   `json:"channel"`
	Priority  Priority `json:"priority,omitempty"`
	Status    Status   `json:"status"`
	// Attempts counts attempts started.
	Attempts int `json:"attempts"`
	// Round counts reopenings: a call that was busy or not answered is
	// reopened for another attempt in a new round.
	Round      int    `json:"round,omitempty"`
	Provider   string `json:"provider,omitempty"`
	ProviderID string `json:"provider_id,omitempty"`
	// Segments is relay's count of the SMS parts sent; ProviderSegments
	// the provider's, when it differs.
	Segments         int    `json:"segments,omitempty"`
	ProviderSegments int    `json:"provider_segments,omitempty"`
	Error            string `json:"error,omitempty"`
	Reason           Reason `json:"reason,omitempty"`
	Code             string `json:"code,omitempty"`
	// Owner is the node that made the latest attempt.
	Owner         string    `json:"owner,omitempty"`
	CreatedAt     time.Time `json:"created_at"`
	UpdatedAt     time.Time `json:"updated_at"`
	NextAttemptAt time.Time `json:"next_attempt_at,omitzero"`
	// StartedAt is when the first attempt began; SentAt when the first
	// attempt was sent.
	StartedAt time.Time `json:"started_at,omitzero"`
	SentAt    time.Time `json:"sent_at,omitzero"`
	Deadline  time.Time `json:"deadline"`

	// Version is the (attempt, phase, clock, origin) of the change that
	// set this state; later changes must be greater to apply.
	Version Version `json:"version"`
	// Source is the (clock, origin) of the message acceptance that set
	// the fields only a message knows; the earliest acceptance wins.
	Source Version `json:"source"`
}

// Version orders the changes of one delivery: by round, class (open,
// sent, final), attempt, phase within the attempt, then the clock and
// origin of the event, which makes it a total order. A change applies only
// when its version is greater, so replicas that see the same changes in
// any order agree.
type Version struct {
	Round   int    `json:"r,omitempty"`
	Class   int    `json:"k"`
	Attempt int    `json:"a"`
	Phase   int    `json:"p"`
	Clock   uint64 `json:"c"`
	Origin  string `json:"o"`
}

// Less reports whether v sorts before w.
func (v Version) Less(w Version) bool {
	if v.Round != w.Round {
		return v.Round < w.Round
	}
	if v.Class != w.Class {
		return v.Class < w.Class
	}
	if v.Attempt != w.Attempt {
		return v.Attempt < w.Attempt
	}
	if v.Phase != w.Phase {
		return v.Phase < w.Phase
	}
	if v.Clock != w.Clock {
		return v.Clock < w.Clock
	}
	return v.Origin < w.Origin
}

// DeliveryChange is one recorded step of a delivery.
type DeliveryChange struct {
	ID      string `json:"id"`
	Status  Status `json:"status"`
	Attempt int    `json:"attempt"`
	// Round is the delivery's round; a change opening a new round (a
	// pending with the round raised) reopens a final delivery, and every
	// change of an older round is then ignored.
	Round      int    `json:"round,omitempty"`
	Provider   string `json:"provider,omitempty"`
	ProviderID string `json:"provider_id,omitempty"`
	Segments   int    `json:"segments,omitempty"`
	// ProviderSegments is the provider's count of SMS parts when it
	// differs from Segments.
	ProviderSegments int       `json:"provider_segments,omitempty"`
	Error            string    `json:"error,omitempty"`
	Reason           Reason    `json:"reason,omitempty"`
	Code             string    `json:"code,omitempty"`
	Owner            string    `json:"owner,omitempty"`
	At               time.Time `json:"at"`
	NextAt           time.Time `json:"next_at,omitzero"`
}

// Apply folds change c, written at clock by origin, into d. It reports
// whether d changed. The status and its details come from the change with
// the greatest Version alone, so a change must carry every detail it means
// to keep (a receipt repeats the provider and its id). Attempts is the
// most attempts any change reports and SentAt the earliest send: both
// commute. Folding is therefore idempotent and order-independent.
func (d *Delivery) Apply(c *DeliveryChange, clock uint64, origin string) bool {
	changed := false
	if c.Attempt > d.Attempts {
		d.Attempts, changed = c.Attempt, true
	}
	if c.Status == StatusSent && (d.SentAt.IsZero() || c.At.Before(d.SentAt)) {
		d.SentAt, changed = c.At, true
	}
	if c.Status == StatusSending && (d.StartedAt.IsZero() || c.At.Before(d.StartedAt)) {
		d.StartedAt, changed = c.At, true
	}
	v := Version{Round: c.Round, Class: class(c.Status), Attempt: c.Attempt, Phase: phase(c.Status, c.Attempt), Clock: clock, Origin: origin}
	if v.Phase < 0 || !d.Version.Less(v) {
		return changed
	}
	d.Version = v
	d.Status = c.Status
	d.Round = c.Round
	d.Provider, d.ProviderID, d.Segments, d.ProviderSegments = c.Provider, c.ProviderID, c.Segments, c.ProviderSegments
	d.Error, d.Reason, d.Code = c.Error, c.Reason, c.Code
	d.Owner = c.Owner
	d.UpdatedAt = c.At
	d.NextAttemptAt = c.NextAt
	return true
}

// Incident groups the messages about one event.
type Incident struct {
	ID            string    `json:"id"`
	OpenedAt      time.Time `json:"opened_at"`
	OpenedBy      string    `json:"opened_by"`
	LastMessageAt time.Time `json:"last_message_at"`
	Messages      int       `json:"messages"`
	// Severity is the most urgent severity any of its messages had.
	Severity Severity `json:"severity"`
}

// ValidIncidentID reports why id cannot name an incident, or nil.
func ValidIncidentID(id string) error {
	if !ValidID(id) {
		return fmt.Errorf("%q %s", id, errBadID)
	}
	return nil
}
