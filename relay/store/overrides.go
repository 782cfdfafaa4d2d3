package store

import (
	"bytes"
	"context"
	"encoding/json"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/oob-relay/relay/relay"
)

// overrideRecord is an override added to a schedule over the roster, or
// the removal of one (Removed, with Override empty when the removal came
// first).
type overrideRecord struct {
	Schedule string         `json:"schedule"`
	Override relay.Override `json:"override"`
	Removed  bool           `json:"removed,omitempty"`
}

// override folds an added or removed override. A removal is kept in the
// override's place, so an addition that arrives after it changes
// nothing.
func (f *folder) override(e *relay.Event) error {
	b := f.tx.Bucket(bucketOverrides)
	c := e.Override
	id := c.Remove
	if c.Add != nil {
		id = c.Add.ID
	}
	var rec overrideRecord
	if raw := b.Get([]byte(id)); raw != nil {
		if err := decode(raw, &rec); err != nil {
			return err
		}
	}
	switch {
	case rec.Removed:
		return nil
	case c.Add != nil:
		if rec.Override.ID != "" {
			return nil // ids are never reused: this is the same override
		}
		rec = overrideRecord{Schedule: c.Schedule, Override: *c.Add}
		rec.Override.By = c.By
	default:
		rec.Schedule, rec.Removed = c.Schedule, true
	}
	raw, err := json.Marshal(&rec)
	if err != nil {
		return err
	}
	return b.Put([]byte(id), raw)
}

// Overrides returns the overrides added to schedules and not removed, in
// the order of their ids (the order they were added in).
func (s *Store) Overrides() ([]relay.ScheduleOverride, error) {
	var out []relay.ScheduleOverride
	err := s.view(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketOverrides).ForEach(func(_, v []byte) error {
			var rec overrideRecord
			if err := decode(v, &rec); err != nil {
				return err
			}
			if !rec.Removed {
				out = append(out, relay.ScheduleOverride{Schedule: rec.Schedule, Override: rec.Override})
			}
			return nil
		})
	})
	return out, err
}

// OverrideRemoved reports whether the override id was added and then
// removed (or its removal is known).
func (s *Store) OverrideRemoved(id string) (bool, error) {
	var removed bool
	err := s.view(func(tx *bolt.Tx) error {
		if raw := tx.Bucket(bucketOverrides).Get([]byte(id)); raw != nil {
			var rec overrideRecord
			if err := decode(raw, &rec); err != nil {
				return err
			}
			removed = rec.Removed
		}
		return nil
	})
	return removed, err
}

// mergeOverrides adds the overrides of a snapshot (in) to this store's
// (tx): a union, where a removal wins. A snapshot from a node that keeps
// no overrides has no bucket, and adds nothing.
func mergeOverrides(in, tx *bolt.Tx) error {
	from := in.Bucket(bucketOverrides)
	if from == nil {
		return nil
	}
	to := tx.Bucket(bucketOverrides)
	return from.ForEach(func(k, v []byte) error {
		var theirs overrideRecord
		if err := decode(v, &theirs); err != nil {
			return err
		}
		if raw := to.Get(k); raw != nil {
			var mine overrideRecord
			if err := decode(raw, &mine); err != nil {
				return err
			}
			if mine.Removed || !theirs.Removed {
				return nil
			}
		}
		return to.Put(bytes.Clone(k), bytes.Clone(v))
	})
}

// zoneSlack is how far a schedule's zone may put an override's local end
// time from the same figures read in UTC (zones are at most 14 hours
// away), so that pruning needs no roster.
const zoneSlack = 24 * time.Hour

// PruneOverrides removes the overrides that ended before cutoff, removed
// or not, and returns how many it removed. An override's end is read in
// UTC and must be a day before cutoff, whatever its schedule's zone. A
// removal that came before its override is kept: its end is not known.
// Every node prunes by the same rule; an addition that comes late brings
// back an override that ended long ago, which changes nobody's shift and
// goes at the next round.
func (s *Store) PruneOverrides(ctx context.Context, cutoff time.Time) (int, error) {
	return s.pruneBucket(ctx, bucketOverrides, func(_, v []byte) bool {
		var rec overrideRecord
		if decode(v, &rec) != nil || rec.Override.To == "" {
			return false
		}
		end, err := relay.ParseScheduleTime(rec.Override.To, time.UTC)
		return err == nil && end.Add(zoneSlack).Before(cutoff)
	})
}
