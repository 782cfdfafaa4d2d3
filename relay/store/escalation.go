package store

import (
	"bytes"
	"encoding/binary"
	"encoding/json"

	bolt "go.etcd.io/bbolt"

	"github.com/oob-relay/relay/relay"
)

// Escalations are kept per step and per node that fired it: each
// relay.Escalated event is stored under (message, round, step, origin),
// and a step's people are the union of what every node that fired it
// notified. A message whose escalation has neither been acknowledged nor
// run out is indexed in bucketEscalating, which the node's timer reads
// when it starts.

// escalatedRecord is a stored escalation step with the event that fired
// it.
type escalatedRecord struct {
	relay.Escalated
	Clock  uint64 `json:"clock"`
	Origin string `json:"origin"`
}

// escalatedKey is message 0x00 round step origin.
func escalatedKey(msgID string, round, step int, origin string) []byte {
	k := make([]byte, 0, len(msgID)+1+8+len(origin))
	k = append(k, msgID...)
	k = append(k, 0)
	k = binary.BigEndian.AppendUint32(k, uint32(round))
	k = binary.BigEndian.AppendUint32(k, uint32(step))
	return append(k, origin...)
}

// escalated folds one step of an escalation: it keeps the step, creates
// the deliveries of the people it notifies for the first time, opens
// again those of people notified in an earlier round, and ends the
// escalation's place in the index when the steps ran out.
func (f *folder) escalated(e *relay.Event) error {
	x := e.Escalated
	if f.pruned(x.Message) {
		return nil
	}
	b := f.tx.Bucket(bucketEscalated)
	key := escalatedKey(x.Message, x.Round, x.Step, e.Origin)
	if b.Get(key) != nil {
		return nil // this node's record of the step is kept already
	}
	raw, err := json.Marshal(&escalatedRecord{Escalated: *x, Clock: uint64(e.Clock), Origin: e.Origin})
	if err != nil {
		return err
	}
	if err := b.Put(key, raw); err != nil {
		return err
	}
	source := relay.Version{Clock: uint64(e.Clock), Origin: e.Origin}
	for _, r := range x.Recipients {
		for _, ch := range r.Channels {
			id := relay.DeliveryID(x.Message, ch, r.Person.ID)
			d, err := f.delivery(id)
			if err != nil {
				return err
			}
			if d == nil {
				d = &relay.Delivery{ID: id, MessageID: x.Message, Person: r.Person.ID, Channel: ch, Status: relay.StatusPending}
				f.count(x.Message, "", relay.StatusPending)
			}
			if d.Source == (relay.Version{}) || source.Less(d.Source) {
				d.Source = source
				d.Incident, d.Priority, d.Deadline, d.CreatedAt = x.Incident, x.Priority, x.Deadline, x.At
				if d.Version == (relay.Version{}) {
					d.UpdatedAt = x.At
				}
			}
			f.deliveries[id] = d
		}
	}
	for i := range x.Reopen {
		if err := f.change(&x.Reopen[i], e); err != nil {
			return err
		}
		if d := f.deliveries[x.Reopen[i].ID]; d != nil && x.Deadline.After(d.Deadline) {
			d.Deadline = x.Deadline // a repeat round retries as long as a new step
		}
	}
	if x.Exhausted {
		return f.tx.Bucket(bucketEscalating).Delete([]byte(x.Message))
	}
	return nil
}

// noteEscalating indexes message m when it follows an escalation policy
// that neither an acknowledgement nor its end has stopped: whichever of
// the message, its acknowledgements and its last step arrives first, the
// index ends the same.
func (f *folder) noteEscalating(m *relay.Message) error {
	if m.Escalation == nil {
		return nil
	}
	if hasPrefix(f.tx.Bucket(bucketAcks), ackKey(m.ID, "")) {
		return nil
	}
	prefix := append([]byte(m.ID), 0)
	c := f.tx.Bucket(bucketEscalated).Cursor()
	for k, v := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, v = c.Next() {
		var rec escalatedRecord
		if err := decode(v, &rec); err != nil {
			return err
		}
		if rec.Exhausted {
			return nil
		}
	}
	return f.tx.Bucket(bucketEscalating).Put([]byte(m.ID), nil)
}

// escalations returns the stored steps of message msgID, in (round,
// step, origin) order.
func escalations(tx *bolt.Tx, msgID string) ([]relay.Escalated, error) {
	var out []relay.Escalated
	prefix := append([]byte(msgID), 0)
	c := tx.Bucket(bucketEscalated).Cursor()
	for k, v := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, v = c.Next() {
		var rec escalatedRecord
		if err := decode(v, &rec); err != nil {
			return nil, err
		}
		out = append(out, rec.Escalated)
	}
	return out, nil
}

// withEscalations adds to m's recipients the people its escalation's
// later steps notified, so that everyone who looks a message up (the
// delivery engine for a person's address, a reply or an acknowledgement
// for who was asked) sees everyone it reached.
func withEscalations(tx *bolt.Tx, m *relay.Message) error {
	if m.Escalation == nil {
		return nil
	}
	steps, err := escalations(tx, m.ID)
	if err != nil {
		return err
	}
	for i := range steps {
		// Deliveries of a later step are retried past the first step's
		// deadline: the message's deadline is its latest step's.
		if steps[i].Deadline.After(m.Deadline) {
			m.Deadline = steps[i].Deadline
		}
		for _, r := range steps[i].Recipients {
			if _, ok := m.Recipient(r.Person.ID); !ok {
				m.Recipients = append(m.Recipients, r)
			}
		}
	}
	return nil
}

// Escalations returns the steps of message msgID's escalation that
// fired, in (round, step) order; a step two nodes fired is there twice.
func (s *Store) Escalations(msgID string) ([]relay.Escalated, error) {
	var out []relay.Escalated
	err := s.view(func(tx *bolt.Tx) error {
		var err error
		out, err = escalations(tx, msgID)
		return err
	})
	return out, err
}

// Escalating returns the ids of the messages whose escalation has been
// neither acknowledged nor run out.
func (s *Store) Escalating() ([]string, error) {
	var out []string
	err := s.view(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketEscalating).ForEach(func(k, _ []byte) error {
			out = append(out, string(k))
			return nil
		})
	})
	return out, err
}
