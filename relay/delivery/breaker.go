package delivery

import (
	"sync"
	"time"

	"github.com/oob-relay/relay/relay"
)

// Breaker defaults, each applied to a Breaker field left zero.
const (
	// DefaultBreakerThreshold opens a provider's circuit after five
	// failures of the provider itself in a row: fewer would open it on a
	// passing blip, more would spend a burst on a provider that is down.
	DefaultBreakerThreshold = 5
	// DefaultBreakerCooldown is the first wait before a probe.
	DefaultBreakerCooldown = 5 * time.Second
	// DefaultBreakerMaxCooldown caps the wait between probes, so that a
	// provider that recovers carries traffic again within a minute.
	DefaultBreakerMaxCooldown = time.Minute
)

// Breaker sets a provider's circuit breaker: after Threshold consecutive
// failures of the provider itself, the provider is skipped for a
// cool-down that starts at Cooldown and doubles on every failed probe up
// to MaxCooldown; then one attempt probes it (half-open) and a success
// closes it again. While every provider of a channel is open, the
// channel's deliveries wait for the first probe rather than hammer a
// provider that is down. Each zero field takes its default.
type Breaker struct {
	Threshold   int
	Cooldown    time.Duration
	MaxCooldown time.Duration
}

// WithDefaults returns b with every zero field set to its default.
func (b Breaker) WithDefaults() Breaker {
	if b.Threshold <= 0 {
		b.Threshold = DefaultBreakerThreshold
	}
	if b.Cooldown <= 0 {
		b.Cooldown = DefaultBreakerCooldown
	}
	if b.MaxCooldown <= 0 {
		b.MaxCooldown = max(DefaultBreakerMaxCooldown, b.Cooldown)
	}
	return b
}

// breaker is one provider's circuit breaker. While it is open, deliveries
// go to the channel's other providers.
type breaker struct {
	set Breaker

	mu       sync.Mutex
	failures int       // consecutive provider failures
	openTill time.Time // zero when closed
	cooldown time.Duration
	probing  bool // a half-open probe is in flight
}

// providerFault reports whether a failure says something about the
// provider rather than the recipient or the message: those trip the
// breaker and move the delivery to the next provider.
func providerFault(se *relay.SendError) bool {
	switch se.Reason {
	case relay.ReasonTimeout, relay.ReasonNetwork, relay.ReasonRateLimited, relay.ReasonProvider,
		relay.ReasonUnavailable, relay.ReasonAuth, relay.ReasonPermission, relay.ReasonUnknown:
		return true
	}
	return false
}

// allow reports whether an attempt may go to the provider now, taking the
// half-open probe slot when the cool-down is over; probe reports that it
// did. A probe ends with success, failure or settle.
func (b *breaker) allow(now time.Time) (ok, probe bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	switch {
	case b.openTill.IsZero():
		return true, false
	case now.Before(b.openTill) || b.probing:
		return false, false
	default:
		b.probing = true
		return true, true
	}
}

// success closes the breaker. It reports whether it was open.
func (b *breaker) success() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	wasOpen := !b.openTill.IsZero()
	b.failures, b.openTill, b.cooldown, b.probing = 0, time.Time{}, 0, false
	return wasOpen
}

// failure counts a provider failure. It reports whether the breaker
// opened (or re-opened after a failed probe).
func (b *breaker) failure(now time.Time) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.failures++
	switch {
	case b.probing:
		b.probing = false
		b.cooldown = min(2*b.cooldown, b.set.MaxCooldown)
	case b.openTill.IsZero() && b.failures >= b.set.Threshold:
		b.cooldown = b.set.Cooldown
	default:
		return false
	}
	b.openTill = now.Add(b.cooldown)
	return true
}

// settle ends a probe whose attempt said nothing about the provider (the
// recipient was refused, the attempt was cut short): the next attempt
// probes again.
func (b *breaker) settle() {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.probing = false
}

// open reports whether the breaker is open, for metrics.
func (b *breaker) open() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return !b.openTill.IsZero()
}

// state reports, without taking the probe slot, how the provider may be
// used at now: closed (any number of attempts), probe (one attempt, the
// half-open probe), or neither; then until is when a probe may go, or
// the zero time while a probe is in flight.
func (b *breaker) state(now time.Time) (closed, probe bool, until time.Time) {
	b.mu.Lock()
	defer b.mu.Unlock()
	switch {
	case b.openTill.IsZero():
		return true, false, time.Time{}
	case b.probing:
		return false, false, time.Time{}
	case !now.Before(b.openTill):
		return false, true, time.Time{}
	}
	return false, false, b.openTill
}
