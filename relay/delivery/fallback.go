package delivery

import (
	"fmt"
	"strings"
	"time"

	"github.com/oob-relay/relay/relay"
)

// turn is what the fallback policy says about a delivery about to be
// claimed.
type turn struct {
	// wait, when set, is when to look again: an earlier channel of the
	// person is still under way.
	wait time.Time
	// skip, when set, says why the delivery is not needed: the person was
	// reached (or answered) before its turn came.
	skip string
}

// fallbackTurn decides whether delivery d may start now under its
// message's policy. In fallback mode a person's channels go one after
// another: channel k starts once every earlier channel has given way,
// that is failed, or gone unconfirmed for the message's UnconfirmedAfter
// since its first attempt. A delivery already attempted goes on; the
// first channel and every delivery of an all-mode message start at once.
func (l *lane) fallbackTurn(d *relay.Delivery, msg *cachedMessage, now time.Time) (turn, error) {
	if msg.Mode != relay.ModeFallback || d.Person == "" || d.Attempts > 0 {
		return turn{}, nil
	}
	rec, ok := msg.Recipient(d.Person)
	if !ok {
		return turn{}, nil
	}
	st := l.e.store
	acked, err := st.Acked(msg.ID, d.Person)
	if err != nil {
		return turn{}, err
	}
	if acked {
		return turn{skip: "not needed: the person acknowledged the message"}, nil
	}
	var wait time.Time
	for _, ch := range rec.Channels {
		if ch == d.Channel {
			break
		}
		prev, err := st.Delivery(relay.DeliveryID(msg.ID, ch, d.Person))
		if err != nil {
			return turn{}, fmt.Errorf("earlier channel %s: %w", ch, err)
		}
		switch {
		case prev.Status == relay.StatusDelivered:
			return turn{skip: "not needed: delivered by " + ch}, nil
		case prev.Status == relay.StatusSent && !relay.ReportsReceipts(ch):
			return turn{skip: "not needed: sent by " + ch}, nil
		case prev.Status == relay.StatusFailed, prev.Status == relay.StatusSkipped:
			continue
		case prev.StartedAt.IsZero():
			// Not started yet: it will kick this one when it gives way;
			// look again after a full period in case that news is lost.
			wait = later(wait, now.Add(msg.UnconfirmedAfter))
		default:
			if at := prev.StartedAt.Add(msg.UnconfirmedAfter); now.Before(at) {
				wait = later(wait, at)
			}
		}
	}
	return turn{wait: wait}, nil
}

func later(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}

// kickNextChannels queues the other channels of a person whose delivery
// just failed for good, or reached them, so that fallback moves on (or
// skips what is no longer needed) at once rather than at its next
// scheduled look. The claim decides what their turn brings.
func (e *Engine) kickNextChannels(deliveryID string, prio relay.Priority, now time.Time) {
	msgID, rest, ok := strings.Cut(deliveryID, ".")
	if !ok {
		return
	}
	failedCh, person, ok := strings.Cut(rest, ".")
	if !ok || person == "" {
		return
	}
	for ch, l := range e.lanes {
		if ch != failedCh && !relay.Broadcast(ch) {
			l.q.pushSooner(item{id: relay.DeliveryID(msgID, ch, person), msgID: msgID, priority: prio, due: now})
		}
	}
}
