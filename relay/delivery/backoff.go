package delivery

import (
	"math/rand/v2"
	"time"
)

// Backoff defaults, each applied to a Backoff field left zero.
const (
	// DefaultBackoffInitial starts fast: the first retry of an emergency
	// message should not wait long.
	DefaultBackoffInitial = time.Second
	// DefaultBackoffMax caps the wait at a minute, so that a provider
	// that recovers is used again within a minute.
	DefaultBackoffMax = time.Minute
	// DefaultBackoffMultiplier doubles the wait after every failure.
	DefaultBackoffMultiplier = 2.0
	// DefaultBackoffJitter spreads each wait by ±20%, so that the retries
	// of a burst that failed together do not arrive together.
	DefaultBackoffJitter = 0.2
)

// Backoff spaces retries: the n-th retry waits Initial × Multiplier^(n-1),
// at most Max, spread by ±Jitter (a fraction) so that retries of a burst
// do not arrive together.
//
// Each field left zero takes its default (DefaultBackoffInitial and so
// on; Max is never below Initial). A negative Jitter means none, for
// tests that need exact waits.
type Backoff struct {
	Initial    time.Duration
	Max        time.Duration
	Multiplier float64
	Jitter     float64
}

// WithDefaults returns b with every zero field set to its default: the
// waits an engine given b actually uses.
func (b Backoff) WithDefaults() Backoff {
	if b.Initial <= 0 {
		b.Initial = DefaultBackoffInitial
	}
	if b.Max <= 0 {
		b.Max = max(DefaultBackoffMax, b.Initial)
	}
	b.Max = max(b.Max, b.Initial)
	if b.Multiplier < 1 {
		b.Multiplier = DefaultBackoffMultiplier
	}
	switch {
	case b.Jitter == 0:
		b.Jitter = DefaultBackoffJitter
	case b.Jitter < 0:
		b.Jitter = 0
	}
	b.Jitter = min(b.Jitter, 1)
	return b
}

// Delay returns the wait before retry number attempt (1 for the first
// retry) of a Backoff with its defaults applied. A provider's RetryAfter
// hint raises the wait but never lowers it.
func (b Backoff) Delay(attempt int, retryAfter time.Duration) time.Duration {
	d := float64(b.Initial)
	for i := 1; i < attempt && d < float64(b.Max); i++ {
		d *= b.Multiplier
	}
	d = min(d, float64(b.Max))
	if b.Jitter > 0 {
		d *= 1 + b.Jitter*(2*rand.Float64()-1)
	}
	return max(time.Duration(d), retryAfter)
}
