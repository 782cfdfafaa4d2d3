package delivery

import "github.com/oob-relay/relay/relay"

// observeEscalated queues the deliveries a step of an escalation added or
// opened again. The message's cached copy lacks the step's people, so it
// is read from the store again.
func (e *Engine) observeEscalated(x *relay.Escalated) {
	e.msgs.forget(x.Message)
	for _, r := range x.Recipients {
		for _, ch := range r.Channels {
			if l := e.lanes[ch]; l != nil {
				l.q.push(item{id: relay.DeliveryID(x.Message, ch, r.Person.ID), msgID: x.Message, priority: x.Priority, due: x.At, fresh: true})
			}
		}
	}
	for i := range x.Reopen {
		if l := e.lanes[channelOf(x.Reopen[i].ID)]; l != nil {
			l.q.push(item{id: x.Reopen[i].ID, msgID: x.Message, priority: x.Priority, due: x.At})
		}
	}
}
