package store

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/oob-relay/relay/relay"
)

// ErrTruncated is returned for events the log no longer holds: every
// peer held them, and they were truncated (TruncateLog).
var ErrTruncated = errors.New("the log no longer holds these events")

// stateBuckets are the buckets a snapshot carries and a restore replaces:
// everything folded from the log but the memory of requests taken
// (bucketSeen), the overrides added to schedules (bucketOverrides) and
// people's own contact changes (bucketContacts), which a snapshot carries
// too and a restore adds to this store's own;
// and the marks, but not the log, nor this store's origin.
var stateBuckets = [][]byte{bucketMessages, bucketDeliv, bucketOpen, bucketAwaiting, bucketCounts, bucketIncidents,
	bucketTimeline, bucketRoster, bucketAcks, bucketConsent, bucketPacked, bucketPruned,
	bucketRollCalls, bucketRollCallAnswers, bucketEscalated, bucketEscalating,
	bucketCodes, bucketCodeSteps, bucketRevoked, bucketAudit,
	bucketSites, bucketWatchReports, bucketBeats, bucketVerdicts, bucketDrills, bucketCanaries, bucketDemotions}

// optionalBuckets are state buckets a snapshot written by an older node
// lacks: they are restored empty.
var optionalBuckets = [][]byte{bucketEscalated, bucketEscalating, bucketCodes, bucketCodeSteps, bucketRevoked, bucketAudit,
	bucketSites, bucketWatchReports, bucketBeats, bucketVerdicts, bucketDrills, bucketCanaries, bucketDemotions}

// TruncateLog deletes, for each origin, the events of the log with a
// sequence at or below upTo[origin] (and this store's mark for it) whose
// clock is before olderThan: events every peer holds, old enough that a
// peer back from a short absence would not need them. A peer that needs
// them later gets a snapshot instead (EventsFrom returns ErrTruncated).
// It returns how many events it deleted.
func (s *Store) TruncateLog(ctx context.Context, upTo map[string]uint64, olderThan time.Time) (int, error) {
	origins := make([]string, 0, len(upTo))
	for o := range upTo {
		origins = append(origins, o)
	}
	slices.Sort(origins)
	total := 0
	for _, origin := range origins {
		for {
			n := 0
			err := s.exec(ctx, func(tx *bolt.Tx) error {
				var err error
				n, err = truncate(tx, origin, upTo[origin], olderThan)
				return err
			})
			if err != nil {
				return total, fmt.Errorf("store: truncate the log of %s: %w", origin, err)
			}
			total += n
			if n < truncateChunk {
				break
			}
		}
	}
	return total, nil
}

// truncateChunk bounds the events one truncating transaction deletes.
const truncateChunk = 4096

// truncate deletes up to truncateChunk events of origin as TruncateLog
// says, and raises the origin's floor past them.
func truncate(tx *bolt.Tx, origin string, upTo uint64, olderThan time.Time) (int, error) {
	lb := tx.Bucket(bucketLog).Bucket([]byte(origin))
	if lb == nil {
		return 0, nil
	}
	upTo = min(upTo, getU64(tx.Bucket(bucketMarks).Get([]byte(origin))))
	floor := getU64(tx.Bucket(bucketFloors).Get([]byte(origin)))
	n := 0
	c := lb.Cursor()
	for k, v := c.First(); k != nil && n < truncateChunk; k, v = c.First() {
		seq := getU64(k)
		if seq > upTo {
			break
		}
		var e relay.Event
		if err := decode(v, &e); err != nil {
			return n, err
		}
		if !e.Clock.Time().Before(olderThan) {
			break
		}
		if err := c.Delete(); err != nil {
			return n, err
		}
		floor = max(floor, seq)
		n++
	}
	if n == 0 {
		return 0, nil
	}
	return n, tx.Bucket(bucketFloors).Put([]byte(origin), u64(floor))
}

// Floors returns, for every origin whose log was truncated, the sequence
// at or below which the log holds nothing.
func (s *Store) Floors() (map[string]uint64, error) {
	out := map[string]uint64{}
	err := s.view(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketFloors).ForEach(func(k, v []byte) error {
			out[string(k)] = getU64(v)
			return nil
		})
	})
	return out, err
}

// WriteSnapshot writes the store's state and marks, without the log, as
// a bbolt file at path, and returns the marks it holds: what a peer that
// installs it (Restore) holds of every origin.
func (s *Store) WriteSnapshot(path string) (map[string]uint64, error) {
	dst, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: time.Second, NoSync: true})
	if err != nil {
		return nil, fmt.Errorf("store: snapshot: %w", err)
	}
	marks := map[string]uint64{}
	err = s.view(func(src *bolt.Tx) error {
		err := dst.Update(func(out *bolt.Tx) error {
			for _, name := range append(slices.Clone(stateBuckets), bucketMarks, bucketOrigins, bucketSeen, bucketOverrides, bucketContacts) {
				if err := copyBucket(src.Bucket(name), out, name); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			return err
		}
		return src.Bucket(bucketMarks).ForEach(func(k, v []byte) error {
			marks[string(k)] = getU64(v)
			return nil
		})
	})
	if err == nil {
		err = dst.Sync()
	}
	err = errors.Join(err, dst.Close())
	if err != nil {
		os.Remove(path)
		return nil, fmt.Errorf("store: snapshot: %w", err)
	}
	return marks, nil
}

// copyBucket copies bucket from into a new bucket name of tx.
func copyBucket(from *bolt.Bucket, tx *bolt.Tx, name []byte) error {
	to, err := tx.CreateBucketIfNotExists(name)
	if err != nil {
		return err
	}
	to.FillPercent = 1 // written in key order: pack the pages full
	if from == nil {
		return nil // an optional bucket the snapshot lacks
	}
	return from.ForEach(func(k, v []byte) error {
		return to.Put(bytes.Clone(k), bytes.Clone(v))
	})
}

// Restore installs the snapshot file at path (WriteSnapshot of a peer):
// the state and marks become the snapshot's, the log of every origin is
// kept only above the snapshot's mark (floors say so), and every event the
// log still holds is folded again, so that what this store held beyond
// the snapshot (its own events not yet on the peer) is not lost. Use it
// when the peers no longer hold events this store lacks.
func (s *Store) Restore(ctx context.Context, path string) error {
	snap, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: time.Second, ReadOnly: true})
	if err != nil {
		return fmt.Errorf("store: open snapshot: %w", err)
	}
	defer snap.Close()
	err = snap.View(func(in *bolt.Tx) error {
		for _, name := range append(slices.Clone(stateBuckets), bucketMarks) {
			if in.Bucket(name) == nil && !slices.ContainsFunc(optionalBuckets, func(b []byte) bool { return bytes.Equal(b, name) }) {
				return fmt.Errorf("the snapshot has no %s bucket", name)
			}
		}
		return s.exec(ctx, func(tx *bolt.Tx) error { return s.restore(in, tx) })
	})
	if err != nil {
		return fmt.Errorf("store: restore snapshot: %w", err)
	}
	return nil
}

// restore does Restore's work in one transaction on the writer.
func (s *Store) restore(in, tx *bolt.Tx) error {
	for _, name := range stateBuckets {
		if err := tx.DeleteBucket(name); err != nil {
			return err
		}
		if err := copyBucket(in.Bucket(name), tx, name); err != nil {
			return err
		}
	}
	if err := mergeSeen(in, tx); err != nil {
		return err
	}
	if err := mergeOverrides(in, tx); err != nil {
		return err
	}
	if err := mergeContacts(in, tx); err != nil {
		return err
	}
	marks, floors := tx.Bucket(bucketMarks), tx.Bucket(bucketFloors)
	err := in.Bucket(bucketMarks).ForEach(func(k, v []byte) error {
		snapMark := getU64(v)
		if floor := getU64(floors.Get(k)); snapMark > floor {
			if err := floors.Put(bytes.Clone(k), u64(snapMark)); err != nil {
				return err
			}
		}
		if getU64(marks.Get(k)) < snapMark {
			return marks.Put(bytes.Clone(k), u64(snapMark))
		}
		return nil
	})
	if err != nil {
		return err
	}
	// The snapshot says which node writes under each origin it holds; a
	// binding this store already has stands.
	if ob := in.Bucket(bucketOrigins); ob != nil {
		mine := tx.Bucket(bucketOrigins)
		err := ob.ForEach(func(k, v []byte) error {
			if mine.Get(k) != nil {
				return nil
			}
			return mine.Put(bytes.Clone(k), bytes.Clone(v))
		})
		if err != nil {
			return err
		}
	}
	// Fold again what the log holds: the snapshot has some of it, which
	// folds to nothing new, and perhaps not the rest.
	f := newFolder(tx)
	f.ahead = s.ahead()
	lb := tx.Bucket(bucketLog)
	err = lb.ForEach(func(origin, _ []byte) error {
		return lb.Bucket(origin).ForEach(func(_, v []byte) error {
			var e relay.Event
			if err := decode(v, &e); err != nil {
				return err
			}
			if err := f.fold(&e); err != nil {
				return err
			}
			return f.advanceMark(lb.Bucket(origin), e.Origin, e.Seq)
		})
	})
	if err != nil {
		return err
	}
	s.hot.clear()
	return f.flush()
}

// CompactFile rewrites the store's file without its free pages, once
// retention and truncation have freed much of it, while the node keeps
// running. The copy is made from a read transaction while writes go on;
// then the writer folds into the copy the events committed meanwhile and
// swaps the files, and only that last step holds writes and reads back.
// Upkeep that changed the file during the copy (a restore, say) makes it
// give up, to try again later. It returns the file's size before and
// after.
func (s *Store) CompactFile(ctx context.Context) (before, after int64, err error) {
	tmp := s.path + ".compact"
	os.Remove(tmp)
	dst, err := bolt.Open(tmp, 0o600, &bolt.Options{Timeout: time.Second, NoSync: true, NoFreelistSync: true,
		FreelistType: bolt.FreelistMapType})
	if err != nil {
		return 0, 0, fmt.Errorf("store: compact: %w", err)
	}
	defer func() {
		if err != nil {
			dst.Close()
			os.Remove(tmp)
		}
	}()
	marks := map[string]uint64{}
	upkeep := s.upkeeps.Load()
	err = s.view(func(src *bolt.Tx) error {
		before = src.Size()
		if err := src.Bucket(bucketMarks).ForEach(func(k, v []byte) error {
			marks[string(k)] = getU64(v)
			return nil
		}); err != nil {
			return err
		}
		return src.ForEach(func(name []byte, b *bolt.Bucket) error {
			return dst.Update(func(tx *bolt.Tx) error { return copyTree(b, tx, name) })
		})
	})
	if err != nil {
		return 0, 0, fmt.Errorf("store: compact: %w", err)
	}
	var swapped bool
	_, err = s.write(ctx, &writeReq{run: func() error {
		if s.upkeeps.Load() != upkeep {
			return nil // changed under the copy: next time
		}
		if err := s.foldSince(dst, marks); err != nil {
			return err
		}
		if err := dst.Sync(); err != nil {
			return err
		}
		if err := dst.Close(); err != nil {
			return err
		}
		s.dbMu.Lock()
		defer s.dbMu.Unlock()
		if err := s.db.Close(); err != nil {
			return err
		}
		renameErr := os.Rename(tmp, s.path)
		db, err := openBolt(s.path)
		if err != nil {
			return fmt.Errorf("reopen after compaction: %w", err)
		}
		s.db = db
		if renameErr != nil {
			return renameErr
		}
		syncDir(s.path)
		swapped = true
		return nil
	}, res: make(chan writeRes, 1)})
	if err != nil || !swapped {
		if err == nil {
			err = errors.New("store: compact: the store changed under the copy; try again")
		}
		return before, before, err
	}
	fi, statErr := os.Stat(s.path)
	if statErr != nil {
		return before, 0, nil
	}
	return before, fi.Size(), nil
}

// copyTree copies bucket from, with its nested buckets, into a new
// bucket name of tx.
func copyTree(from *bolt.Bucket, tx interface {
	CreateBucketIfNotExists([]byte) (*bolt.Bucket, error)
}, name []byte) error {
	to, err := tx.CreateBucketIfNotExists(name)
	if err != nil {
		return err
	}
	to.FillPercent = 1
	return from.ForEach(func(k, v []byte) error {
		if v == nil {
			return copyTree(from.Bucket(k), to, k)
		}
		return to.Put(bytes.Clone(k), bytes.Clone(v))
	})
}

// foldSince folds into dst the events this store committed after marks:
// what a copy made from a read transaction missed.
func (s *Store) foldSince(dst *bolt.DB, marks map[string]uint64) error {
	return s.db.View(func(src *bolt.Tx) error {
		return dst.Update(func(tx *bolt.Tx) error {
			f := newFolder(tx)
			f.ahead = s.ahead()
			lb := src.Bucket(bucketLog)
			err := lb.ForEach(func(origin, _ []byte) error {
				c := lb.Bucket(origin).Cursor()
				for k, v := c.Seek(u64(marks[string(origin)] + 1)); k != nil; k, v = c.Next() {
					var e relay.Event
					if err := decode(v, &e); err != nil {
						return err
					}
					held, err := f.has(e.Origin, e.Seq)
					if err != nil {
						return err
					}
					if !held {
						if err := f.add(&e); err != nil {
							return err
						}
					}
				}
				return nil
			})
			if err != nil {
				return err
			}
			return f.flush()
		})
	})
}

// syncDir makes a rename in path's folder durable.
func syncDir(path string) {
	if d, err := os.Open(filepath.Dir(path)); err == nil {
		d.Sync()
		d.Close()
	}
}
