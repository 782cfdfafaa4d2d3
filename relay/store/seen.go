package store

import (
	"bytes"
	"cmp"
	"context"
	"fmt"
	"slices"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/oob-relay/relay/relay"
)

// The memory of requests taken from outside (relay.Seen): bucketSeen
// maps each key to the time it may be forgotten. It is a set that only
// grows until upkeep (ForgetSeen) forgets what expired, so any order of
// arrival folds into the same memory: a key's latest until wins.

// seen folds a relay.Seen: the key is kept until the later of its until
// times, but never more than relay.MaxSeenFor after the event's clock.
func (f *folder) seen(e *relay.Event) error {
	until := e.Seen.Until
	if limit := e.Clock.Time().Add(relay.MaxSeenFor); until.After(limit) {
		until = limit
	}
	return keepSeen(f.tx.Bucket(bucketSeen), []byte(e.Seen.Key), seenTime(until))
}

// keepSeen sets key's until in b unless b already keeps it longer.
func keepSeen(b *bolt.Bucket, key []byte, until uint64) error {
	if cur := b.Get(key); cur != nil && getU64(cur) >= until {
		return nil
	}
	return b.Put(key, u64(until))
}

// seenTime encodes t as Unix nanoseconds; a time before 1970 is 0.
func seenTime(t time.Time) uint64 {
	return uint64(max(t.UnixNano(), 0))
}

// Seen reports whether key is in the memory of requests taken and its
// until is after now.
func (s *Store) Seen(key string, now time.Time) (bool, error) {
	var seen bool
	err := s.view(func(tx *bolt.Tx) error {
		if v := tx.Bucket(bucketSeen).Get([]byte(key)); v != nil {
			seen = getU64(v) > seenTime(now)
		}
		return nil
	})
	return seen, err
}

// ForgetSeen forgets the keys of the memory of requests taken whose until
// is not after now and then, while more than limit keys are left, those
// that expire soonest. It returns how many it forgot for each reason.
// Each node forgets by the same rule, so the memories of nodes that hold
// the same events stay alike; a key forgotten early (over the limit) is a
// request this node would take again.
func (s *Store) ForgetSeen(ctx context.Context, now time.Time, limit int) (expired, evicted int, err error) {
	type entry struct {
		key   []byte
		until uint64
	}
	var live []entry
	var due [][]byte
	cutoff := seenTime(now)
	err = s.view(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketSeen).ForEach(func(k, v []byte) error {
			if u := getU64(v); u <= cutoff {
				due = append(due, bytes.Clone(k))
			} else {
				live = append(live, entry{bytes.Clone(k), u})
			}
			return nil
		})
	})
	if err != nil {
		return 0, 0, err
	}
	// A key whose until moved on since it was read (a record that came
	// meanwhile) is kept.
	if expired, err = s.forgetSeen(ctx, due, cutoff); err != nil {
		return expired, 0, err
	}
	if over := len(live) - limit; limit > 0 && over > 0 {
		slices.SortFunc(live, func(a, b entry) int {
			return cmp.Or(cmp.Compare(a.until, b.until), bytes.Compare(a.key, b.key))
		})
		keys := make([][]byte, over)
		for i := range keys {
			keys[i] = live[i].key
		}
		evicted, err = s.forgetSeen(ctx, keys, live[over-1].until)
	}
	return expired, evicted, err
}

// forgetSeen deletes the keys whose until is not after cutoff, in
// transactions of a bounded size, and returns how many it deleted.
func (s *Store) forgetSeen(ctx context.Context, keys [][]byte, cutoff uint64) (int, error) {
	total := 0
	for i := 0; i < len(keys); i += truncateChunk {
		chunk := keys[i:min(i+truncateChunk, len(keys))]
		n := 0
		err := s.exec(ctx, func(tx *bolt.Tx) error {
			n = 0
			b := tx.Bucket(bucketSeen)
			for _, k := range chunk {
				if v := b.Get(k); v == nil || getU64(v) > cutoff {
					continue
				}
				if err := b.Delete(k); err != nil {
					return err
				}
				n++
			}
			return nil
		})
		if err != nil {
			return total, fmt.Errorf("store: forget seen requests: %w", err)
		}
		total += n
	}
	return total, nil
}

// mergeSeen adds the memory of requests taken of a snapshot (in) to this
// store's (tx): a union, where the later until of a key wins. A snapshot
// from a node that keeps no such memory has no bucket, and adds nothing.
func mergeSeen(in, tx *bolt.Tx) error {
	from := in.Bucket(bucketSeen)
	if from == nil {
		return nil
	}
	to := tx.Bucket(bucketSeen)
	return from.ForEach(func(k, v []byte) error {
		return keepSeen(to, bytes.Clone(k), getU64(v))
	})
}
