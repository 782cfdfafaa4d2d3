// Package loggate keeps refusals of outside input from flooding the log.
//
// Whoever sends relay bad requests (wrong tokens, forged webhooks,
// refused mail or NATS posts) decides how often a refusal happens, so a
// refusal is logged through a Gate: a few lines a second pass, the rest
// are counted, and the next line that passes says how many were held
// back. Metrics still count every refusal.
package loggate

import (
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// Gate lets a few log lines a second through and counts the others. A
// Gate is safe for concurrent use.
type Gate struct {
	mu         sync.Mutex
	bucket     *rate.Limiter
	suppressed int
}

// New returns a gate that lets perSecond lines a second through on
// average, and burst at once.
func New(perSecond float64, burst int) *Gate {
	return &Gate{bucket: rate.NewLimiter(rate.Limit(perSecond), burst)}
}

// Allow reports whether a line may be logged at now and, if so, how many
// were held back since the last one that was.
func (g *Gate) Allow(now time.Time) (heldBack int, ok bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if !g.bucket.AllowN(now, 1) {
		g.suppressed++
		return 0, false
	}
	n := g.suppressed
	g.suppressed = 0
	return n, true
}
