package emulator

import (
	"context"
	"net/url"
	"time"

	"github.com/oob-relay/relay/channels/twilio/segment"
)

// Message is an outbound message the emulator accepted, as it stands now.
type Message struct {
	SID                 string
	AccountSID          string
	To                  string
	From                string // the sender, picked from the pool for a messaging service
	MessagingServiceSID string
	Body                string
	// Direction is DirectionAPI, or DirectionReply for the answer TwiML
	// gave to an incoming message.
	Direction string
	// Status is queued (or accepted through a messaging service), then
	// sent, delivered, undelivered or failed.
	Status    string
	ErrorCode int // set when undelivered or failed
	Segments  int
	Encoding  segment.Encoding
	// ValidityPeriod is the requested validity in seconds, zero if none
	// was given.
	ValidityPeriod int
	StatusCallback string
	// Callbacks counts the status callbacks posted for the message.
	Callbacks int
	Created   time.Time
	Updated   time.Time
	// Sent is when the message was handed to the carrier (its sent
	// step); zero while it is queued, and for a message that failed
	// before it left, as Twilio leaves date_sent empty then.
	Sent time.Time
	// Form holds every parameter of the create request.
	Form url.Values

	held bool // changed by UpdateMessage: the emulator moves it no further
}

// Call is an outbound call the emulator accepted, as it stands now.
type Call struct {
	SID        string
	AccountSID string
	To         string
	From       string
	// Status is queued, ringing, in-progress, then completed, busy,
	// no-answer or failed.
	Status string
	// Twiml is the document given with the request; URL the address to
	// fetch one from instead.
	Twiml  string
	URL    string
	Method string
	// Document is the TwiML the call ran: Twiml, or what URL answered.
	Document             string
	StatusCallback       string
	StatusCallbackEvents []string
	Timeout              int
	// Duration is the answered time in seconds, set when completed.
	Duration int
	// Started is when the call was dialed (its initiated step); zero
	// while it is queued, and for a call that failed before dialing.
	Started time.Time
	// Digits are the digits pressed into a Gather; GatherStatus and
	// GatherReply are what its action URL answered.
	Digits       string
	GatherStatus int
	GatherReply  string
	// Callbacks counts the status callbacks posted for the call.
	Callbacks int
	Created   time.Time
	Updated   time.Time
	// Form holds every parameter of the create request.
	Form url.Values

	held bool // changed by UpdateCall: the emulator moves it no further
}

func (m *Message) clone() Message {
	c := *m
	c.Form = cloneValues(m.Form)
	return c
}

func (c *Call) clone() Call {
	d := *c
	d.Form = cloneValues(c.Form)
	d.StatusCallbackEvents = append([]string(nil), c.StatusCallbackEvents...)
	return d
}

func cloneValues(v url.Values) url.Values {
	out := make(url.Values, len(v))
	for k, vs := range v {
		out[k] = append([]string(nil), vs...)
	}
	return out
}

// Messages returns a snapshot of every accepted message, oldest first.
func (e *Emulator) Messages() []Message {
	e.mu.Lock()
	defer e.mu.Unlock()
	out := make([]Message, len(e.messages))
	for i, m := range e.messages {
		out[i] = m.clone()
	}
	return out
}

// Calls returns a snapshot of every accepted call, oldest first.
func (e *Emulator) Calls() []Call {
	e.mu.Lock()
	defer e.mu.Unlock()
	out := make([]Call, len(e.calls))
	for i, c := range e.calls {
		out[i] = c.clone()
	}
	return out
}

// WaitMessages blocks until at least n messages were accepted and returns
// them, or returns ctx's error.
func (e *Emulator) WaitMessages(ctx context.Context, n int) ([]Message, error) {
	if err := e.wait(ctx, func() bool { return len(e.messages) >= n }); err != nil {
		return e.Messages(), err
	}
	return e.Messages(), nil
}

// WaitCalls blocks until at least n calls were accepted and returns them,
// or returns ctx's error.
func (e *Emulator) WaitCalls(ctx context.Context, n int) ([]Call, error) {
	if err := e.wait(ctx, func() bool { return len(e.calls) >= n }); err != nil {
		return e.Calls(), err
	}
	return e.Calls(), nil
}

// WaitMessage blocks until the message with the given SID exists and done
// reports true for it, and returns it.
func (e *Emulator) WaitMessage(ctx context.Context, sid string, done func(Message) bool) (Message, error) {
	var got Message
	err := e.wait(ctx, func() bool {
		m := e.messageLocked(sid)
		if m == nil {
			return false
		}
		got = m.clone()
		return done(got)
	})
	return got, err
}

// WaitCall blocks until the call with the given SID exists and done
// reports true for it, and returns it.
func (e *Emulator) WaitCall(ctx context.Context, sid string, done func(Call) bool) (Call, error) {
	var got Call
	err := e.wait(ctx, func() bool {
		c := e.callLocked(sid)
		if c == nil {
			return false
		}
		got = c.clone()
		return done(got)
	})
	return got, err
}

// UpdateMessage changes the accepted message with the given SID as Twilio
// might change it on its way, such as to a status the emulator never
// reaches by itself (sending, read, canceled...) or to another segment
// count. update is called with the record under the emulator's lock and
// must not call the emulator; the answers that follow show what it set,
// and are checked against the contract like any other (a status Twilio
// does not have is a violation). From then on the emulator moves the
// message no further and posts no more callbacks for it. UpdateMessage
// reports false when there is no such message.
func (e *Emulator) UpdateMessage(sid string, update func(*Message)) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	m := e.messageLocked(sid)
	if m == nil {
		return false
	}
	update(m)
	m.held, m.Updated = true, e.now()
	e.notifyLocked()
	return true
}

// UpdateCall changes the accepted call with the given SID as UpdateMessage
// changes a message: the emulator moves it no further.
func (e *Emulator) UpdateCall(sid string, update func(*Call)) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	c := e.callLocked(sid)
	if c == nil {
		return false
	}
	update(c)
	c.held, c.Updated = true, e.now()
	e.notifyLocked()
	return true
}

func (e *Emulator) messageLocked(sid string) *Message {
	for _, m := range e.messages {
		if m.SID == sid {
			return m
		}
	}
	return nil
}

func (e *Emulator) callLocked(sid string) *Call {
	for _, c := range e.calls {
		if c.SID == sid {
			return c
		}
	}
	return nil
}

// Final reports whether a message or call status is one it ends in.
func Final(status string) bool {
	switch status {
	case "delivered", "undelivered", "failed", "completed", "busy", "no-answer", "canceled":
		return true
	}
	return false
}
