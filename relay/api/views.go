package api

import (
	"time"

	"github.com/oob-relay/relay/relay"
)

// Accepted is the answer to a post.
type Accepted struct {
	ID       string `json:"id"`
	Incident string `json:"incident"`
	// Recipients counts the people who get the message on at least one
	// channel; Deliveries counts (person, channel) deliveries plus
	// broadcasts.
	Recipients  int       `json:"recipients"`
	Deliveries  int       `json:"deliveries"`
	Unreachable []string  `json:"unreachable"`
	Severity    string    `json:"severity"`
	AcceptedAt  time.Time `json:"accepted_at"`
	AcceptedBy  string    `json:"accepted_by"`
	Deadline    time.Time `json:"deadline"`
	// Copies counts the nodes holding the message on disk when it was
	// accepted; OnlyCopy is true when that was this node alone.
	Copies   int  `json:"copies,omitempty"`
	OnlyCopy bool `json:"only_copy,omitempty"`
}

func acceptedView(m *relay.Message) Accepted {
	return Accepted{
		ID: m.ID, Incident: m.Incident,
		Recipients: len(m.Recipients), Deliveries: len(m.Deliveries()),
		Unreachable: nonNil(m.Unreachable), Severity: string(m.Severity),
		AcceptedAt: m.AcceptedAt, AcceptedBy: m.AcceptedBy, Deadline: m.Deadline,
	}
}

// MessageView is a message with every delivery.
type MessageView struct {
	ID          string         `json:"id"`
	Incident    string         `json:"incident"`
	Text        string         `json:"text"`
	Severity    string         `json:"severity"`
	Author      string         `json:"author"`
	To          []string       `json:"to"`
	Channels    []string       `json:"channels,omitempty"`
	Recipients  []RecipientRef `json:"recipients"`
	Unreachable []string       `json:"unreachable"`
	AcceptedAt  time.Time      `json:"accepted_at"`
	AcceptedBy  string         `json:"accepted_by"`
	Deadline    time.Time      `json:"deadline"`
	// Mode and UnconfirmedAfterSeconds are the severity's policy when the
	// message was accepted.
	Mode                    relay.Mode `json:"mode,omitempty"`
	UnconfirmedAfterSeconds int64      `json:"unconfirmed_after_seconds,omitempty"`
	// Summary counts deliveries by status; Settled is true once none is
	// pending or sending.
	Summary    map[relay.Status]int `json:"summary"`
	Settled    bool                 `json:"settled"`
	Deliveries []DeliveryView       `json:"deliveries"`
	// Acks lists who acknowledged the message, earliest per person.
	Acks []AckView `json:"acks"`
	// Escalation is where the escalation stands, for a message posted to
	// an escalation policy.
	Escalation *relay.EscalationProgress `json:"escalation,omitempty"`
}

// AckView is one person's acknowledgement.
type AckView struct {
	Person  string    `json:"person"`
	Channel string    `json:"channel"`
	At      time.Time `json:"at"`
}

// RecipientRef names a recipient and the channels they get the message on.
type RecipientRef struct {
	Person   string   `json:"person"`
	Name     string   `json:"name,omitempty"`
	Channels []string `json:"channels"`
	// Path is the person's deliveries in their channel order: the way the
	// message took to them.
	Path []Step `json:"path"`
	// ReachedBy is the first channel of the path that confirmed the
	// message (delivered, or sent on a channel without receipts), if any.
	ReachedBy string `json:"reached_by,omitempty"`
}

// Step is one channel of a person's path.
type Step struct {
	Channel     string       `json:"channel"`
	Status      relay.Status `json:"status"`
	Attempts    int          `json:"attempts"`
	Provider    string       `json:"provider,omitempty"`
	Unconfirmed bool         `json:"unconfirmed,omitempty"`
	Error       string       `json:"error,omitempty"`
}

// DeliveryView is one delivery's state.
type DeliveryView struct {
	ID         string       `json:"id"`
	Person     string       `json:"person,omitempty"`
	Channel    string       `json:"channel"`
	Status     relay.Status `json:"status"`
	Attempts   int          `json:"attempts"`
	Provider   string       `json:"provider,omitempty"`
	ProviderID string       `json:"provider_id,omitempty"`
	Segments   int          `json:"segments,omitempty"`
	// ProviderSegments is the provider's count of SMS parts when it
	// differs from relay's own (Segments).
	ProviderSegments int          `json:"provider_segments,omitempty"`
	Error            string       `json:"error,omitempty"`
	Reason           relay.Reason `json:"reason,omitempty"`
	Code             string       `json:"code,omitempty"`
	Node             string       `json:"node,omitempty"`
	CreatedAt        time.Time    `json:"created_at"`
	UpdatedAt        time.Time    `json:"updated_at"`
	NextAttemptAt    *time.Time   `json:"next_attempt_at,omitempty"`
	StartedAt        *time.Time   `json:"started_at,omitempty"`
	SentAt           *time.Time   `json:"sent_at,omitempty"`
	// Round counts the times the delivery was reopened (a busy or
	// unanswered call called again).
	Round int `json:"round,omitempty"`
	// Unconfirmed is true for an SMS or call sent longer ago than the
	// message's unconfirmed time without a receipt.
	Unconfirmed bool `json:"unconfirmed,omitempty"`
}

func messageView(m *relay.Message, ds []relay.Delivery, acks []relay.Ack, now time.Time) MessageView {
	v := MessageView{
		ID: m.ID, Incident: m.Incident, Text: m.Text, Severity: string(m.Severity), Author: m.Author,
		To: m.To, Channels: m.Channels, Unreachable: nonNil(m.Unreachable),
		AcceptedAt: m.AcceptedAt, AcceptedBy: m.AcceptedBy, Deadline: m.Deadline,
		Mode: m.Mode, UnconfirmedAfterSeconds: int64(m.UnconfirmedAfter / time.Second),
		Summary: map[relay.Status]int{}, Settled: true,
		Recipients: make([]RecipientRef, 0, len(m.Recipients)),
		Deliveries: make([]DeliveryView, 0, len(ds)),
		Acks:       make([]AckView, 0, len(acks)),
	}
	for _, a := range acks {
		v.Acks = append(v.Acks, AckView{Person: a.Person, Channel: a.Channel, At: a.At})
	}
	byID := make(map[string]*relay.Delivery, len(ds))
	for i := range ds {
		byID[ds[i].ID] = &ds[i]
	}
	for _, r := range m.Recipients {
		v.Recipients = append(v.Recipients, recipientView(m, &r, byID, now))
	}
	for i := range ds {
		v.Deliveries = append(v.Deliveries, deliveryView(m, &ds[i], now))
		v.Summary[ds[i].Status]++
		if !ds[i].Status.Settled() {
			v.Settled = false
		}
	}
	return v
}

func recipientView(m *relay.Message, r *relay.Recipient, byID map[string]*relay.Delivery, now time.Time) RecipientRef {
	ref := RecipientRef{Person: r.Person.ID, Name: r.Person.Name, Channels: r.Channels, Path: make([]Step, 0, len(r.Channels))}
	for _, ch := range r.Channels {
		d, ok := byID[relay.DeliveryID(m.ID, ch, r.Person.ID)]
		if !ok {
			ref.Path = append(ref.Path, Step{Channel: ch, Status: relay.StatusPending})
			continue
		}
		ref.Path = append(ref.Path, Step{Channel: ch, Status: d.Status, Attempts: d.Attempts, Provider: d.Provider,
			Unconfirmed: unconfirmed(m, d, now), Error: d.Error})
		if ref.ReachedBy == "" && (d.Status == relay.StatusDelivered || (d.Status == relay.StatusSent && !relay.ReportsReceipts(ch))) {
			ref.ReachedBy = ch
		}
	}
	return ref
}

// unconfirmed reports whether d is an SMS or call sent without a receipt
// for longer than the message's unconfirmed time.
func unconfirmed(m *relay.Message, d *relay.Delivery, now time.Time) bool {
	return m.UnconfirmedAfter > 0 && d.Status == relay.StatusSent && relay.ReportsReceipts(d.Channel) &&
		!d.StartedAt.IsZero() && !now.Before(d.StartedAt.Add(m.UnconfirmedAfter))
}

func deliveryView(m *relay.Message, d *relay.Delivery, now time.Time) DeliveryView {
	v := DeliveryView{
		ID: d.ID, Person: d.Person, Channel: d.Channel, Status: d.Status, Attempts: d.Attempts,
		Provider: d.Provider, ProviderID: d.ProviderID, Segments: d.Segments, ProviderSegments: d.ProviderSegments,
		Error: d.Error, Reason: d.Reason, Code: d.Code, Node: d.Owner,
		CreatedAt: d.CreatedAt, UpdatedAt: d.UpdatedAt, Round: d.Round, Unconfirmed: unconfirmed(m, d, now),
	}
	if !d.StartedAt.IsZero() {
		t := d.StartedAt
		v.StartedAt = &t
	}
	if !d.NextAttemptAt.IsZero() && !d.Status.Settled() {
		t := d.NextAttemptAt
		v.NextAttemptAt = &t
	}
	if !d.SentAt.IsZero() {
		t := d.SentAt
		v.SentAt = &t
	}
	return v
}

// IncidentView is an incident with its timeline and who acknowledged it.
type IncidentView struct {
	relay.Incident
	Timeline []TimelineEntry `json:"timeline"`
	// Acknowledged lists each person's first acknowledgement of any of
	// the incident's messages, earliest first.
	Acknowledged []IncidentAck `json:"acknowledged"`
	// NotAcknowledged lists the people the incident's messages went to
	// who have acknowledged none of them, by id.
	NotAcknowledged []string `json:"not_acknowledged"`
	// Stopped lists the people in the incident who asked a channel to
	// stop (an SMS STOP): carriers refuse that channel until they send
	// START.
	Stopped []relay.Consent `json:"stopped"`
	// RollCalls are the incident's roll-calls with their counts.
	RollCalls []RollCallSummary `json:"rollcalls"`
}

// IncidentAck is one person's first acknowledgement in an incident.
type IncidentAck struct {
	Person  string    `json:"person"`
	At      time.Time `json:"at"`
	Channel string    `json:"channel"`
	Message string    `json:"message"`
}

// TimelineEntry is one message of an incident's timeline.
type TimelineEntry struct {
	At       time.Time            `json:"at"`
	Message  string               `json:"message"`
	Author   string               `json:"author"`
	Severity string               `json:"severity"`
	Text     string               `json:"text"`
	Summary  map[relay.Status]int `json:"summary"`
	// Acks counts the people who acknowledged this message.
	Acks int `json:"acks"`
	// Withheld, on a person's reply that reached nobody, says why:
	// automatic, repeat, or held (sent on later in a summary).
	Withheld relay.Withheld `json:"withheld,omitempty"`
	// Summarises lists, on a summary, the held replies it sent on.
	Summarises []string `json:"summarises,omitempty"`
	// Escalation is where the message's escalation stands, for a
	// message posted to an escalation policy.
	Escalation *relay.EscalationProgress `json:"escalation,omitempty"`
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}
