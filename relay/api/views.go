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
	// Summary counts deliveries by status; Settled is true once none is
	// pending or sending.
	Summary    map[relay.Status]int `json:"summary"`
	Settled    bool                 `json:"settled"`
	Deliveries []DeliveryView       `json:"deliveries"`
	// Acks lists who acknowledged the message, earliest per person.
	Acks []AckView `json:"acks"`
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
}

// DeliveryView is one delivery's state.
type DeliveryView struct {
	ID            string       `json:"id"`
	Person        string       `json:"person,omitempty"`
	Channel       string       `json:"channel"`
	Status        relay.Status `json:"status"`
	Attempts      int          `json:"attempts"`
	Provider      string       `json:"provider,omitempty"`
	ProviderID    string       `json:"provider_id,omitempty"`
	Segments      int          `json:"segments,omitempty"`
	Error         string       `json:"error,omitempty"`
	Reason        relay.Reason `json:"reason,omitempty"`
	Code          string       `json:"code,omitempty"`
	Node          string       `json:"node,omitempty"`
	CreatedAt     time.Time    `json:"created_at"`
	UpdatedAt     time.Time    `json:"updated_at"`
	NextAttemptAt *time.Time   `json:"next_attempt_at,omitempty"`
	SentAt        *time.Time   `json:"sent_at,omitempty"`
}

func messageView(m *relay.Message, ds []relay.Delivery, acks []relay.Ack) MessageView {
	v := MessageView{
		ID: m.ID, Incident: m.Incident, Text: m.Text, Severity: string(m.Severity), Author: m.Author,
		To: m.To, Channels: m.Channels, Unreachable: nonNil(m.Unreachable),
		AcceptedAt: m.AcceptedAt, AcceptedBy: m.AcceptedBy, Deadline: m.Deadline,
		Summary: map[relay.Status]int{}, Settled: true,
		Recipients: make([]RecipientRef, 0, len(m.Recipients)),
		Deliveries: make([]DeliveryView, 0, len(ds)),
		Acks:       make([]AckView, 0, len(acks)),
	}
	for _, a := range acks {
		v.Acks = append(v.Acks, AckView{Person: a.Person, Channel: a.Channel, At: a.At})
	}
	for _, r := range m.Recipients {
		v.Recipients = append(v.Recipients, RecipientRef{Person: r.Person.ID, Name: r.Person.Name, Channels: r.Channels})
	}
	for i := range ds {
		v.Deliveries = append(v.Deliveries, deliveryView(&ds[i]))
		v.Summary[ds[i].Status]++
		if !ds[i].Status.Settled() {
			v.Settled = false
		}
	}
	return v
}

func deliveryView(d *relay.Delivery) DeliveryView {
	v := DeliveryView{
		ID: d.ID, Person: d.Person, Channel: d.Channel, Status: d.Status, Attempts: d.Attempts,
		Provider: d.Provider, ProviderID: d.ProviderID, Segments: d.Segments,
		Error: d.Error, Reason: d.Reason, Code: d.Code, Node: d.Owner,
		CreatedAt: d.CreatedAt, UpdatedAt: d.UpdatedAt,
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

// IncidentView is an incident with its timeline.
type IncidentView struct {
	relay.Incident
	Timeline []TimelineEntry `json:"timeline"`
}

// TimelineEntry is one message of an incident's timeline.
type TimelineEntry struct {
	At       time.Time            `json:"at"`
	Message  string               `json:"message"`
	Author   string               `json:"author"`
	Severity string               `json:"severity"`
	Text     string               `json:"text"`
	Summary  map[relay.Status]int `json:"summary"`
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}
