package delivery

import (
	"context"
	"time"

	"github.com/oob-relay/relay/relay"
)

// outcome is the result of one attempt to record, and when to try again.
type outcome struct {
	change  relay.DeliveryChange
	d       *relay.Delivery
	retryAt time.Time
}

// recorded is a batch of outcomes on disk (or that failed to get there),
// on its way to being confirmed by the peers.
type recorded struct {
	outcomes []outcome
	seq      uint64    // the event that holds them, when err is nil
	at       time.Time // when they were written
	err      error
}

// maxOutcomes bounds the attempt results written in one event.
const maxOutcomes = 1024

// record writes attempt results as they come, every result waiting at
// the moment in one event, so that a fast fan-out costs one commit per
// batch of results rather than one per attempt. Workers do not wait for
// it: they hold a lane's unrecorded token per attempt until confirm has
// seen the result on disk and on the peers, which bounds the attempts a
// crash could repeat. It returns when results is closed and drained.
func (l *lane) record() {
	defer l.e.recWG.Done()
	defer close(l.recorded)
	for first := range l.results {
		batch := []outcome{first}
	more:
		for len(batch) < maxOutcomes {
			select {
			case o, ok := <-l.results:
				if !ok {
					break more
				}
				batch = append(batch, o)
			default:
				break more
			}
		}
		changes := make([]relay.DeliveryChange, len(batch))
		for i := range batch {
			changes[i] = batch[i].change
		}
		// Record even while stopping: the attempts happened.
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		evs, err := l.e.store.Append(ctx, relay.Event{Deliveries: changes})
		cancel()
		r := recorded{outcomes: batch, at: l.e.opts.Now(), err: err}
		if err == nil {
			r.seq = evs[len(evs)-1].Seq
		}
		l.recorded <- r
	}
}

// confirm waits, batch by batch in order, until the peers hold what the
// recorder wrote (awaitCopies), then frees the batch's unrecorded
// tokens and queues its retries. Waiting here rather than in record lets
// the next batch commit meanwhile. It returns when recorded is closed
// and drained.
func (l *lane) confirm() {
	defer l.e.recWG.Done()
	for r := range l.recorded {
		if r.err == nil && l.e.opts.Copied != nil {
			l.awaitCopies(context.Background(), r.seq, r.at, "result", len(r.outcomes))
		}
		for _, o := range r.outcomes {
			l.setBusy(o.d.ID, false)
			<-l.unrecorded
		}
		if r.err != nil {
			// The claims stand: a restart re-sends them (a bounded duplicate).
			l.e.log.Error("recording attempts failed", "channel", l.channel, "attempts", len(r.outcomes), "err", r.err)
			continue
		}
		for _, o := range r.outcomes {
			if !o.retryAt.IsZero() {
				l.q.push(item{id: o.d.ID, msgID: o.d.MessageID, priority: o.d.Priority, due: o.retryAt})
			}
		}
	}
}

// awaitCopies asks Copied again and again until the peers hold seq (n
// claims or attempt results, what), so that an SMS waits for its claim and
// a lane's tokens stay held while the peers are slow. It gives up while
// the engine stops, and once since is a quarter of Lease old, counting
// the n as unconfirmed: past that, the attempts behind would wait until
// their claims went stale.
func (l *lane) awaitCopies(ctx context.Context, seq uint64, since time.Time, what string, n int) {
	e := l.e
	for !e.opts.Copied(ctx, seq) {
		if e.dispatchCtx.Err() != nil {
			return
		}
		if e.opts.Now().Sub(since) >= e.opts.Lease/4 {
			e.m.unconfirmed.WithLabelValues(l.channel, what).Add(float64(n))
			return
		}
	}
}
