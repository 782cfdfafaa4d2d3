package relay

import (
	"context"
	"errors"
	"time"
)

// Channel names. A channel is a way of reaching a person; a provider is one
// account or server that carries a channel (two Twilio accounts are two
// providers of the sms channel).
const (
	ChannelSMS   = "sms"
	ChannelVoice = "voice"
	ChannelEmail = "email"
	ChannelNATS  = "nats"
)

// Channels lists every channel relay knows, in the default preference order
// used when a person names none.
var Channels = []string{ChannelSMS, ChannelVoice, ChannelEmail, ChannelNATS}

// KnownChannel reports whether name is one of Channels.
func KnownChannel(name string) bool {
	for _, c := range Channels {
		if c == name {
			return true
		}
	}
	return false
}

// Broadcast reports whether a channel carries one delivery per message
// rather than one per person. NATS publishes each message once on the
// incident's subject, so its delivery has no person.
func Broadcast(channel string) bool { return channel == ChannelNATS }

// A Sender makes delivery attempts over one provider. It is the contract
// between the delivery engine and a channel adapter in channels/.
//
// Send makes exactly one attempt and must not retry: retries, backoff,
// rate limits, provider failover and deadlines belong to the engine. Send
// must return when ctx is done. It is called from many goroutines at once
// and must be safe for concurrent use. It must not keep out after it
// returns.
//
// On success Send returns a Receipt. On failure it returns an error; an
// error that is not a *SendError is treated as temporary with reason
// ReasonUnknown, so adapters should classify what they can with Temporary
// or Permanent.
type Sender interface {
	Send(ctx context.Context, out *Outgoing) (Receipt, error)
}

// Outgoing is one delivery attempt handed to a Sender. It is read-only for
// the Sender.
type Outgoing struct {
	// DeliveryID identifies the delivery across attempts and nodes. It is
	// made of [A-Za-z0-9.-] only, so adapters may use it as a Message-ID
	// local part, an idempotency key or a NATS message id.
	DeliveryID string
	Channel    string
	// Attempt counts from 1.
	Attempt int
	Message *Message
	// Person is the recipient; nil for a broadcast delivery.
	Person *Person
	// StatusCallback is the URL a provider should report delivery receipts
	// to, or empty when the node has no public URL. It is
	// CallbackURL(CallbackStatus).
	StatusCallback string
	// CallbackBase is the node's public URL for this delivery's webhooks,
	// or empty; see CallbackURL.
	CallbackBase string
	// ReplyCode is the person's reply code for the message's incident
	// (see ReplyCodes), for channels whose replies carry no thread, such
	// as SMS; empty when the node takes no replies.
	ReplyCode string
	// Link is the person's personal link to the message's incident room
	// in the web console, for SMS and mail; empty when the node has no
	// public URL or gives no links.
	Link string
	// Code, when set, makes the attempt a one-time code instead of a
	// message: Message is nil, and the channel sends CodeText (SMS,
	// mail) or speaks the digits slowly (voice), in the person's
	// language. A code never goes through the delivery engine.
	Code *OneTimeCode
}

// WebhookPrefix is the path under which a node serves provider webhooks:
// a delivery's CallbackBase is the node's public URL (or the callback URL
// every node of the cluster answers), WebhookPrefix and the delivery's id,
// and its webhooks are under it, one per kind.
const WebhookPrefix = "/v1/hooks/twilio/"

// Webhook kinds under a delivery's CallbackBase.
const (
	// CallbackStatus receives delivery receipts (message and call status).
	CallbackStatus = "status"
	// CallbackGather receives the digits a person pressed during a call.
	CallbackGather = "gather"
)

// CallbackURL returns the URL of one of the delivery's webhooks, or ""
// when the node has no public URL.
func (o *Outgoing) CallbackURL(kind string) string {
	if o.CallbackBase == "" {
		return ""
	}
	return o.CallbackBase + "/" + kind
}

// Receipt is what a provider reported after accepting an attempt.
type Receipt struct {
	// ProviderID is the provider's own id for what it accepted: a Twilio
	// SID, an SMTP Message-ID, a JetStream sequence.
	ProviderID string
	// Segments is the number of SMS parts of the body as relay counts
	// them (GSM-7 or UCS-2, segment-aware), zero for other channels.
	Segments int
	// ProviderSegments is the provider's own count when it gave one that
	// differs from Segments; zero otherwise.
	ProviderSegments int
	// Delivered is true when the provider's acceptance already means the
	// message reached its destination (a JetStream publish acknowledgement),
	// so no later receipt is expected.
	Delivered bool
}

// Deadline returns the moment after which the message is stale and no
// attempt should start.
// For a one-time code it is the code's expiry.
func (o *Outgoing) Deadline() time.Time {
	switch {
	case o.Code != nil:
		return o.Code.Expires
	case o.Message != nil:
		return o.Message.Deadline
	}
	return time.Time{}
}

// DefaultLang is the language used for people whose roster entry names
// none. relay is Korean-first.
const DefaultLang = "ko"

// LangOrDefault returns the person's language, or DefaultLang.
func (p *Person) LangOrDefault() string {
	if p == nil || p.Lang == "" {
		return DefaultLang
	}
	return p.Lang
}

// A Tracker is a Sender whose provider can be asked, after the fact, what
// became of an attempt. The engine asks it about an attempt whose receipt
// did not come in time (Track), and, before it repeats an attempt that a
// node died in the middle of, whether that attempt reached the provider
// after all (Find), so that a takeover does not send twice.
//
// Each method makes one lookup, without retrying (the engine retries),
// returns when ctx is done, and is safe for concurrent use. A method a
// provider cannot answer returns an error wrapping errors.ErrUnsupported.
type Tracker interface {
	// Track returns what the provider knows now of the attempt it
	// accepted as providerID.
	Track(ctx context.Context, providerID string) (Report, error)
	// Find looks for an attempt of out that the provider accepted at or
	// after since. found is false when there is none; then nothing of out
	// reached the provider since then.
	Find(ctx context.Context, out *Outgoing, since time.Time) (r Report, found bool, err error)
}

// ErrStaleReceipt is returned for a receipt about an attempt other than
// the delivery's latest: it is true but no longer news.
var ErrStaleReceipt = errors.New("receipt is for an earlier attempt")

// Report is what a provider says of an attempt it accepted: a delivery
// receipt from a status callback, or the answer to a Tracker lookup.
type Report struct {
	// ProviderID is the provider's id of the attempt.
	ProviderID string
	// Status is StatusDelivered or StatusFailed once the attempt's fate
	// is known; StatusSent when the provider handed it on and expects no
	// more news; empty while it is still on its way.
	Status Status
	// Reason, Code and Error say why a failed attempt failed.
	Reason Reason
	Code   string
	Error  string
	// Temporary marks a failure another attempt may well overcome: a
	// busy or unanswered call, a handset switched off.
	Temporary bool
	// Segments and ProviderSegments are as in Receipt, for an attempt
	// Find found.
	Segments         int
	ProviderSegments int
}
