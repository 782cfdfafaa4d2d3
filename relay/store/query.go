package store

import (
	"bytes"
	"fmt"
	"slices"
	"sort"
	"strings"

	bolt "go.etcd.io/bbolt"

	"github.com/oob-relay/relay/relay"
	"github.com/oob-relay/relay/relay/hlc"
)

// Message returns a message, or relay.ErrNotFound.
func (s *Store) Message(id string) (*relay.Message, error) {
	var rec messageRecord
	err := s.view(func(tx *bolt.Tx) error {
		raw := tx.Bucket(bucketMessages).Get([]byte(id))
		if raw == nil {
			return relay.ErrNotFound
		}
		if err := decode(raw, &rec); err != nil {
			return err
		}
		return withEscalations(tx, &rec.Message)
	})
	if err != nil {
		return nil, err
	}
	return &rec.Message, nil
}

// Deliveries returns a message's deliveries in id order.
func (s *Store) Deliveries(msgID string) ([]relay.Delivery, error) {
	var out []relay.Delivery
	prefix := []byte(msgID + ".")
	err := s.view(func(tx *bolt.Tx) error {
		var at map[string]int // packed deliveries by id
		if raw := tx.Bucket(bucketPacked).Get([]byte(msgID)); raw != nil {
			ds, err := decodePacked(msgID, raw)
			if err != nil {
				return err
			}
			out, at = ds, make(map[string]int, len(ds))
			for i := range ds {
				at[ds[i].ID] = i
			}
		}
		c := tx.Bucket(bucketDeliv).Cursor()
		for k, v := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, v = c.Next() {
			d, err := decodeDelivery(string(k), v)
			if err != nil {
				return err
			}
			// A delivery's own record is newer than its packed form.
			if i, ok := at[d.ID]; ok {
				out[i] = d
			} else {
				out = append(out, d)
			}
		}
		return nil
	})
	slices.SortFunc(out, func(a, b relay.Delivery) int { return strings.Compare(a.ID, b.ID) })
	return out, err
}

// Delivery returns one delivery, or relay.ErrNotFound.
func (s *Store) Delivery(id string) (*relay.Delivery, error) {
	if d, ok := s.hot.get(id); ok {
		return &d, nil
	}
	var d relay.Delivery
	err := s.view(func(tx *bolt.Tx) error {
		f := folder{tx: tx}
		p, err := f.delivery(id)
		if err == nil && p == nil {
			err = relay.ErrNotFound
		}
		if err == nil {
			d = *p
		}
		return err
	})
	if err != nil {
		return nil, err
	}
	return &d, nil
}

// Counts returns a message's deliveries counted by status.
func (s *Store) Counts(msgID string) (StatusCounts, error) {
	c := StatusCounts{}
	err := s.view(func(tx *bolt.Tx) error {
		if raw := tx.Bucket(bucketCounts).Get([]byte(msgID)); raw != nil {
			return decode(raw, &c)
		}
		return nil
	})
	return c, err
}

// OpenDeliveries returns every delivery not yet settled: pending, or
// sending when the node stopped mid-attempt.
func (s *Store) OpenDeliveries() ([]relay.Delivery, error) { return s.indexed(bucketOpen) }

// AwaitingReceipts returns every delivery sent on a channel whose
// provider reports arrival (SMS, voice) whose report has not come yet.
func (s *Store) AwaitingReceipts() ([]relay.Delivery, error) { return s.indexed(bucketAwaiting) }

// indexed returns the deliveries an index bucket lists.
func (s *Store) indexed(index []byte) ([]relay.Delivery, error) {
	var out []relay.Delivery
	err := s.view(func(tx *bolt.Tx) error {
		db := tx.Bucket(bucketDeliv)
		return tx.Bucket(index).ForEach(func(k, _ []byte) error {
			d, err := decodeDelivery(string(k), db.Get(k))
			if err != nil {
				return err
			}
			out = append(out, d)
			return nil
		})
	})
	return out, err
}

// Incidents returns every incident, most recently active first.
func (s *Store) Incidents() ([]relay.Incident, error) {
	var out []relay.Incident
	err := s.view(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketIncidents).ForEach(func(_, v []byte) error {
			var inc relay.Incident
			if err := decode(v, &inc); err != nil {
				return err
			}
			out = append(out, inc)
			return nil
		})
	})
	sort.SliceStable(out, func(i, j int) bool { return out[i].LastMessageAt.After(out[j].LastMessageAt) })
	return out, err
}

// Incident returns an incident, or relay.ErrNotFound.
func (s *Store) Incident(id string) (*relay.Incident, error) {
	var inc relay.Incident
	err := s.view(func(tx *bolt.Tx) error {
		raw := tx.Bucket(bucketIncidents).Get([]byte(id))
		if raw == nil {
			return relay.ErrNotFound
		}
		return decode(raw, &inc)
	})
	if err != nil {
		return nil, err
	}
	return &inc, nil
}

// IncidentMessages returns an incident's messages in the order they were
// accepted.
func (s *Store) IncidentMessages(id string) ([]relay.Message, error) {
	var out []relay.Message
	prefix := append([]byte(id), 0)
	err := s.view(func(tx *bolt.Tx) error {
		mb := tx.Bucket(bucketMessages)
		c := tx.Bucket(bucketTimeline).Cursor()
		for k, _ := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, _ = c.Next() {
			msgID := k[len(prefix)+8:]
			var rec messageRecord
			if err := decode(mb.Get(msgID), &rec); err != nil {
				return err
			}
			if err := withEscalations(tx, &rec.Message); err != nil {
				return err
			}
			out = append(out, rec.Message)
		}
		return nil
	})
	return out, err
}

// Roster returns the current roster and when it was set; a zero roster
// and clock when none was ever set. The roster is shared: read it, do
// not change it (Clone it to change it). It is decoded once per roster
// change, not once per call: every post resolves its audience with it.
func (s *Store) Roster() (*relay.Roster, hlc.Timestamp, error) {
	gen := s.rosterGen.Load()
	if c := s.roster.Load(); c != nil && c.gen == gen {
		return c.roster, c.clock, nil
	}
	var rec rosterRecord
	err := s.view(func(tx *bolt.Tx) error {
		if raw := tx.Bucket(bucketRoster).Get(keyCurrent); raw != nil {
			return decode(raw, &rec)
		}
		return nil
	})
	if err != nil {
		return nil, 0, err
	}
	// Kept under the generation read before: if a roster change came in
	// meanwhile, the next call reads again.
	s.roster.Store(&rosterCache{gen: gen, roster: &rec.Roster, clock: rec.Clock})
	return &rec.Roster, rec.Clock, nil
}

// RosterVersion says which change put the current roster in place.
type RosterVersion struct {
	By     string
	Clock  hlc.Timestamp
	Origin string
}

// RosterVersion returns the change that put the current roster in place;
// the zero version when no roster was ever set.
func (s *Store) RosterVersion() (RosterVersion, error) {
	var rec rosterRecord
	err := s.view(func(tx *bolt.Tx) error {
		if raw := tx.Bucket(bucketRoster).Get(keyCurrent); raw != nil {
			return decode(raw, &rec)
		}
		return nil
	})
	return RosterVersion{By: rec.By, Clock: rec.Clock, Origin: rec.Origin}, err
}

// rosterCache is the decoded roster as of a roster generation.
type rosterCache struct {
	gen    uint64
	roster *relay.Roster
	clock  hlc.Timestamp
}

// Marks returns, for every origin held, the highest sequence below which
// no event is missing.
func (s *Store) Marks() (map[string]uint64, error) {
	out := make(map[string]uint64)
	err := s.view(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketMarks).ForEach(func(k, v []byte) error {
			out[string(k)] = getU64(v)
			return nil
		})
	})
	return out, err
}

// EventsFrom returns up to limit events of origin with sequence above
// after, in sequence order. When the log no longer holds the event just
// after after (it was truncated: every peer held it), it returns an error
// wrapping ErrTruncated: whoever needs it needs a snapshot.
func (s *Store) EventsFrom(origin string, after uint64, limit int) ([]relay.Event, error) {
	var out []relay.Event
	err := s.view(func(tx *bolt.Tx) error {
		if floor := getU64(tx.Bucket(bucketFloors).Get([]byte(origin))); after < floor {
			return fmt.Errorf("%w: events of %s after %d (the log starts after %d)", ErrTruncated, origin, after, floor)
		}
		lb := tx.Bucket(bucketLog).Bucket([]byte(origin))
		if lb == nil {
			return nil
		}
		c := lb.Cursor()
		for k, v := c.Seek(u64(after + 1)); k != nil && len(out) < limit; k, v = c.Next() {
			var e relay.Event
			if err := decode(v, &e); err != nil {
				return err
			}
			out = append(out, e)
		}
		return nil
	})
	return out, err
}

// Acks returns the acknowledgements of a message, one per person, in
// person id order.
func (s *Store) Acks(msgID string) ([]relay.Ack, error) {
	var out []relay.Ack
	prefix := ackKey(msgID, "")
	err := s.view(func(tx *bolt.Tx) error {
		c := tx.Bucket(bucketAcks).Cursor()
		for k, v := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, v = c.Next() {
			var rec ackRecord
			if err := decode(v, &rec); err != nil {
				return err
			}
			out = append(out, rec.Ack)
		}
		return nil
	})
	return out, err
}

// Acked reports whether person has acknowledged message msgID.
func (s *Store) Acked(msgID, person string) (bool, error) {
	found := false
	err := s.view(func(tx *bolt.Tx) error {
		found = tx.Bucket(bucketAcks).Get(ackKey(msgID, person)) != nil
		return nil
	})
	return found, err
}

// StoppedChannels returns the latest consent change of every person and
// channel that is stopped now, in person order.
func (s *Store) StoppedChannels() ([]relay.Consent, error) {
	var out []relay.Consent
	err := s.view(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketConsent).ForEach(func(_, v []byte) error {
			var rec consentRecord
			if err := decode(v, &rec); err != nil {
				return err
			}
			if rec.Stopped {
				out = append(out, rec.Consent)
			}
			return nil
		})
	})
	return out, err
}

// getRecord reads the record kept under key in bucket, or
// relay.ErrNotFound.
func getRecord[T any](s *Store, bucket []byte, key string) (*T, error) {
	var rec T
	found := false
	err := s.view(func(tx *bolt.Tx) error {
		raw := tx.Bucket(bucket).Get([]byte(key))
		if raw == nil {
			return nil
		}
		found = true
		return decode(raw, &rec)
	})
	if err != nil {
		return nil, err
	}
	if !found {
		return nil, relay.ErrNotFound
	}
	return &rec, nil
}
