package delivery

import (
	"context"
	"time"

	"github.com/oob-relay/relay/relay"
)

// outcome is the recorded result of one attempt, and when to try again.
type outcome struct {
	change  relay.DeliveryChange
	d       *relay.Delivery
	retryAt time.Time
	done    chan struct{} // closed once recorded (or recording failed)
}

// maxOutcomes bounds the attempt results written in one event.
const maxOutcomes = 1024

// record writes attempt results as they come, every result waiting at
// the moment in one event, so that a fast fan-out costs one commit per
// batch of results rather than one per attempt. Each result's worker
// waits until its result is on disk and, in a cluster, held by the peers
// (Options.Copied): so the attempts a crash could repeat (sent, but not
// known to the nodes that take over) never exceed the workers. It
// returns when results is closed and drained.
func (l *lane) record() {
	defer l.e.recWG.Done()
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
		if err == nil && l.e.opts.Copied != nil {
			l.e.opts.Copied(context.Background(), evs[len(evs)-1].Seq)
		}
		for _, o := range batch {
			l.setBusy(o.d.ID, false)
			close(o.done)
		}
		if err != nil {
			// The claims stand: a restart re-sends them (a bounded duplicate).
			l.e.log.Error("recording attempts failed", "channel", l.channel, "attempts", len(batch), "err", err)
			continue
		}
		for _, o := range batch {
			if !o.retryAt.IsZero() {
				l.q.push(item{id: o.d.ID, msgID: o.d.MessageID, priority: o.d.Priority, due: o.retryAt})
			}
		}
	}
}
