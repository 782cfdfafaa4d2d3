package relay

import (
	"context"
	"errors"
	"time"
)

// Inbound is something a person or a bot sent back to the relay on a
// channel: a reply to an incident, or a command such as ACK or STOP. The
// channel parses its wire format (a Twilio webhook form, a MIME message,
// a NATS payload) into an Inbound; the core decides what it means.
type Inbound struct {
	// Channel is how it came: sms, voice, email or nats.
	Channel string
	// From is the sender's address on the channel: an E.164 number for
	// sms and voice, an email address for email.
	From string
	// To is the relay's address it was sent to: one of the relay's own
	// numbers, or the mail recipient.
	To string
	// Text is the body as the person meant it: for email, the text part
	// without quoted text or signature. The core keeps it through
	// CleanText, so that control characters and bidirectional overrides
	// never reach a message while the answer itself is never refused.
	Text string
	// Person and Incident are set when the channel already knows them,
	// such as from a signed email reply address; the core checks them.
	Person   string
	Incident string
	// ID is the provider's id for the inbound message (a Twilio
	// MessageSid, an email Message-ID), so that a retried webhook or a
	// resent mail is taken once. Empty means no such id.
	ID string
	At time.Time
	// Automatic is set by a channel that knows no person wrote this: an
	// email with RFC 3834 headers (Auto-Submitted other than "no",
	// X-Autoreply, Precedence: auto_reply, bulk or list). The core
	// records it in the incident and sends it to nobody; it also
	// recognises automatic texts itself (AutomaticText) and repeats.
	Automatic bool
}

// Answer is what the relay did with an Inbound, and what, if anything, to
// answer the sender on the same channel.
type Answer struct {
	// Reply is the text to send back (a TwiML message, a bounce text), or
	// empty for none. The core limits automatic answers per sender and
	// never answers an automatic inbound.
	Reply string
	// Message is the message posted to the incident, if one was. A reply
	// recorded but sent to nobody is a message too, whose
	// Reply.Withheld says why.
	Message *Message
	// Acked lists the messages acknowledged.
	Acked []string
	// Incident is the incident it went to, if any.
	Incident string
}

// Receiver takes what comes in on every channel.
//
// Receive is called from many goroutines at once (one per webhook
// request, SMTP session or NATS message) and is safe for concurrent use.
// It blocks until what in says is durable: the reply posted (on disk here
// and, while a peer is alive, on a peer, as a post is), the
// acknowledgement or consent recorded; so it may take as long as a commit
// and a peer's copy, and it returns when ctx is done, with ctx's error,
// having changed nothing or everything. It must not keep in after it
// returns. A reply received twice with the same Channel and ID (a
// provider retrying its webhook) is posted once.
type Receiver interface {
	Receive(ctx context.Context, in *Inbound) (*Answer, error)
}

// Errors of Receive that a channel turns into its own refusals (an SMTP
// 550 at RCPT, a 403 on a webhook).
var (
	// ErrUnknownSender: the sender matches nobody on the roster.
	ErrUnknownSender = errors.New("sender is not on the roster")
	// ErrNoIncident: the text names or answers no incident the sender is in.
	ErrNoIncident = errors.New("no incident to post to")
)
