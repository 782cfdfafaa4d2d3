package cluster

import (
	"time"
)

// hello is what a peer announced when it started counting this node as
// live: the marks it held then.
type hello struct {
	marks map[string]uint64
	at    time.Time
}

// CaughtUp reports whether this node holds what every live peer held when
// it last appeared: each peer says hello with its marks when it starts
// counting this node as live (on this node's start, on its return after
// a partition, on the peer's own return). Until then this node must not
// claim deliveries: a peer may already have sent them, on the other side
// of a partition, and the record of it is still on the way. A peer whose
// hello, or whose events, do not come within CatchUpTimeout is no longer
// waited for.
func (r *Replicator) CaughtUp() bool { return r.caught.Load() }

// greet says hello to a new peer until it arrives, then waits briefly for
// the peer's answer (its marks), so that the pushes start from what it
// holds rather than from the beginning. On an authenticated cluster it
// waits for the peer to prove who it is (a frame signed by its trusted
// key) before any event goes to it, saying hello again every second. It
// reports false when p is gone.
func (r *Replicator) greet(t Transport, p *peer) bool {
	for {
		if !r.hello(t, p) {
			return false
		}
		answered, gone := r.waitAnswer(p)
		if gone {
			return false
		}
		if answered || !r.signing() || r.isProven(p.name) {
			return true
		}
	}
}

// hello sends p this node's hello until the send succeeds.
func (r *Replicator) hello(t Transport, p *peer) bool {
	for {
		err := r.sendHello(t, p, 0)
		if err == nil {
			break
		}
		r.log.Debug("hello to peer failed; retrying", "peer", p.name, "err", err)
		if !r.sleep(r.opts.Retry, p.stop) {
			return false
		}
	}
	return true
}

// sendHello sends p a hello with this node's marks now; ask numbers it
// when a member died (see takeover.go), and is 0 otherwise.
func (r *Replicator) sendHello(t Transport, p *peer, ask uint64) error {
	marks, err := r.st.Marks()
	if err != nil {
		return err
	}
	return t.SendReliable(p.name, r.seal(p.name, wire{Kind: kindHello, Marks: marks, Ask: ask}))
}

// waitAnswer waits up to a second for p's answer to a hello; it reports
// whether it came, or whether p is gone. p's frames count only once they
// proved its key.
func (r *Replicator) waitAnswer(p *peer) (answered, gone bool) {
	timeout := time.NewTimer(time.Second)
	defer timeout.Stop()
	for {
		r.mu.Lock()
		_, greeted := r.hellos[p.name] // its hello carries its marks too
		answered, ch := !p.ackedAt.IsZero() || greeted, r.changed
		r.mu.Unlock()
		if answered {
			return true, false
		}
		select {
		case <-ch:
		case <-timeout.C:
			return false, false
		case <-p.stop:
			return false, true
		case <-r.done:
			return false, true
		}
	}
}

// noteHello takes a peer's hello: its marks are where pushes to it start
// and what this node must hold before it claims again. The inbox answers
// it.
func (r *Replicator) noteHello(from string, marks map[string]uint64) {
	// The hello is weighed by checkReady; until then the node must not
	// go on counting itself caught up on the view before it, or a claim
	// could slip in and send what the hello's sender already sent. So a
	// hello that announces events this node lacks stops CaughtUp at once,
	// with no checkReady in between to undo it.
	r.checkMu.Lock()
	if !r.holds(marks) {
		r.caught.Store(false)
	}
	r.mu.Lock()
	r.hellos[from] = hello{marks: marks, at: r.opts.Now()}
	r.mu.Unlock()
	r.checkMu.Unlock()
	r.noteMarks(from, marks, false)
	r.startCatchUp(from, marks)
	r.checkReady()
	r.poke()
}

// holds reports whether this node's store holds every event of other
// origins that marks name; false when the store cannot tell.
func (r *Replicator) holds(marks map[string]uint64) bool {
	held, err := r.st.Marks()
	if err != nil {
		return false
	}
	for o, m := range marks {
		if o != r.origin && held[o] < m {
			return false
		}
	}
	return true
}

// poke has the watcher check readiness again soon.
func (r *Replicator) poke() {
	select {
	case r.recheck <- struct{}{}:
	default:
	}
}

// watch checks readiness while the node waits for peers: when a hello or
// a new peer's timeout runs out, the node stops waiting for it. It also
// counts the members the membership counts dead that still send, and
// stops counting each when its frames stop (speaking.go). It ends at
// Close.
func (r *Replicator) watch() {
	defer r.wg.Done()
	tick := time.NewTicker(max(r.opts.CatchUpTimeout/10, 50*time.Millisecond))
	defer tick.Stop()
	quiet := time.NewTimer(time.Hour) // the first speaking member's window ends
	defer quiet.Stop()
	for {
		select {
		case <-tick.C:
		case <-r.recheck:
		case <-quiet.C:
		case <-r.done:
			return
		}
		if !r.CaughtUp() || !r.isReadyNow() {
			r.checkReady()
		}
		changed, next := r.updateSpeaking()
		if changed {
			r.membersChanged()
		}
		if next > 0 {
			quiet.Reset(next)
		}
	}
}

func (r *Replicator) isReadyNow() bool {
	select {
	case <-r.ready:
		return true
	default:
		return false
	}
}

// checkReady works out CaughtUp, and marks the node ready once it has
// heard a peer's state, holds everything its peers said they hold and is
// caught up. Calls are serialised, so that CaughtUp moves in order and
// OnCaughtUp is called once per return to caught up.
func (r *Replicator) checkReady() {
	r.checkMu.Lock()
	defer r.checkMu.Unlock()
	now := r.opts.Now()
	r.mu.Lock()
	want := make(map[string]uint64, len(r.want))
	if !r.isReady && r.heard {
		for o, m := range r.want {
			want[o] = m
		}
	}
	waiting := false // a live peer's hello has not come yet
	for name, p := range r.peers {
		if _, ok := r.hellos[name]; !ok && now.Sub(p.added) < r.opts.CatchUpTimeout {
			waiting = true
		}
		if p.asked != 0 && now.Sub(p.askedAt) < r.opts.CatchUpTimeout {
			waiting = true // its answer to the hello after a death
		}
	}
	// Every recent hello counts, a member's too that this node's
	// membership does not list yet: views converge at different moments
	// (a partition heals and the other side sees this node first), and
	// that member already pushes to it what its hello announced.
	for name, h := range r.hellos {
		switch {
		case now.Sub(h.at) < r.opts.CatchUpTimeout:
			for o, m := range h.marks {
				if o != r.origin {
					want[o] = max(want[o], m)
				}
			}
		case r.peers[name] == nil:
			delete(r.hellos, name) // an old hello of a member never seen
		}
	}
	ready, heard := r.isReady, r.heard
	r.mu.Unlock()

	caught := !waiting && (len(want) == 0 || r.holds(want))
	wasCaught := r.caught.Swap(caught)
	if caught && !ready && heard {
		r.MarkReady()
	}
	if caught && !wasCaught && r.opts.OnCaughtUp != nil {
		r.opts.OnCaughtUp()
	}
}
