package nats

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	natsgo "github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/oob-relay/relay/relay"
)

// Schema identifies the version of the event payload. A change that
// removes or redefines a field gets a new version; optional fields may be
// added within a version, so consumers must ignore fields they do not know.
const Schema = "relay.message.v1"

// Header names set on every published event.
const (
	HeaderSchema     = "Relay-Schema"
	HeaderMessageID  = "Relay-Message-Id"
	HeaderDeliveryID = "Relay-Delivery-Id"
	// HeaderMsgID is JetStream's deduplication header. It is set for core
	// NATS too, so a stream that captures the subject also drops retries.
	HeaderMsgID = jetstream.MsgIDHeader
)

// Event is the JSON payload of schema relay.message.v1, documented in
// message.v1.md and message.v1.schema.json.
type Event struct {
	Schema     string         `json:"schema"`
	ID         string         `json:"id"`
	DeliveryID string         `json:"delivery_id"`
	Incident   string         `json:"incident"`
	Severity   relay.Severity `json:"severity"`
	Text       string         `json:"text"`
	Author     string         `json:"author"`
	// To is the audience as requested ("group:oncall", "everyone").
	To         []string  `json:"to"`
	AcceptedAt time.Time `json:"accepted_at"`
	AcceptedBy string    `json:"accepted_by"`
	Deadline   time.Time `json:"deadline,omitzero"`
	// Recipients is the audience as resolved when the message was accepted.
	Recipients []EventRecipient `json:"recipients"`
	// Unreachable lists person ids of the audience with no channel to try.
	Unreachable []string `json:"unreachable,omitempty"`
}

// EventRecipient is one person of an event's audience. Contact details
// (phone, email) are left out: NATS subscribers need not see them.
type EventRecipient struct {
	ID   string `json:"id"`
	Name string `json:"name,omitempty"`
	// Lang is the language the person reads, "ko" unless the roster says
	// otherwise, so clients can pick the language of their own text.
	Lang string `json:"lang"`
	// Channels are the personal channels the person is reached on.
	Channels []string `json:"channels"`
}

// Subject returns the subject an incident's messages are published on.
func Subject(prefix, incident string) string {
	return prefix + ".incident." + incident + ".message"
}

// NewEvent builds the event for a broadcast delivery. Times are in UTC so
// the same delivery always renders to the same bytes.
func NewEvent(out *relay.Outgoing) (*Event, error) {
	if err := checkOutgoing(out); err != nil {
		return nil, err
	}
	m := out.Message
	ev := &Event{
		Schema:      Schema,
		ID:          m.ID,
		DeliveryID:  out.DeliveryID,
		Incident:    m.Incident,
		Severity:    m.Severity,
		Text:        m.Text,
		Author:      m.Author,
		To:          nonNil(m.To),
		AcceptedAt:  m.AcceptedAt.UTC(),
		AcceptedBy:  m.AcceptedBy,
		Deadline:    m.Deadline.UTC(),
		Recipients:  make([]EventRecipient, 0, len(m.Recipients)),
		Unreachable: m.Unreachable,
	}
	for _, r := range m.Recipients {
		ev.Recipients = append(ev.Recipients, EventRecipient{
			ID:       r.Person.ID,
			Name:     r.Person.Name,
			Lang:     r.Person.LangOrDefault(),
			Channels: nonNil(r.Channels),
		})
	}
	return ev, nil
}

// Render returns the JSON payload for a broadcast delivery: compact, UTF-8
// (Korean text as is, not \u escapes), HTML characters unescaped.
func Render(out *relay.Outgoing) ([]byte, error) {
	ev, err := NewEvent(out)
	if err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(ev); err != nil {
		return nil, fmt.Errorf("encode event: %w", err)
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}

// Header returns the NATS headers of a broadcast delivery's event.
func Header(out *relay.Outgoing) natsgo.Header {
	h := natsgo.Header{}
	h.Set(HeaderSchema, Schema)
	if out.Message != nil {
		h.Set(HeaderMessageID, out.Message.ID)
	}
	h.Set(HeaderDeliveryID, out.DeliveryID)
	h.Set(HeaderMsgID, out.DeliveryID)
	return h
}

// NewMsg renders the whole NATS message of a broadcast delivery.
func NewMsg(prefix string, out *relay.Outgoing) (*natsgo.Msg, error) {
	data, err := Render(out)
	if err != nil {
		return nil, err
	}
	return &natsgo.Msg{Subject: Subject(prefix, out.Message.Incident), Header: Header(out), Data: data}, nil
}

// checkOutgoing rejects what cannot become a well-formed event. The
// incident id becomes a subject token, so it must not hold '.', '*' or '>'.
func checkOutgoing(out *relay.Outgoing) error {
	switch {
	case out == nil || out.Message == nil:
		return errors.New("delivery has no message")
	case out.DeliveryID == "":
		return errors.New("delivery has no id")
	case out.Person != nil:
		return fmt.Errorf("delivery %s names person %q, but NATS carries one event per message", out.DeliveryID, out.Person.ID)
	}
	if err := relay.ValidIncidentID(out.Message.Incident); err != nil {
		return fmt.Errorf("incident: %w", err)
	}
	return nil
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}
