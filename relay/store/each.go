package store

import (
	"bytes"
	"fmt"
	"slices"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/oob-relay/relay/relay"
)

// DeliveryState is where one delivery stands, as a summary of many
// (an incident room's delivery matrix) needs it.
type DeliveryState struct {
	Person, Channel string
	Status          relay.Status
	// Error and Reason are the last failure's, for a delivery failed or
	// waiting to retry.
	Error     string
	Reason    relay.Reason
	CreatedAt time.Time
}

// EachDeliveryState calls fn with the state of each of a message's
// deliveries, in no particular order, reading from each record only what
// DeliveryState holds: a page summarising 20,000 deliveries neither
// builds the list Deliveries returns nor decodes the rest of each.
// fn returns an error to stop.
func (s *Store) EachDeliveryState(msgID string, fn func(DeliveryState) error) error {
	prefix := []byte(msgID + ".")
	return s.view(func(tx *bolt.Tx) error {
		var packed []relay.Delivery
		if raw := tx.Bucket(bucketPacked).Get([]byte(msgID)); raw != nil {
			ds, err := decodePacked(msgID, raw)
			if err != nil {
				return err
			}
			packed = ds
		}
		var own map[string]bool // deliveries with a record of their own, newer than their packed form
		if packed != nil {
			own = map[string]bool{}
		}
		c := tx.Bucket(bucketDeliv).Cursor()
		for k, v := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, v = c.Next() {
			id := string(k)
			st, err := decodeDeliveryState(id, v)
			if err != nil {
				return err
			}
			if own != nil {
				own[id] = true
			}
			if err := fn(st); err != nil {
				return err
			}
		}
		for i := range packed {
			d := &packed[i]
			if !own[d.ID] {
				if err := fn(DeliveryState{Person: d.Person, Channel: d.Channel, Status: d.Status, Error: d.Error, Reason: d.Reason, CreatedAt: d.CreatedAt}); err != nil {
					return err
				}
			}
		}
		return nil
	})
}

// decodeDeliveryState reads the state of delivery id from its record,
// skipping what DeliveryState does not hold (see encodeDelivery).
func decodeDeliveryState(id string, raw []byte) (DeliveryState, error) {
	var st DeliveryState
	if len(raw) == 0 || raw[0] != deliveryV1 {
		d, err := decodeDelivery(id, raw)
		return DeliveryState{Person: d.Person, Channel: d.Channel, Status: d.Status, Error: d.Error, Reason: d.Reason, CreatedAt: d.CreatedAt}, err
	}
	_, st.Channel, st.Person, _ = ParseDeliveryID(id)
	r := reader{b: raw[1:]}
	r.skip()    // incident
	r.uvarint() // priority
	st.Status = status(r.bytes())
	r.uvarint() // attempts
	r.uvarint() // round
	r.skip()    // provider
	r.skip()    // provider id
	r.uvarint() // segments
	r.uvarint() // provider segments
	if e := r.bytes(); len(e) > 0 && st.Status != relay.StatusSent && st.Status != relay.StatusDelivered {
		st.Error = string(e)
	}
	if rs := r.bytes(); len(rs) > 0 && st.Status != relay.StatusSent && st.Status != relay.StatusDelivered {
		st.Reason = relay.Reason(rs)
	}
	r.skip() // code
	r.skip() // owner
	st.CreatedAt = r.time()
	if r.err != nil {
		return DeliveryState{}, fmt.Errorf("decode delivery %s: %w", id, r.err)
	}
	return st, nil
}

// status returns the status b names without allocating for the known
// ones.
func status(b []byte) relay.Status {
	for _, s := range relay.Statuses {
		if string(b) == string(s) {
			return s
		}
	}
	return relay.Status(b)
}

// IncidentMessageIDs returns the ids of an incident's messages in the
// order they were accepted, without reading the messages: a message
// never changes once accepted, so a reader that keeps the ones it read
// needs only the ids to find the new ones.
func (s *Store) IncidentMessageIDs(id string) ([]string, error) {
	var out []string
	prefix := append([]byte(id), 0)
	err := s.view(func(tx *bolt.Tx) error {
		c := tx.Bucket(bucketTimeline).Cursor()
		for k, _ := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, _ = c.Next() {
			out = append(out, string(k[len(prefix)+8:]))
		}
		return nil
	})
	return out, err
}

// SentToOrBy reports whether a message of incident was sent to person
// (a delivery to them) or written by them. The deliveries are looked at
// first, by key: only when none is theirs are the messages read, for
// their authors. Every SMS or mail a person sends asks this of each
// recent incident, and a roll-call's question to 10,000 people is not
// decoded for each answer.
func (s *Store) SentToOrBy(incident, person string) (bool, error) {
	ids, err := s.IncidentMessageIDs(incident)
	if err != nil {
		return false, err
	}
	found := false
	err = s.view(func(tx *bolt.Tx) error {
		deliv, packed, mb := tx.Bucket(bucketDeliv), tx.Bucket(bucketPacked), tx.Bucket(bucketMessages)
		for _, msgID := range ids {
			sent, err := sentTo(deliv, packed, msgID, person)
			if err != nil || sent {
				found = sent
				return err
			}
		}
		for _, msgID := range ids {
			var head struct {
				Author string `json:"author"`
			}
			if err := decode(mb.Get([]byte(msgID)), &head); err != nil {
				return err
			}
			if found = head.Author == person; found {
				return nil
			}
		}
		return nil
	})
	return found, err
}

// sentTo reports whether message msgID has a delivery to person, looked
// up by key, or in its packed record once its deliveries are packed.
func sentTo(deliv, packed *bolt.Bucket, msgID, person string) (bool, error) {
	if slices.ContainsFunc(relay.Channels, func(ch string) bool {
		return !relay.Broadcast(ch) && deliv.Get([]byte(relay.DeliveryID(msgID, ch, person))) != nil
	}) {
		return true, nil
	}
	raw := packed.Get([]byte(msgID))
	if raw == nil {
		return false, nil
	}
	ds, err := decodePacked(msgID, raw)
	if err != nil {
		return false, err
	}
	return slices.ContainsFunc(ds, func(d relay.Delivery) bool { return d.Person == person }), nil
}

// Unacked returns the ids of incident's messages, in the order they were
// accepted, that were sent to person (a delivery to them on some
// channel: every recipient has one) and that person has not
// acknowledged, or relay.ErrNotFound when the incident has no message. It
// reads keys and single deliveries, never a message whole, so an answer
// to a roll-call of 10,000 people does not decode the question's
// recipients.
func (s *Store) Unacked(incident, person string) ([]string, error) {
	ids, err := s.IncidentMessageIDs(incident)
	if err == nil && len(ids) == 0 {
		err = fmt.Errorf("%w: incident %q", relay.ErrNotFound, incident)
	}
	if err != nil {
		return nil, err
	}
	var out []string
	err = s.view(func(tx *bolt.Tx) error {
		acks, deliv, packed := tx.Bucket(bucketAcks), tx.Bucket(bucketDeliv), tx.Bucket(bucketPacked)
		for _, msgID := range ids {
			if acks.Get(ackKey(msgID, person)) != nil {
				continue
			}
			sent, err := sentTo(deliv, packed, msgID, person)
			if err != nil {
				return err
			}
			if sent {
				out = append(out, msgID)
			}
		}
		return nil
	})
	return out, err
}
