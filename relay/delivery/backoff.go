package delivery

import (
	"math/rand/v2"
	"time"
)

// Backoff spaces retries: the n-th retry waits Initial × Multiplier^(n-1),
// at most Max, spread by ±Jitter (a fraction) so that retries of a burst
// do not arrive together.
type Backoff struct {
	Initial    time.Duration
	Max        time.Duration
	Multiplier float64
	Jitter     float64
}

// DefaultBackoff starts fast because the first retry of an emergency
// message should not wait long, and caps at one minute so a provider that
// recovers is used within a minute.
var DefaultBackoff = Backoff{Initial: time.Second, Max: time.Minute, Multiplier: 2, Jitter: 0.2}

// Delay returns the wait before retry number attempt (1 for the first
// retry). A provider's RetryAfter hint raises the wait but never lowers it.
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
