package config

import (
	"fmt"
	"time"

	"github.com/oob-relay/relay/relay"
)

// Canary defaults, each with its reason.
const (
	// DefaultCanaryEvery sends six test messages an hour per provider:
	// a dead provider is noticed within minutes, for a few cents a day.
	DefaultCanaryEvery = 10 * time.Minute
	// DefaultCanaryLateAfter waits two minutes for a receipt: most come
	// within seconds, and a provider slower than that would miss the
	// fallback of real traffic (two minutes at the earliest by default).
	DefaultCanaryLateAfter = 2 * time.Minute
	// MinCanaryEvery keeps canaries from costing more than they tell.
	MinCanaryEvery = time.Minute
)

// Canary sends a provider a test message now and then, to a number of
// the operator's, and demotes the provider behind the next of its channel
// when the receipt is late or missing, until a canary's receipt comes in
// time again. Only the SMS and voice providers (which report receipts)
// have canaries.
type Canary struct {
	// To is the E.164 number the canary is sent to (a test phone of the
	// operator's). Required.
	To string `yaml:"to"`
	// Every is how often a canary is sent; default DefaultCanaryEvery,
	// at least MinCanaryEvery.
	Every time.Duration `yaml:"every"`
	// LateAfter is how long its receipt may take; default
	// DefaultCanaryLateAfter, shorter than Every.
	LateAfter time.Duration `yaml:"late_after"`
}

func (c *Canary) setDefaults() {
	if c.Every == 0 {
		c.Every = DefaultCanaryEvery
	}
	if c.LateAfter == 0 {
		c.LateAfter = min(DefaultCanaryLateAfter, c.Every/2)
	}
}

// validate reports what is wrong, keys relative to the canary.
func (c *Canary) validate(bad func(key, format string, args ...any)) {
	if !relay.ValidE164(c.To) {
		bad("to", "%q must be an E.164 number such as +821012345678", c.To)
	}
	if c.Every < MinCanaryEvery {
		bad("every", "%s is shorter than %s", c.Every, MinCanaryEvery)
	}
	if c.LateAfter <= 0 || c.LateAfter >= c.Every {
		bad("late_after", "%s must be positive and shorter than every (%s)", c.LateAfter, c.Every)
	}
}

// providerCanary is one provider's canary, with its key path.
type providerCanary struct {
	key, provider string
	canary        *Canary
}

// canaries lists the providers' canaries in file order.
func (c *Config) canaries() []providerCanary {
	var out []providerCanary
	for i := range c.Channels.SMS.Providers {
		if p := &c.Channels.SMS.Providers[i]; p.Canary != nil {
			out = append(out, providerCanary{fmt.Sprintf("channels.sms.providers[%d].canary", i), p.Name, p.Canary})
		}
	}
	for i := range c.Channels.Voice.Providers {
		if p := &c.Channels.Voice.Providers[i]; p.Canary != nil {
			out = append(out, providerCanary{fmt.Sprintf("channels.voice.providers[%d].canary", i), p.Name, p.Canary})
		}
	}
	return out
}

// Canaries lists the provider canaries, by provider name.
func (c *Config) Canaries() map[string]Canary {
	out := map[string]Canary{}
	for _, cn := range c.canaries() {
		out[cn.provider] = *cn.canary
	}
	return out
}
