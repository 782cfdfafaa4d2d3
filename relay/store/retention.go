package store

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/oob-relay/relay/relay"
)

// upkeepChunk bounds the messages one upkeep transaction changes, so
// that commits of new events never wait long behind it.
const upkeepChunk = 64

// Prune removes the incidents whose last message is older than keep at
// now and none of whose deliveries is still open, with their messages,
// deliveries, counts, acknowledgements and timeline. Each removed message
// leaves a tombstone, so that an event about it that comes late (from a
// node back after a long partition) does not bring it back in part. It
// returns the incidents and messages removed. Every node prunes by the
// same rule, so replicas converge.
func (s *Store) Prune(ctx context.Context, now time.Time, keep time.Duration) (incidents, messages int, err error) {
	cutoff := now.Add(-keep)
	var due []string
	err = s.view(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketIncidents).ForEach(func(k, v []byte) error {
			var inc relay.Incident
			if err := decode(v, &inc); err != nil {
				return err
			}
			if inc.LastMessageAt.Before(cutoff) {
				due = append(due, string(k))
			}
			return nil
		})
	})
	if err != nil {
		return 0, 0, err
	}
	for _, id := range due {
		n := 0
		err := s.exec(ctx, func(tx *bolt.Tx) error {
			var err error
			n, err = pruneIncident(tx, id, cutoff, now)
			return err
		})
		if err != nil {
			return incidents, messages, fmt.Errorf("store: prune incident %s: %w", id, err)
		}
		if n > 0 {
			incidents++
			messages += n
		}
	}
	return incidents, messages, nil
}

// pruneIncident removes incident id and its messages if it still
// qualifies (see Prune); it returns the messages removed.
func pruneIncident(tx *bolt.Tx, id string, cutoff, now time.Time) (int, error) {
	ib := tx.Bucket(bucketIncidents)
	raw := ib.Get([]byte(id))
	if raw == nil {
		return 0, nil
	}
	var inc relay.Incident
	if err := decode(raw, &inc); err != nil {
		return 0, err
	}
	if !inc.LastMessageAt.Before(cutoff) {
		return 0, nil
	}
	prefix := append([]byte(id), 0)
	var keys [][]byte
	var msgs []string
	c := tx.Bucket(bucketTimeline).Cursor()
	for k, _ := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, _ = c.Next() {
		keys = append(keys, bytes.Clone(k))
		msgs = append(msgs, string(k[len(prefix)+8:]))
	}
	for _, m := range msgs {
		if hasPrefix(tx.Bucket(bucketOpen), []byte(m+".")) {
			return 0, nil // still being delivered: not settled
		}
	}
	for _, k := range keys {
		if err := tx.Bucket(bucketTimeline).Delete(k); err != nil {
			return 0, err
		}
	}
	at := u64(uint64(max(now.Unix(), 0)))
	for _, m := range msgs {
		for _, b := range []struct {
			name   []byte
			prefix []byte
		}{
			{bucketDeliv, []byte(m + ".")}, {bucketAwaiting, []byte(m + ".")}, {bucketAcks, ackKey(m, "")},
			{bucketEscalated, ackKey(m, "")},
		} {
			if err := deletePrefix(tx.Bucket(b.name), b.prefix); err != nil {
				return 0, err
			}
		}
		for _, b := range [][]byte{bucketMessages, bucketPacked, bucketCounts, bucketEscalating} {
			if err := tx.Bucket(b).Delete([]byte(m)); err != nil {
				return 0, err
			}
		}
		if err := tx.Bucket(bucketPruned).Put([]byte(m), at); err != nil {
			return 0, err
		}
	}
	if err := pruneRollCalls(tx, id, at); err != nil {
		return 0, err
	}
	return len(msgs), ib.Delete([]byte(id))
}

// pruneRollCalls removes incident id's roll-calls and their answers, each
// leaving a tombstone (rollCallTombstone) so that a late start or answer
// brings nothing back.
func pruneRollCalls(tx *bolt.Tx, incident string, at []byte) error {
	var ids []string
	err := tx.Bucket(bucketRollCalls).ForEach(func(k, v []byte) error {
		var rec rollCallRecord
		if err := decode(v, &rec); err != nil {
			return err
		}
		if rec.Incident == incident {
			ids = append(ids, string(k))
		}
		return nil
	})
	if err != nil {
		return err
	}
	for _, id := range ids {
		if err := tx.Bucket(bucketRollCalls).Delete([]byte(id)); err != nil {
			return err
		}
		if err := deletePrefix(tx.Bucket(bucketRollCallAnswers), ackKey(id, "")); err != nil {
			return err
		}
		if err := tx.Bucket(bucketPruned).Put(rollCallTombstone(id), at); err != nil {
			return err
		}
	}
	return nil
}

// rollCallTombstone is the key in the pruned bucket that says roll-call
// id was removed by retention. Message ids hold no '/'.
func rollCallTombstone(id string) []byte { return []byte("rollcall/" + id) }

// Pack folds the deliveries of every settled message whose deadline
// passed before cutoff into one packed record per message (see
// packedV1): nothing can happen to them any more but a late receipt,
// which writes the delivery's own record again. It returns the messages
// packed.
func (s *Store) Pack(ctx context.Context, cutoff time.Time) (int, error) {
	var due []string
	err := s.view(func(tx *bolt.Tx) error {
		db, ob := tx.Bucket(bucketDeliv), tx.Bucket(bucketOpen)
		return tx.Bucket(bucketMessages).ForEach(func(k, v []byte) error {
			prefix := append(bytes.Clone(k), '.')
			if !hasPrefix(db, prefix) || hasPrefix(ob, prefix) {
				return nil // packed already, or still being delivered
			}
			var rec messageRecord
			if err := decode(v, &rec); err != nil {
				return err
			}
			if rec.Deadline.Before(cutoff) {
				due = append(due, string(k))
			}
			return nil
		})
	})
	if err != nil {
		return 0, err
	}
	packed := 0
	for i := 0; i < len(due); i += upkeepChunk {
		chunk := due[i:min(i+upkeepChunk, len(due))]
		n := 0
		err := s.exec(ctx, func(tx *bolt.Tx) error {
			n = 0
			for _, m := range chunk {
				ok, err := packMessage(tx, m)
				if err != nil {
					return fmt.Errorf("pack message %s: %w", m, err)
				}
				if ok {
					n++
				}
			}
			return nil
		})
		if err != nil {
			return packed, fmt.Errorf("store: %w", err)
		}
		packed += n
	}
	return packed, nil
}

// packMessage packs message m's deliveries if none is open; it reports
// whether it did.
func packMessage(tx *bolt.Tx, m string) (bool, error) {
	prefix := []byte(m + ".")
	if hasPrefix(tx.Bucket(bucketOpen), prefix) {
		return false, nil
	}
	db := tx.Bucket(bucketDeliv)
	var ds []relay.Delivery
	if raw := tx.Bucket(bucketPacked).Get([]byte(m)); raw != nil {
		old, err := decodePacked(m, raw)
		if err != nil {
			return false, err
		}
		ds = old
	}
	at := make(map[string]int, len(ds))
	for i := range ds {
		at[ds[i].ID] = i
	}
	c := db.Cursor()
	n := 0
	for k, v := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, v = c.Next() {
		d, err := decodeDelivery(string(k), v)
		if err != nil {
			return false, err
		}
		if i, ok := at[d.ID]; ok {
			ds[i] = d
		} else {
			at[d.ID] = len(ds)
			ds = append(ds, d)
		}
		n++
	}
	if n == 0 {
		return false, nil
	}
	raw, err := encodePacked(m, ds)
	if err != nil {
		return false, err
	}
	if err := tx.Bucket(bucketPacked).Put([]byte(m), raw); err != nil {
		return false, err
	}
	if err := deletePrefix(db, prefix); err != nil {
		return false, err
	}
	return true, deletePrefix(tx.Bucket(bucketAwaiting), prefix)
}

func hasPrefix(b *bolt.Bucket, prefix []byte) bool {
	k, _ := b.Cursor().Seek(prefix)
	return k != nil && bytes.HasPrefix(k, prefix)
}

func deletePrefix(b *bolt.Bucket, prefix []byte) error {
	c := b.Cursor()
	for k, _ := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, _ = c.Seek(prefix) {
		if err := c.Delete(); err != nil {
			return err
		}
	}
	return nil
}

// Stats is what a store holds, for operators.
type Stats struct {
	// Bytes is the size of the store's file; Free the part of it that is
	// free pages, which a rewrite (CompactFile) gives back.
	Bytes, Free int64
	// Events counts the events in the log; Oldest is the clock time of
	// the oldest, zero when the log is empty.
	Events int
	Oldest time.Time
	// Messages, Deliveries and Packed count messages, deliveries with a
	// record of their own, and messages whose deliveries are packed.
	Messages, Deliveries, Packed int
	// Seen counts the keys in the memory of requests taken (relay.Seen).
	Seen int
}

// Stats reports the store's size and what it holds.
func (s *Store) Stats() (Stats, error) {
	var st Stats
	err := s.view(func(tx *bolt.Tx) error {
		st.Bytes = tx.Size()
		st.Free = int64(tx.DB().Stats().FreePageN) * int64(tx.DB().Info().PageSize)
		st.Messages = tx.Bucket(bucketMessages).Stats().KeyN
		st.Deliveries = tx.Bucket(bucketDeliv).Stats().KeyN
		st.Packed = tx.Bucket(bucketPacked).Stats().KeyN
		st.Seen = tx.Bucket(bucketSeen).Stats().KeyN
		lb := tx.Bucket(bucketLog)
		return lb.ForEach(func(origin, _ []byte) error {
			ob := lb.Bucket(origin)
			st.Events += ob.Stats().KeyN
			if _, v := ob.Cursor().First(); v != nil {
				var e relay.Event
				if err := decode(v, &e); err != nil {
					return err
				}
				if t := e.Clock.Time(); st.Oldest.IsZero() || t.Before(st.Oldest) {
					st.Oldest = t
				}
			}
			return nil
		})
	})
	if fi, ferr := os.Stat(s.path); ferr == nil {
		st.Bytes = fi.Size()
	}
	return st, err
}
