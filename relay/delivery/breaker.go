package delivery

import (
	"sync"
	"time"

	"github.com/oob-relay/relay/relay"
)

// Breaker settings. After breakerThreshold consecutive failures of the
// provider itself, a provider is skipped for a cool-down that starts at
// breakerCooldown and doubles on every failed probe up to
// breakerMaxCooldown; then one attempt probes it (half-open) and a success
// closes it again.
const (
	breakerThreshold   = 5
	breakerCooldown    = 5 * time.Second
	breakerMaxCooldown = time.Minute
)

// breaker is one provider's circuit breaker. While it is open, deliveries
// go to the channel's other providers.
type breaker struct {
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
// half-open probe slot when the cool-down is over.
func (b *breaker) allow(now time.Time) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	switch {
	case b.openTill.IsZero():
		return true
	case now.Before(b.openTill) || b.probing:
		return false
	default:
		b.probing = true
		return true
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
		b.cooldown = min(2*b.cooldown, breakerMaxCooldown)
	case b.openTill.IsZero() && b.failures >= breakerThreshold:
		b.cooldown = breakerCooldown
	default:
		return false
	}
	b.openTill = now.Add(b.cooldown)
	return true
}

// open reports whether the breaker is open, for metrics.
func (b *breaker) open() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return !b.openTill.IsZero()
}

// allowed reports, without taking the probe slot, whether allow could
// let an attempt through at now.
func (b *breaker) allowed(now time.Time) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.openTill.IsZero() || (!now.Before(b.openTill) && !b.probing)
}
