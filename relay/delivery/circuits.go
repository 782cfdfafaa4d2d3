package delivery

import "time"

// States of a provider's circuit breaker, as Circuits tells them.
const (
	CircuitClosed   = "closed"    // attempts go through
	CircuitOpen     = "open"      // no attempt until Until
	CircuitHalfOpen = "half-open" // one probe attempt may go, or is under way
)

// Circuit is where one provider's circuit breaker stands.
type Circuit struct {
	Channel, Provider string
	State             string
	// Until is, for an open circuit, when a probe may go.
	Until time.Time
}

// Circuits returns every provider's circuit, channel by channel in the
// order of Channels, providers in their order.
func (e *Engine) Circuits() []Circuit {
	now := e.opts.Now()
	var out []Circuit
	for _, ch := range e.Channels() {
		for _, p := range e.lanes[ch].providers {
			c := Circuit{Channel: ch, Provider: p.Name, State: CircuitHalfOpen}
			switch closed, probe, until := p.breaker.state(now); {
			case closed:
				c.State = CircuitClosed
			case !probe && !until.IsZero():
				c.State, c.Until = CircuitOpen, until
			}
			out = append(out, c)
		}
	}
	return out
}
