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
// holds rather than from the beginning. It reports false when p is gone.
func (r *Replicator) greet(t Transport, p *peer) bool {
	for {
		marks, err := r.st.Marks()
		if err == nil {
			err = t.SendReliable(p.name, encode(wire{Kind: kindHello, Marks: marks}))
		}
		if err == nil {
			break
		}
		r.log.Debug("hello to peer failed; retrying", "peer", p.name, "err", err)
		select {
		case <-time.After(r.opts.Retry):
		case <-p.stop:
			return false
		}
	}
	timeout := time.NewTimer(time.Second)
	defer timeout.Stop()
	for {
		r.mu.Lock()
		_, greeted := r.hellos[p.name] // its hello carries its marks too
		answered, ch := !p.ackedAt.IsZero() || greeted, r.changed
		r.mu.Unlock()
		if answered {
			return true
		}
		select {
		case <-ch:
		case <-timeout.C:
			return true
		case <-p.stop:
			return false
		}
	}
}

// onHello takes a peer's hello, notes its marks (where pushes to it
// start) and answers with this node's marks. The answer is retried for a
// while: a hello can come before this node's membership knows its sender.
func (r *Replicator) onHello(from string, marks map[string]uint64) {
	r.mu.Lock()
	r.hellos[from] = hello{marks: marks, at: r.opts.Now()}
	closed := r.closed
	if !closed {
		r.wg.Add(1)
	}
	r.mu.Unlock()
	r.noteMarks(from, marks, false)
	time.AfterFunc(r.opts.CatchUpTimeout, r.checkReady)
	r.checkReady()
	if closed {
		return
	}
	go func() {
		defer r.wg.Done()
		for range 10 {
			t := r.transport()
			ours, err := r.st.Marks()
			if t == nil || err != nil {
				return
			}
			err = t.SendReliable(from, encode(wire{Kind: kindMarks, Marks: ours}))
			if err == nil {
				return
			}
			r.log.Debug("answering a hello failed; retrying", "peer", from, "err", err)
			time.Sleep(r.opts.Retry)
		}
	}()
}

// checkReady works out CaughtUp, and marks the node ready once it has
// heard a peer's state, holds everything its peers said they hold and is
// caught up.
func (r *Replicator) checkReady() {
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
		h, ok := r.hellos[name]
		switch {
		case !ok && now.Sub(p.added) < r.opts.CatchUpTimeout:
			waiting = true
		case ok && now.Sub(h.at) < r.opts.CatchUpTimeout:
			for o, m := range h.marks {
				if o != r.origin {
					want[o] = max(want[o], m)
				}
			}
		}
	}
	wasCaught, ready, heard := r.caught.Load(), r.isReady, r.heard
	r.mu.Unlock()

	caught := !waiting
	if caught && len(want) > 0 {
		marks, err := r.st.Marks()
		if err != nil {
			return
		}
		for o, m := range want {
			if marks[o] < m {
				caught = false
				break
			}
		}
	}
	r.caught.Store(caught)
	if caught && !ready && heard {
		r.MarkReady()
	}
	if caught && !wasCaught && r.opts.OnCaughtUp != nil {
		r.opts.OnCaughtUp()
	}
}
