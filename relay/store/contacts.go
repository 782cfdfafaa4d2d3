package store

import (
	"bytes"
	"encoding/json"

	bolt "go.etcd.io/bbolt"

	"github.com/oob-relay/relay/relay"
	"github.com/oob-relay/relay/relay/hlc"
)

// contactKey is the key of a person's contact kind in bucketContacts.
func contactKey(person, kind string) []byte { return ackKey(person, kind) }

// contact folds a person's own change of a phone or email: the latest
// change of the person's kind, by clock then origin, is kept, so any
// order of arrival keeps the same one. A roster change leaves these
// alone; retention removes none of them.
func (f *folder) contact(e *relay.Event) error {
	b := f.tx.Bucket(bucketContacts)
	in := relay.SelfContact{ContactChange: *e.Contact, Clock: e.Clock, Origin: e.Origin}
	key := contactKey(in.Person, in.Kind)
	if raw := b.Get(key); raw != nil {
		var cur relay.SelfContact
		if err := decode(raw, &cur); err != nil {
			return err
		}
		if !in.Newer(&cur) {
			return nil
		}
	}
	raw, err := json.Marshal(&in)
	if err != nil {
		return err
	}
	f.rosterChanged = true // the roster in effect changed
	return b.Put(key, raw)
}

// Contacts returns the contact changes people made themselves, the
// latest of each person's kind, in person then kind order.
func (s *Store) Contacts() ([]relay.SelfContact, error) {
	var out []relay.SelfContact
	err := s.view(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketContacts).ForEach(func(_, v []byte) error {
			var c relay.SelfContact
			if err := decode(v, &c); err != nil {
				return err
			}
			out = append(out, c)
			return nil
		})
	})
	return out, err
}

// EffectiveRoster returns the applied roster with the contact changes
// people made themselves on top (relay.Roster.WithContacts), the changes
// the roster file replaced, and the applied roster's clock. Like Roster,
// it is shared and computed once per change of either.
func (s *Store) EffectiveRoster() (*relay.Roster, []relay.ContactConflict, hlc.Timestamp, error) {
	gen := s.rosterGen.Load()
	if c := s.effective.Load(); c != nil && c.gen == gen {
		return c.roster, c.conflicts, c.clock, nil
	}
	applied, clock, err := s.Roster()
	if err != nil {
		return nil, nil, 0, err
	}
	layer, err := s.Contacts()
	if err != nil {
		return nil, nil, 0, err
	}
	r, conflicts := applied.WithContacts(layer, clock)
	s.effective.Store(&effectiveCache{gen: gen, roster: r, conflicts: conflicts, clock: clock})
	return r, conflicts, clock, nil
}

// effectiveCache is the roster in effect as of a roster generation.
type effectiveCache struct {
	gen       uint64
	roster    *relay.Roster
	conflicts []relay.ContactConflict
	clock     hlc.Timestamp
}

// mergeContacts adds the contact changes of a snapshot (in) to this
// store's (tx), the later of two of a person's kind winning. A snapshot
// from a node that keeps none has no bucket, and adds nothing.
func mergeContacts(in, tx *bolt.Tx) error {
	from := in.Bucket(bucketContacts)
	if from == nil {
		return nil
	}
	to := tx.Bucket(bucketContacts)
	return from.ForEach(func(k, v []byte) error {
		var theirs relay.SelfContact
		if err := decode(v, &theirs); err != nil {
			return err
		}
		if raw := to.Get(k); raw != nil {
			var mine relay.SelfContact
			if err := decode(raw, &mine); err != nil {
				return err
			}
			if !theirs.Newer(&mine) {
				return nil
			}
		}
		return to.Put(bytes.Clone(k), bytes.Clone(v))
	})
}
