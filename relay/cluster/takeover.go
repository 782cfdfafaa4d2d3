package cluster

import (
	"maps"
	"time"
)

// When a member dies, the survivors take its deliveries over, and each
// decides what is still to send by what it holds of the dead member's
// log. A survivor may hold less of it than another: the dead member may
// have counted it dead for a while (falsely, under load) and pushed only
// to the others, so claims and attempts it made then reached them alone.
// Taking over on that view would send again what the dead member had
// claimed and sent.
//
// So a member gone from the live set stops CaughtUp on each node that
// still has peers, before ownership moves: the node says hello to every
// live peer, numbered (wire.Ask), and claims nothing until each peer
// answered that hello, with its marks as they were when the hello came,
// and it holds what those marks name. A peer that gets such a hello sends
// the node what it lacks of other origins (startCatchUp), so the wait is
// one round trip and the transfer of what was missing: milliseconds on a
// LAN. A peer whose answer does not come within CatchUpTimeout is no
// longer waited for, as a new peer's hello is not.

// askSurvivors asks every live peer for its marks after a member went,
// and reports whether there is anyone to ask. r.mu is held.
func (r *Replicator) askSurvivors(t Transport) bool {
	if len(r.peers) == 0 {
		return false
	}
	now := r.opts.Now()
	for _, p := range r.peers {
		r.asks++
		p.asked, p.askedAt = r.asks, now
		r.wg.Add(1)
		go r.ask(t, p, r.asks)
	}
	return true
}

// ask says a numbered hello to p, and again every second until p answers
// it, is gone, or CatchUpTimeout has passed.
func (r *Replicator) ask(t Transport, p *peer, n uint64) {
	defer r.wg.Done()
	for {
		wait := time.Second
		if err := r.sendHello(t, p, n); err != nil {
			r.log.Debug("asking a peer what it holds failed; retrying", "peer", p.name, "err", err)
			wait = r.opts.Retry
		}
		if !r.sleep(wait, p.stop) {
			return
		}
		r.mu.Lock()
		pending := p.asked != 0 && p.asked <= n && r.opts.Now().Sub(p.askedAt) < r.opts.CatchUpTimeout
		r.mu.Unlock()
		if !pending {
			return
		}
	}
}

// noteAnswer takes peer from's answer to the hello numbered n: once it
// answers the latest asked, its marks are what this node must hold
// before it claims again, as a hello's are (checkReady).
func (r *Replicator) noteAnswer(from string, n uint64, marks map[string]uint64) {
	r.mu.Lock()
	p := r.peers[from]
	if p == nil || p.asked == 0 || n < p.asked {
		r.mu.Unlock()
		return
	}
	p.asked = 0
	r.hellos[from] = hello{marks: maps.Clone(marks), at: r.opts.Now()}
	r.signal()
	r.mu.Unlock()
	r.poke()
}
