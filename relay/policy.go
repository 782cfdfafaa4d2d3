package relay

import (
	"fmt"
	"slices"
	"time"
)

// Mode says how a person's channels are used for one message.
type Mode string

// Modes.
const (
	// ModeAll sends on every channel of the person at once: the default
	// for critical messages, where reaching someone twice beats reaching
	// them late.
	ModeAll Mode = "all"
	// ModeFallback sends on the person's channels one after another, in
	// their preference order: the next channel starts when the previous
	// one failed for good or stayed unconfirmed past the policy's
	// UnconfirmedAfter. A delivery confirmed on one channel (delivered,
	// or sent on a channel without receipts) or an acknowledgement ends
	// the chain; the channels left are skipped.
	ModeFallback Mode = "fallback"
)

// Modes lists every mode.
var Modes = []Mode{ModeAll, ModeFallback}

// Valid reports whether m is one of Modes.
func (m Mode) Valid() bool { return m == ModeAll || m == ModeFallback }

// Policy is how messages of one severity reach people.
type Policy struct {
	Mode Mode
	// UnconfirmedAfter is how long a delivery may go without a receipt
	// before it counts as unconfirmed and, in fallback mode, the next
	// channel starts. It counts from the delivery's first attempt.
	UnconfirmedAfter time.Duration
	// Channels lists the channels messages of this severity may use; nil
	// means every channel.
	Channels []string
}

// Allows reports whether the policy lets messages use channel ch.
func (p *Policy) Allows(ch string) bool {
	return p.Channels == nil || slices.Contains(p.Channels, ch)
}

// Policies gives the policy of each severity.
type Policies map[Severity]Policy

// DefaultPolicies returns what relay does without configuration: critical
// messages go out on every channel at once, voice calls included; warnings
// and information fall back from channel to channel without calling.
func DefaultPolicies() Policies {
	noVoice := []string{ChannelSMS, ChannelEmail, ChannelNATS}
	return Policies{
		SeverityCritical: {Mode: ModeAll, UnconfirmedAfter: 2 * time.Minute},
		SeverityWarning:  {Mode: ModeFallback, UnconfirmedAfter: 3 * time.Minute, Channels: noVoice},
		SeverityInfo:     {Mode: ModeFallback, UnconfirmedAfter: 10 * time.Minute, Channels: noVoice},
	}
}

// For returns the policy of severity s, falling back to the default.
func (ps Policies) For(s Severity) Policy {
	if p, ok := ps[s]; ok {
		return p
	}
	return DefaultPolicies()[s]
}

// Validate reports what is wrong with a policy, naming its fields.
func (p *Policy) Validate() error {
	if !p.Mode.Valid() {
		return fmt.Errorf("mode: %q must be one of %v", p.Mode, Modes)
	}
	if p.UnconfirmedAfter <= 0 {
		return fmt.Errorf("unconfirmed_after: %s must be positive", p.UnconfirmedAfter)
	}
	for i, ch := range p.Channels {
		if !KnownChannel(ch) {
			return fmt.Errorf("channels[%d]: %q is not a channel (one of %v)", i, ch, Channels)
		}
	}
	return nil
}

// ReportsReceipts reports whether a channel's providers confirm arrival
// after the attempt (SMS and voice). On the others, sent is as confirmed
// as a delivery gets.
func ReportsReceipts(ch string) bool { return ch == ChannelSMS || ch == ChannelVoice }
