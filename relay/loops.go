package relay

import (
	"errors"
	"fmt"
	"time"
)

// Withheld says why a person's reply was recorded in its incident but
// sent to nobody.
type Withheld string

// Reasons a reply is withheld.
const (
	// WithheldAutomatic is an answer no person wrote: an auto-responder,
	// an out-of-office mail, a phone's driving-mode text. The channel
	// knew it (Inbound.Automatic, such as from RFC 3834 mail headers) or
	// its words gave it away (AutomaticText). It is never sent on.
	WithheldAutomatic Withheld = "automatic"
	// WithheldRepeat is the same text the person sent to the incident a
	// short while before (ReplyLimits.RepeatWindow): an auto-responder
	// relay does not know, or a person sending again. It is never sent
	// on.
	WithheldRepeat Withheld = "repeat"
	// WithheldHeld is a reply over the person's limit for the incident
	// (ReplyLimits.PerPerson per Window). It is sent on in one summary
	// when the person's window ends.
	WithheldHeld Withheld = "held"
)

// ReplyInfo is what a message made from a person's reply carries besides
// its text. A summary of held replies carries one too.
type ReplyInfo struct {
	// Channel is how the reply came: sms, voice or email; empty for a
	// summary.
	Channel string `json:"channel,omitempty"`
	// Text is the reply as the person wrote it; the message's text
	// begins with their name.
	Text string `json:"text,omitempty"`
	// Withheld, when set, says why the reply went to nobody; the
	// message then has no recipients.
	Withheld Withheld `json:"withheld,omitempty"`
	// Due is, for a held reply, when its summary is sent: the end of the
	// person's window as the node that held it counted.
	Due time.Time `json:"due,omitzero"`
	// Summarises lists, for a summary, the held replies it sends on.
	Summarises []string `json:"summarises,omitempty"`
}

// Counts reports whether the message is a reply that counts against its
// author's limit: posted to the incident's audience, not withheld, not a
// summary.
func (r *ReplyInfo) Counts() bool {
	return r != nil && r.Withheld == "" && r.Summarises == nil
}

// SummaryID is the id of the summary that sends on a person's held
// replies, the earliest of which is firstHeld. Every node derives the same
// id, so two nodes that both send the summary make one message.
func SummaryID(person, firstHeld string) string {
	return IdempotentMessageID(ViaReply, person, SummaryKey(firstHeld))
}

// SummaryKey is the idempotency key of the summary whose earliest held
// reply is firstHeld.
func SummaryKey(firstHeld string) string { return "summary:" + firstHeld }

// ReplyLimits keep people's replies, and auto-responders answering each
// other, from flooding an incident.
type ReplyLimits struct {
	// Window is the span the two limits below count over. Default
	// DefaultReplyWindow.
	Window time.Duration `yaml:"window"`
	// PerPerson is how many replies one person may post to an incident
	// per Window. Later ones are recorded, held, and sent on as one
	// summary when the window ends. Default DefaultRepliesPerPerson.
	PerPerson int `yaml:"per_person"`
	// HighPriority is how many replies to an incident per Window go at
	// high priority, ahead of large broadcasts; later ones go at normal
	// priority. Default DefaultHighPriorityReplies.
	HighPriority int `yaml:"high_priority"`
	// RepeatWindow is how long the same text from the same person to an
	// incident counts as a repeat, recorded and not sent on. Default
	// DefaultRepeatWindow.
	RepeatWindow time.Duration `yaml:"repeat_window"`
}

// Reply limit defaults, each with its reason.
const (
	// DefaultReplyWindow counts replies per minute, the pace at which a
	// person types and an auto-responder loop shows.
	DefaultReplyWindow = time.Minute
	// DefaultRepliesPerPerson lets a person type a burst of short
	// answers ("on my way", "in the lobby", ...) while two phones that
	// answer each other are stopped within seconds.
	DefaultRepliesPerPerson = 6
	// DefaultHighPriorityReplies keeps a busy conversation ahead of
	// broadcasts, but never a flood of it.
	DefaultHighPriorityReplies = 10
	// DefaultRepeatWindow covers an auto-responder's next answer, which
	// comes with the next message, and a person who sends again because
	// the first did not seem to go.
	DefaultRepeatWindow = 10 * time.Minute
)

// SetDefaults fills every limit left at zero with its default.
func (l *ReplyLimits) SetDefaults() {
	if l.Window == 0 {
		l.Window = DefaultReplyWindow
	}
	if l.PerPerson == 0 {
		l.PerPerson = DefaultRepliesPerPerson
	}
	if l.HighPriority == 0 {
		l.HighPriority = DefaultHighPriorityReplies
	}
	if l.RepeatWindow == 0 {
		l.RepeatWindow = DefaultRepeatWindow
	}
}

// Validate reports every limit out of range, each naming its key.
func (l *ReplyLimits) Validate() error {
	var errs []error
	bad := func(key, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s: %s", key, fmt.Sprintf(format, args...)))
	}
	if l.Window < time.Second || l.Window > time.Hour {
		bad("window", "%s must be from 1s to 1h, such as 1m", l.Window)
	}
	if l.PerPerson < 1 || l.PerPerson > 1000 {
		bad("per_person", "%d must be from 1 to 1000", l.PerPerson)
	}
	if l.HighPriority < 1 || l.HighPriority > 10000 {
		bad("high_priority", "%d must be from 1 to 10000", l.HighPriority)
	}
	if l.RepeatWindow < time.Second || l.RepeatWindow > 24*time.Hour {
		bad("repeat_window", "%s must be from 1s to 24h, such as 10m", l.RepeatWindow)
	}
	return errors.Join(errs...)
}
