package delivery

import (
	"time"
)

// A demoted provider is tried after every provider of its channel that is
// not: like a circuit breaker half open for good, it only reorders, and
// it still carries what no other provider can (it is the last one, or the
// others' breakers are open). Demotions come from provider canaries (see
// relay.Canary), replicated so that every node orders alike.

// SetDemoted demotes a provider behind the others of its channel, or
// promotes it back to its configured place. It reports whether the
// provider's standing changed; an unknown provider changes nothing. It
// is safe for concurrent use.
func (e *Engine) SetDemoted(provider string, demoted bool) bool {
	for _, l := range e.lanes {
		for _, p := range l.providers {
			if p.Name == provider {
				v := 0.0
				if demoted {
					v = 1
				}
				e.m.demoted.WithLabelValues(p.Channel, p.Name).Set(v)
				return p.demoted.Swap(demoted) != demoted
			}
		}
	}
	return false
}

// Demoted reports whether a provider is demoted.
func (e *Engine) Demoted(provider string) bool {
	for _, l := range e.lanes {
		for _, p := range l.providers {
			if p.Name == provider {
				return p.demoted.Load()
			}
		}
	}
	return false
}

// Provider returns the configured provider named name.
func (e *Engine) Provider(name string) (Provider, bool) {
	for _, l := range e.lanes {
		for _, p := range l.providers {
			if p.Name == name {
				return p.Provider, true
			}
		}
	}
	return Provider{}, false
}

// pickFrom takes, from start on, the first provider whose breaker lets it
// through, those not demoted first.
func (l *lane) pickFrom(start int, now time.Time) (*provider, bool) {
	for _, demoted := range []bool{false, true} {
		for i := range l.providers {
			p := l.providers[(start+i)%len(l.providers)]
			if p.demoted.Load() != demoted {
				continue
			}
			if ok, probe := p.breaker.allow(now); ok {
				return p, probe
			}
		}
	}
	return nil, false
}
