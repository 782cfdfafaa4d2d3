package config

import (
	"fmt"
	"time"

	"github.com/oob-relay/relay/relay"
)

// Policies say how messages of each severity reach people. A severity
// left out keeps relay.DefaultPolicies: critical on every channel at once,
// calls included; warning and info from channel to channel, without calls.
type Policies struct {
	Critical Policy `yaml:"critical"`
	Warning  Policy `yaml:"warning"`
	Info     Policy `yaml:"info"`
}

// Policy is how messages of one severity reach people.
type Policy struct {
	// Mode is all (every channel of a person at once) or fallback (one
	// channel after another, in the person's order).
	Mode relay.Mode `yaml:"mode"`
	// UnconfirmedAfter is how long an SMS or call may go without a
	// delivery receipt (or a pressed 1) before it counts as unconfirmed
	// and fallback moves to the next channel.
	UnconfirmedAfter time.Duration `yaml:"unconfirmed_after"`
	// Channels lists the channels this severity may use. Left out, every
	// channel for critical and every channel but voice otherwise.
	Channels []string `yaml:"channels"`
}

// Calls says what happens after a busy or unanswered call.
type Calls struct {
	// Retries is how many more times a person is called after a busy or
	// unanswered call, from 0 to MaxCallRetries. Default DefaultCallRetries.
	Retries *int `yaml:"retries"`
	// RetryAfter is the wait before calling again. Default
	// DefaultCallRetryAfter.
	RetryAfter time.Duration `yaml:"retry_after"`
}

// Call retry defaults and bounds.
const (
	// DefaultCallRetries calls a person three times in all, as paging
	// services do, before the call counts as failed.
	DefaultCallRetries = 2
	// MaxCallRetries keeps a busy line from being called for an hour.
	MaxCallRetries = 10
	// DefaultCallRetryAfter gives someone on another call time to end it.
	DefaultCallRetryAfter = time.Minute
)

func (ps *Policies) each() []struct {
	sev relay.Severity
	p   *Policy
} {
	return []struct {
		sev relay.Severity
		p   *Policy
	}{
		{relay.SeverityCritical, &ps.Critical},
		{relay.SeverityWarning, &ps.Warning},
		{relay.SeverityInfo, &ps.Info},
	}
}

func (ps *Policies) setDefaults() {
	def := relay.DefaultPolicies()
	for _, e := range ps.each() {
		d := def[e.sev]
		if e.p.Mode == "" {
			e.p.Mode = d.Mode
		}
		if e.p.UnconfirmedAfter == 0 {
			e.p.UnconfirmedAfter = d.UnconfirmedAfter
		}
		if e.p.Channels == nil {
			e.p.Channels = d.Channels
		}
	}
}

func (ps *Policies) validate(bad func(key, format string, args ...any)) {
	for _, e := range ps.each() {
		key := "delivery.policy." + string(e.sev)
		if !e.p.Mode.Valid() {
			bad(key+".mode", "%q must be one of %v", e.p.Mode, relay.Modes)
		}
		if e.p.UnconfirmedAfter <= 0 {
			bad(key+".unconfirmed_after", "%s must be positive, such as 3m", e.p.UnconfirmedAfter)
		}
		if e.p.Channels != nil && len(e.p.Channels) == 0 {
			bad(key+".channels", "must list at least one channel, or be left out")
		}
		for i, ch := range e.p.Channels {
			if !relay.KnownChannel(ch) {
				bad(fmt.Sprintf("%s.channels[%d]", key, i), "%q is not a channel (one of %v)", ch, relay.Channels)
			}
		}
	}
}

// Relay returns the policies in the core's form.
func (ps *Policies) Relay() relay.Policies {
	out := relay.Policies{}
	for _, e := range ps.each() {
		out[e.sev] = relay.Policy{Mode: e.p.Mode, UnconfirmedAfter: e.p.UnconfirmedAfter, Channels: e.p.Channels}
	}
	return out
}

func (c *Calls) setDefaults() {
	if c.Retries == nil {
		n := DefaultCallRetries
		c.Retries = &n
	}
	if c.RetryAfter == 0 {
		c.RetryAfter = DefaultCallRetryAfter
	}
}

func (c *Calls) validate(bad func(key, format string, args ...any)) {
	if c.Retries != nil && (*c.Retries < 0 || *c.Retries > MaxCallRetries) {
		bad("delivery.calls.retries", "%d must be from 0 to %d", *c.Retries, MaxCallRetries)
	}
	if c.RetryAfter <= 0 {
		bad("delivery.calls.retry_after", "%s must be positive, such as 1m", c.RetryAfter)
	}
}
