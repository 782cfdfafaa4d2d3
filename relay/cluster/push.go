package cluster

import (
	"errors"
	"time"

	"github.com/oob-relay/relay/relay/store"
)

// push sends this node's events to p, in order, as they come, until p is
// gone. At most Options.Window events are out unconfirmed; when the peer
// confirms nothing for Options.Resend, the sender starts again from what
// the peer last confirmed, so a push the peer dropped or lost is sent
// again. A failed send is retried after Options.Retry.
func (r *Replicator) push(t Transport, p *peer) {
	defer r.wg.Done()
	if !r.greet(t, p) {
		return
	}
	acked := r.peerMark(p.name, r.origin)
	sent, progress := acked, r.opts.Now()
	for {
		r.mu.Lock()
		changed := r.changed
		r.mu.Unlock()
		if a := r.peerMark(p.name, r.origin); a > acked {
			acked, progress = a, r.opts.Now()
		}
		sent = max(sent, acked)
		latest := r.latest.Load()
		if sent >= latest || sent-acked >= uint64(r.opts.Window) {
			// Everything is out, or as much as the peer may have
			// unconfirmed: wait for news.
			var resend <-chan time.Time
			var tm *time.Timer
			if acked < sent {
				tm = time.NewTimer(max(r.opts.Resend-r.opts.Now().Sub(progress), time.Millisecond))
				resend = tm.C
			}
			gone := false
			select {
			case <-p.wake:
			case <-changed:
			case <-resend:
				if r.peerMark(p.name, r.origin) == acked {
					r.m.resends.Inc()
					r.log.Debug("peer confirmed nothing in time; sending again", "peer", p.name, "from", acked)
					sent, progress = acked, r.opts.Now()
				}
			case <-p.stop:
				gone = true
			case <-r.done:
				gone = true
			}
			if tm != nil {
				tm.Stop()
			}
			if gone {
				return
			}
			continue
		}
		limit := min(r.opts.Batch, r.opts.Window-int(sent-acked))
		events, err := r.st.EventsFrom(r.origin, sent, limit)
		if errors.Is(err, store.ErrTruncated) {
			// The peer lacks events this node no longer keeps: it takes a
			// snapshot, and tells its marks after.
			r.snapshotNeeded(t, p.name)
			if !r.sleep(r.opts.Resend, p.stop) {
				return
			}
			sent = r.peerMark(p.name, r.origin)
			continue
		}
		if err == nil && len(events) == 0 {
			sent = latest
			continue
		}
		if err == nil && latest-sent <= maxFresh && r.pushDatagram(t, p, events) {
			r.m.pushes.WithLabelValues("ok").Inc()
			r.m.pushedEvents.Add(float64(len(events)))
			sent = events[len(events)-1].Seq
			continue
		}
		if err == nil {
			err = t.SendReliable(p.name, r.seal(p.name, wire{Kind: kindPush, Events: events}))
		}
		if err != nil {
			r.m.pushes.WithLabelValues("failed").Inc()
			r.log.Debug("push to peer failed; retrying", "peer", p.name, "err", err)
			sent = r.peerMark(p.name, r.origin)
			if !r.sleep(r.opts.Retry, p.stop) {
				return
			}
			continue
		}
		if sent == acked {
			progress = r.opts.Now() // the clock for a confirmation starts now
		}
		r.m.pushes.WithLabelValues("ok").Inc()
		r.m.pushedEvents.Add(float64(len(events)))
		sent = events[len(events)-1].Seq
	}
}

// snapshotNeeded tells peer to to take a snapshot from this node.
func (r *Replicator) snapshotNeeded(t Transport, to string) {
	if err := t.SendReliable(to, r.seal(to, wire{Kind: kindSnapNeeded})); err != nil {
		r.log.Debug("telling a peer to take a snapshot failed", "peer", to, "err", err)
	}
}
