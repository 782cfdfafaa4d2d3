package store

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/oob-relay/relay/relay"
)

// Provider canaries are folded into two buckets: each canary attempt by
// id (sent, and its receipt once it came), and each provider's standing
// (demoted or not) by the verdict with the latest clock. A node's own
// steps (a canary sent, a verdict) count only when the event's writer is
// the node the step names: no node writes another's.

// CanaryAttempt is a canary attempt as folded so far.
type CanaryAttempt struct {
	ID       string               `json:"id"`
	Provider string               `json:"provider"`
	Channel  string               `json:"channel"`
	Sent     *relay.CanarySent    `json:"sent,omitempty"`
	Receipt  *relay.CanaryReceipt `json:"receipt,omitempty"`
}

type demotionRecord struct {
	relay.Demotion
	Clock  uint64 `json:"clock"`
	Origin string `json:"origin"`
}

func (f *folder) canary(e *relay.Event) error {
	c := e.Canary
	if v := c.Verdict; v != nil {
		if v.By != e.Node {
			return nil // a verdict is its writer's own
		}
		b := f.tx.Bucket(bucketDemotions)
		if raw := b.Get([]byte(c.Provider)); raw != nil {
			var cur demotionRecord
			if err := decode(raw, &cur); err != nil {
				return err
			}
			if cur.Clock > uint64(e.Clock) || (cur.Clock == uint64(e.Clock) && cur.Origin >= e.Origin) {
				return nil
			}
		}
		raw, err := json.Marshal(&demotionRecord{Demotion: relay.Demotion{Provider: c.Provider, Channel: c.Channel,
			Demoted: v.Demoted, Reason: v.Reason, At: v.At, By: v.By}, Clock: uint64(e.Clock), Origin: e.Origin})
		if err != nil {
			return err
		}
		return b.Put([]byte(c.Provider), raw)
	}
	if c.Sent != nil && c.Sent.By != e.Node {
		return nil
	}
	b := f.tx.Bucket(bucketCanaries)
	rec := CanaryAttempt{ID: c.ID, Provider: c.Provider, Channel: c.Channel}
	if raw := b.Get([]byte(c.ID)); raw != nil {
		if err := decode(raw, &rec); err != nil {
			return err
		}
	}
	if c.Sent != nil && rec.Sent == nil {
		rec.Sent = c.Sent
	}
	if c.Receipt != nil && (rec.Receipt == nil || c.Receipt.At.Before(rec.Receipt.At)) {
		rec.Receipt = c.Receipt // the first receipt stands
	}
	raw, err := json.Marshal(&rec)
	if err != nil {
		return err
	}
	return b.Put([]byte(c.ID), raw)
}

// CanaryAttempt returns a canary attempt, or relay.ErrNotFound.
func (s *Store) CanaryAttempt(id string) (*CanaryAttempt, error) {
	return getRecord[CanaryAttempt](s, bucketCanaries, id)
}

// LatestCanary returns the latest canary attempt sent through provider,
// or relay.ErrNotFound.
func (s *Store) LatestCanary(provider string) (*CanaryAttempt, error) {
	var best *CanaryAttempt
	prefix := relay.CanaryPrefix + provider + "."
	err := s.view(func(tx *bolt.Tx) error {
		c := tx.Bucket(bucketCanaries).Cursor()
		for k, v := c.Seek([]byte(prefix)); k != nil && string(k[:min(len(k), len(prefix))]) == prefix; k, v = c.Next() {
			var rec CanaryAttempt
			if err := decode(v, &rec); err != nil {
				return err
			}
			if rec.Sent != nil && rec.Provider == provider && (best == nil || rec.Sent.At.After(best.Sent.At)) {
				best = &rec
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if best == nil {
		return nil, relay.ErrNotFound
	}
	return best, nil
}

// Demotions returns each provider's standing by its latest verdict, by
// provider.
func (s *Store) Demotions() (map[string]relay.Demotion, error) {
	out := map[string]relay.Demotion{}
	err := s.view(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketDemotions).ForEach(func(_, v []byte) error {
			var rec demotionRecord
			if err := decode(v, &rec); err != nil {
				return err
			}
			out[rec.Provider] = rec.Demotion
			return nil
		})
	})
	return out, err
}

// PruneCanaries removes the canary attempts sent before cutoff (or, for
// one known only by its receipt, received before it) and returns how
// many it removed. Every node prunes by the same rule, so replicas
// converge; an event about a removed attempt that comes late brings back
// a record as old, which the next round removes again. Providers'
// standings are kept.
func (s *Store) PruneCanaries(ctx context.Context, cutoff time.Time) (int, error) {
	var due [][]byte
	err := s.view(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketCanaries).ForEach(func(k, v []byte) error {
			var rec CanaryAttempt
			if err := decode(v, &rec); err != nil {
				return err
			}
			if canaryAt(&rec).Before(cutoff) {
				due = append(due, bytes.Clone(k))
			}
			return nil
		})
	})
	if err != nil {
		return 0, err
	}
	removed := 0
	for i := 0; i < len(due); i += upkeepChunk {
		chunk := due[i:min(i+upkeepChunk, len(due))]
		n := 0
		err := s.exec(ctx, func(tx *bolt.Tx) error {
			n = 0
			b := tx.Bucket(bucketCanaries)
			for _, k := range chunk {
				raw := b.Get(k)
				if raw == nil {
					continue
				}
				var rec CanaryAttempt
				if err := decode(raw, &rec); err != nil {
					return err
				}
				if !canaryAt(&rec).Before(cutoff) {
					continue // a later step came meanwhile
				}
				if err := b.Delete(k); err != nil {
					return err
				}
				n++
			}
			return nil
		})
		if err != nil {
			return removed, fmt.Errorf("store: prune canaries: %w", err)
		}
		removed += n
	}
	return removed, nil
}

// canaryAt is when a canary attempt was sent, or its receipt's time when
// its sending is not known here.
func canaryAt(rec *CanaryAttempt) time.Time {
	if rec.Sent != nil {
		return rec.Sent.At
	}
	if rec.Receipt != nil {
		return rec.Receipt.At
	}
	return time.Time{}
}
