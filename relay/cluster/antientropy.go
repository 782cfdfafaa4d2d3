package cluster

import (
	"errors"
	"maps"
	"time"

	"github.com/oob-relay/relay/relay/store"
)

// LocalState is this node's offer in a push/pull: its marks.
func (r *Replicator) LocalState(join bool) []byte {
	marks, err := r.st.Marks()
	if err != nil {
		r.log.Error("reading marks for anti-entropy failed", "err", err)
		return nil
	}
	return r.stateWire(marks)
}

// MergeState takes a peer's marks from a push/pull: it starts sending the
// peer every event it lacks, of every origin, and notes what the peer has
// that this node must hold before it is ready.
func (r *Replicator) MergeState(from string, raw []byte, join bool) {
	marks, err := r.decodeState(from, raw)
	if err != nil {
		r.refuse(from, "anti-entropy state", err)
		return
	}
	r.prove(from)
	r.OnChange() // the peer may be news
	r.noteMarks(from, marks, false)
	r.mu.Lock()
	for o, m := range marks {
		if o != r.origin {
			r.want[o] = max(r.want[o], m)
		}
	}
	r.heard = true
	r.mu.Unlock()
	r.startCatchUp(from, marks)
	r.poke()
}

// startCatchUp starts sending peer from what it lacks of other origins
// than its own according to marks, or, when a catch-up to it is running
// (it started from older marks), has another follow it.
func (r *Replicator) startCatchUp(from string, marks map[string]uint64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	p := r.peers[from]
	if p == nil || r.closed {
		return
	}
	if p.catchUp {
		p.again = true
		return
	}
	p.catchUp = true
	r.wg.Add(1)
	go r.catchUp(p, marks)
}

// catchUp sends p what it lacks according to its marks, origin by
// origin, with at most Options.Window events out unconfirmed and the
// unconfirmed ones sent again after Options.Resend, as push does.
func (r *Replicator) catchUp(p *peer, theirs map[string]uint64) {
	defer r.wg.Done()
	for {
		r.catchUpOnce(p, theirs)
		r.mu.Lock()
		again := p.again && !r.closed
		p.again, p.catchUp = false, again
		theirs = maps.Clone(p.marks)
		r.mu.Unlock()
		if !again {
			return
		}
	}
}

func (r *Replicator) catchUpOnce(p *peer, theirs map[string]uint64) {
	t := r.transport()
	ours, err := r.st.Marks()
	if err != nil || t == nil {
		return
	}
	sent := 0
	for origin, mark := range ours {
		if origin == r.origin {
			continue // this node's own events: the push sends them, resending what is lost
		}
		n, ok := r.sendRange(t, p, origin, theirs[origin], mark)
		sent += n
		if !ok {
			break
		}
	}
	if sent > 0 {
		r.m.repairedEvents.Add(float64(sent))
		r.log.Info("anti-entropy sent a peer what it lacked", "peer", p.name, "events", sent)
	}
}

// sendRange sends p origin's events after from up to to, until p
// confirms it holds them. It returns how many events it sent and false
// when p is gone, the replicator closed or a send failed.
func (r *Replicator) sendRange(t Transport, p *peer, origin string, from, to uint64) (int, bool) {
	sent, after, progress := 0, from, r.opts.Now()
	acked := from
	for {
		if a := r.peerMark(p.name, origin); a > acked {
			acked, progress = a, r.opts.Now()
		}
		after = max(after, acked)
		if acked >= to {
			return sent, true
		}
		if after >= to || after-acked >= uint64(r.opts.Window) {
			r.mu.Lock()
			changed := r.changed
			r.mu.Unlock()
			tm := time.NewTimer(max(r.opts.Resend-r.opts.Now().Sub(progress), time.Millisecond))
			select {
			case <-changed:
			case <-tm.C:
				if r.peerMark(p.name, origin) == acked {
					r.m.resends.Inc()
					after, progress = acked, r.opts.Now()
				}
			case <-p.stop:
				tm.Stop()
				return sent, false
			case <-r.done:
				tm.Stop()
				return sent, false
			}
			tm.Stop()
			continue
		}
		events, err := r.st.EventsFrom(origin, after, min(r.opts.Batch, r.opts.Window-int(after-acked)))
		if errors.Is(err, store.ErrTruncated) {
			// The log no longer holds what the peer lacks: it takes a
			// snapshot instead.
			r.snapshotNeeded(t, p.name)
			return sent, false
		}
		if err != nil || len(events) == 0 {
			return sent, err == nil
		}
		if err := t.SendReliable(p.name, r.seal(p.name, wire{Kind: kindPush, Events: events})); err != nil {
			r.log.Debug("anti-entropy push failed", "peer", p.name, "err", err)
			return sent, false
		}
		if after == acked {
			progress = r.opts.Now()
		}
		sent += len(events)
		after = events[len(events)-1].Seq
	}
}
