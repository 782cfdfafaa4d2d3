package relay

import (
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/oob-relay/relay/relay/hlc"
)

// Event is one immutable entry of the replicated log. State (messages,
// deliveries, incidents, the roster) is folded from events, so replicas
// that hold the same events hold the same state, whatever order the events
// arrived in.
//
// (Origin, Seq) identifies an event: Origin is the writing node's
// incarnation (a new one each time a node starts on an empty data dir) and
// Seq counts that origin's events from 1 without gaps.
type Event struct {
	Origin string        `json:"origin"`
	Seq    uint64        `json:"seq"`
	Clock  hlc.Timestamp `json:"clock"`
	// Node is the name of the node that wrote the event.
	Node string `json:"node"`
	// Sig is Node's signature of the event (SigningBytes), by its node
	// key (see package trust); empty on a node that signs nothing.
	Sig []byte `json:"sig,omitempty"`

	// Exactly one of the following is set.
	Message    *Message         `json:"message,omitempty"`
	Deliveries []DeliveryChange `json:"deliveries,omitempty"`
	Roster     *RosterChange    `json:"roster,omitempty"`
	Ack        *Ack             `json:"ack,omitempty"`
	Consent    *Consent         `json:"consent,omitempty"`
	Seen       *Seen            `json:"seen,omitempty"`
	Override   *OverrideChange  `json:"override,omitempty"`
	// RollCall starts a roll-call; RollCallAnswer is one person's answer.
	RollCall       *RollCall       `json:"rollcall,omitempty"`
	RollCallAnswer *RollCallAnswer `json:"rollcall_answer,omitempty"`
	Escalated      *Escalated      `json:"escalated,omitempty"`
	// Code is a step of a one-time code; Revoke ends console sessions;
	// Audit is an entry of the audit trail.
	Code         *CodeEvent    `json:"code,omitempty"`
	Revoke       *Revocation   `json:"revoke,omitempty"`
	Audit        *AuditEntry   `json:"audit,omitempty"`
	Site         *NodeSite     `json:"site,omitempty"`
	WatchReport  *WatchReport  `json:"watch_report,omitempty"`
	Beat         *Beat         `json:"beat,omitempty"`
	WatchVerdict *WatchVerdict `json:"watch_verdict,omitempty"`
	// Contact is a person's own change of a phone or email (contacts.go).
	Contact *ContactChange `json:"contact,omitempty"`
	Drill   *Drill         `json:"drill,omitempty"`
	Canary  *Canary        `json:"canary,omitempty"`
}

// OverrideChange adds an override to a schedule, or removes one, over
// the applied roster: a later roster replaces the file's schedules but
// not these. An added override is kept until removed (Remove names its
// id), and a removal wins over the addition whatever order they arrive
// in; ids are never reused.
type OverrideChange struct {
	Schedule string `json:"schedule"`
	// Exactly one of Add and Remove is set.
	Add    *Override `json:"add,omitempty"`
	Remove string    `json:"remove,omitempty"`
	By     string    `json:"by"`
}

// Consent records that a person asked a channel to stop (STOP) or start
// again (START). Carriers stop delivering SMS to a number that sent STOP,
// so relay shows it to admins rather than failing silently. The change
// with the latest clock wins.
type Consent struct {
	Person  string `json:"person"`
	Channel string `json:"channel"`
	// Address is the number or address that asked.
	Address string    `json:"address"`
	Stopped bool      `json:"stopped"`
	At      time.Time `json:"at"`
}

// Ack is a person's acknowledgement of a message: they pressed 1 on a
// call, or answered ACK. The earliest acknowledgement of a message by a
// person is the one kept.
type Ack struct {
	Message  string `json:"message"`
	Incident string `json:"incident"`
	Person   string `json:"person"`
	// Channel is how it came: voice, sms, email or nats.
	Channel string `json:"channel"`
	// Delivery is the delivery answered, when known.
	Delivery string    `json:"delivery,omitempty"`
	At       time.Time `json:"at"`
}

// RosterChange replaces the roster. The change with the latest clock wins.
type RosterChange struct {
	Roster Roster `json:"roster"`
	By     string `json:"by"`
}

// SigningBytes returns what the node that writes an event signs: the
// event's JSON without its signature. Events hold no maps and their
// strings are valid UTF-8, so the bytes are the same wherever they are
// computed from the same event.
func (e *Event) SigningBytes() ([]byte, error) {
	c := *e
	c.Sig = nil
	return json.Marshal(&c)
}

// Kind names the event's payload, for logs and metrics.
func (e *Event) Kind() string {
	switch {
	case e.Message != nil:
		return "message"
	case e.Deliveries != nil:
		return "deliveries"
	case e.Roster != nil:
		return "roster"
	case e.Ack != nil:
		return "ack"
	case e.Consent != nil:
		return "consent"
	case e.Seen != nil:
		return "seen"
	case e.Override != nil:
		return "override"
	case e.RollCall != nil:
		return "rollcall"
	case e.RollCallAnswer != nil:
		return "rollcall_answer"
	case e.Escalated != nil:
		return "escalated"
	case e.Code != nil:
		return "code"
	case e.Revoke != nil:
		return "revoke"
	case e.Audit != nil:
		return "audit"
	case e.Site != nil:
		return "site"
	case e.WatchReport != nil:
		return "watch_report"
	case e.Beat != nil:
		return "beat"
	case e.WatchVerdict != nil:
		return "watch_verdict"
	case e.Contact != nil:
		return "contact"
	case e.Drill != nil:
		return "drill"
	case e.Canary != nil:
		return "canary"
	}
	return "empty"
}

// Check reports what is wrong with an event received from elsewhere.
func (e *Event) Check() error {
	if e.Origin == "" || e.Seq == 0 {
		return fmt.Errorf("event has no origin or sequence (origin %q, seq %d)", e.Origin, e.Seq)
	}
	n := 0
	if e.Message != nil {
		n++
		if e.Message.ID == "" || e.Message.Incident == "" {
			return fmt.Errorf("event %s/%d: message without id or incident", e.Origin, e.Seq)
		}
		if x := e.Message.Escalation; x != nil {
			if err := x.Check(); err != nil {
				return fmt.Errorf("event %s/%d: %w", e.Origin, e.Seq, err)
			}
		}
	}
	if e.Deliveries != nil {
		n++
		for i := range e.Deliveries {
			if e.Deliveries[i].ID == "" {
				return fmt.Errorf("event %s/%d: delivery change %d has no id", e.Origin, e.Seq, i)
			}
		}
	}
	if e.Roster != nil {
		n++
	}
	if e.Ack != nil {
		n++
		if e.Ack.Message == "" || e.Ack.Person == "" {
			return fmt.Errorf("event %s/%d: acknowledgement without message or person", e.Origin, e.Seq)
		}
	}
	if e.Consent != nil {
		n++
		if e.Consent.Person == "" || e.Consent.Channel == "" {
			return fmt.Errorf("event %s/%d: consent without person or channel", e.Origin, e.Seq)
		}
	}
	if e.Seen != nil {
		n++
		if err := e.Seen.Check(); err != nil {
			return fmt.Errorf("event %s/%d: %w", e.Origin, e.Seq, err)
		}
	}
	if o := e.Override; o != nil {
		n++
		if o.Schedule == "" || (o.Add == nil) == (o.Remove == "") || (o.Add != nil && (o.Add.ID == "" || o.Add.Person == "")) {
			return fmt.Errorf("event %s/%d: override change without schedule, or without exactly one of an added override (with id and person) and a removed id", e.Origin, e.Seq)
		}
	}
	if e.RollCall != nil {
		n++
		if e.RollCall.ID == "" || e.RollCall.Incident == "" || e.RollCall.Message == "" {
			return fmt.Errorf("event %s/%d: roll-call without id, incident or message", e.Origin, e.Seq)
		}
	}
	if e.RollCallAnswer != nil {
		n++
		if e.RollCallAnswer.RollCall == "" || e.RollCallAnswer.Person == "" {
			return fmt.Errorf("event %s/%d: roll-call answer without roll-call or person", e.Origin, e.Seq)
		}
	}
	if e.Escalated != nil {
		n++
		if err := e.Escalated.check(); err != nil {
			return fmt.Errorf("event %s/%d: %w", e.Origin, e.Seq, err)
		}
	}
	for _, p := range []struct {
		set   bool
		check func() error
	}{
		{e.Code != nil, func() error { return e.Code.Check() }},
		{e.Revoke != nil, func() error { return e.Revoke.Check() }},
		{e.Audit != nil, func() error { return e.Audit.Check() }},
		{e.Site != nil, func() error { return e.Site.Check() }},
		{e.WatchReport != nil, func() error { return e.WatchReport.Check() }},
		{e.Beat != nil, func() error { return e.Beat.Check() }},
		{e.WatchVerdict != nil, func() error { return e.WatchVerdict.Check() }},
		{e.Contact != nil, func() error { return e.Contact.Check() }},
		{e.Drill != nil, func() error { return e.Drill.check() }},
		{e.Canary != nil, func() error { return e.Canary.check() }},
	} {
		if p.set {
			n++
			if err := p.check(); err != nil {
				return fmt.Errorf("event %s/%d: %w", e.Origin, e.Seq, err)
			}
		}
	}
	if n != 1 {
		return fmt.Errorf("event %s/%d: has %d payloads, want exactly one", e.Origin, e.Seq, n)
	}
	return nil
}

// ErrNotFound is returned by lookups of things that do not exist.
var ErrNotFound = errors.New("not found")
