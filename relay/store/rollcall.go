package store

import (
	"bytes"
	"cmp"
	"encoding/json"
	"errors"
	"slices"
	"strings"

	bolt "go.etcd.io/bbolt"

	"github.com/oob-relay/relay/relay"
)

// Roll-calls are folded into two buckets: the roll-calls by id, and the
// latest answer of each person by roll-call and person. Both are carried
// by snapshots.

// rollCallRecord is a stored roll-call with the event that started it.
// The same id started twice (a retried start on two nodes) keeps the
// earliest start by (clock, origin), as messages do.
type rollCallRecord struct {
	relay.RollCall
	Clock  uint64 `json:"clock"`
	Origin string `json:"origin"`
}

// answerRecord is a stored roll-call answer with the event that made it.
type answerRecord struct {
	relay.RollCallAnswer
	Clock  uint64 `json:"clock"`
	Origin string `json:"origin"`
}

func (f *folder) rollCall(e *relay.Event) error {
	if f.pruned(e.RollCall.Message) || f.pruned(string(rollCallTombstone(e.RollCall.ID))) {
		return nil // removed by retention; a late start brings nothing back
	}
	b := f.tx.Bucket(bucketRollCalls)
	key := []byte(e.RollCall.ID)
	if raw := b.Get(key); raw != nil {
		var cur rollCallRecord
		if err := decode(raw, &cur); err != nil {
			return err
		}
		if cur.Clock < uint64(e.Clock) || (cur.Clock == uint64(e.Clock) && cur.Origin <= e.Origin) {
			return nil
		}
	}
	raw, err := json.Marshal(&rollCallRecord{RollCall: *e.RollCall, Clock: uint64(e.Clock), Origin: e.Origin})
	if err != nil {
		return err
	}
	return b.Put(key, raw)
}

// rollCallAnswer keeps the latest answer of a person to a roll-call, by
// event clock then origin, so that any arrival order keeps the same one.
func (f *folder) rollCallAnswer(e *relay.Event) error {
	if f.pruned(string(rollCallTombstone(e.RollCallAnswer.RollCall))) {
		return nil
	}
	b := f.tx.Bucket(bucketRollCallAnswers)
	key := ackKey(e.RollCallAnswer.RollCall, e.RollCallAnswer.Person)
	if raw := b.Get(key); raw != nil {
		var cur answerRecord
		if err := decode(raw, &cur); err != nil {
			return err
		}
		if cur.Clock > uint64(e.Clock) || (cur.Clock == uint64(e.Clock) && cur.Origin >= e.Origin) {
			return nil
		}
	}
	raw, err := json.Marshal(&answerRecord{RollCallAnswer: *e.RollCallAnswer, Clock: uint64(e.Clock), Origin: e.Origin})
	if err != nil {
		return err
	}
	return b.Put(key, raw)
}

// RollCall returns the roll-call with the given id, or relay.ErrNotFound.
func (s *Store) RollCall(id string) (*relay.RollCall, error) {
	rec, err := getRecord[rollCallRecord](s, bucketRollCalls, id)
	if err != nil {
		return nil, err
	}
	return &rec.RollCall, nil
}

// RollCalls returns the roll-calls of an incident, or of every incident
// when incident is empty, earliest first.
func (s *Store) RollCalls(incident string) ([]relay.RollCall, error) {
	var out []relay.RollCall
	err := s.view(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketRollCalls).ForEach(func(_, v []byte) error {
			var rec rollCallRecord
			if err := decode(v, &rec); err != nil {
				return err
			}
			if incident == "" || rec.Incident == incident {
				out = append(out, rec.RollCall)
			}
			return nil
		})
	})
	sortRollCalls(out)
	return out, err
}

func sortRollCalls(rcs []relay.RollCall) {
	slices.SortFunc(rcs, func(a, b relay.RollCall) int {
		return cmp.Or(a.StartedAt.Compare(b.StartedAt), strings.Compare(a.ID, b.ID))
	})
}

// RollCallAnswers returns the latest answer of each person to a
// roll-call, by person.
func (s *Store) RollCallAnswers(id string) (map[string]relay.RollCallAnswer, error) {
	out := map[string]relay.RollCallAnswer{}
	prefix := ackKey(id, "")
	err := s.view(func(tx *bolt.Tx) error {
		c := tx.Bucket(bucketRollCallAnswers).Cursor()
		for k, v := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, v = c.Next() {
			var rec answerRecord
			if err := decode(v, &rec); err != nil {
				return err
			}
			out[rec.Person] = rec.RollCallAnswer
		}
		return nil
	})
	return out, err
}

// RollCallAnswer returns a person's latest answer to a roll-call, or
// relay.ErrNotFound.
func (s *Store) RollCallAnswer(id, person string) (*relay.RollCallAnswer, error) {
	var rec answerRecord
	err := s.view(func(tx *bolt.Tx) error {
		raw := tx.Bucket(bucketRollCallAnswers).Get(ackKey(id, person))
		if raw == nil {
			return relay.ErrNotFound
		}
		return decode(raw, &rec)
	})
	if errors.Is(err, relay.ErrNotFound) {
		return nil, err
	}
	return &rec.RollCallAnswer, err
}
