package store

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/oob-relay/relay/relay"
)

// What console login folds from the log, in four buckets carried by
// snapshots, each fold idempotent so that a restore that folds the log
// again over a snapshot counts nothing twice:
//
//   - bucketCodes: each challenge of a one-time code, with its salted
//     hash and whether it was used;
//   - bucketCodeSteps: one key per step of a code, by person and by client
//     address, so that codes sent and wrong codes typed are counted over
//     a window on every node alike;
//   - bucketRevoked: revoked sessions, and for each person the time up to
//     which every session issued is revoked;
//   - bucketAudit: the audit trail in time order.
//
// Times that windows and retention compare are the payload's (the
// writing node's Now), as a node trusted to write events is trusted to
// tell the time; a code's expiry is never more than relay.CodeTTL after
// its time.

// CodeRecord is a challenge as the log tells it.
type CodeRecord struct {
	Person  string              `json:"person"`
	Purpose string              `json:"purpose,omitempty"`
	Salt    []byte              `json:"salt,omitempty"`
	Hash    []byte              `json:"hash,omitempty"`
	SentTo  []string            `json:"sent_to,omitempty"`
	To      []relay.Destination `json:"to,omitempty"`
	Expires time.Time           `json:"expires,omitzero"`
	// Issued is false while only later steps are known.
	Issued bool `json:"issued,omitempty"`
	Used   bool `json:"used,omitempty"`
	// Clock and Origin are the issuing event's; Seen is the clock time
	// of the latest event folded, for retention.
	Clock  uint64    `json:"clock,omitempty"`
	Origin string    `json:"origin,omitempty"`
	Seen   time.Time `json:"seen"`
}

func (f *folder) code(e *relay.Event) error {
	c := e.Code
	b := f.tx.Bucket(bucketCodes)
	var rec CodeRecord
	if raw := b.Get([]byte(c.Challenge)); raw != nil {
		if err := decode(raw, &rec); err != nil {
			return err
		}
	}
	at := c.At
	if at.After(rec.Seen) {
		rec.Seen = at
	}
	if rec.Person == "" {
		rec.Person = c.Person
	}
	switch c.Step {
	case relay.CodeUsed:
		rec.Used = true
	case relay.CodeIssued:
		// The first issue by (clock, origin) stands: ids are random, so a
		// second one is a mistake or a forgery, and must not replace the
		// hash.
		if !rec.Issued || uint64(e.Clock) < rec.Clock || (uint64(e.Clock) == rec.Clock && e.Origin < rec.Origin) {
			rec.Issued, rec.Clock, rec.Origin = true, uint64(e.Clock), e.Origin
			rec.Person, rec.Purpose, rec.Salt, rec.Hash = c.Person, c.Purpose, c.Salt, c.Hash
			rec.SentTo, rec.To = c.SentTo, c.To
			rec.Expires = c.Expires
			if limit := at.Add(relay.CodeTTL); rec.Expires.After(limit) {
				rec.Expires = limit
			}
		}
	}
	raw, err := json.Marshal(&rec)
	if err != nil {
		return err
	}
	if err := b.Put([]byte(c.Challenge), raw); err != nil {
		return err
	}
	sb := f.tx.Bucket(bucketCodeSteps)
	if err := sb.Put(stepKey('p', c.Person, c.Step, at, e.Origin, e.Seq), nil); err != nil {
		return err
	}
	if c.From != "" {
		return sb.Put(stepKey('a', c.From, c.Step, at, e.Origin, e.Seq), nil)
	}
	return nil
}

// stepKey is the key of one code step in bucketCodeSteps: kind ('p' for
// a person, 'a' for a client address), the subject, 0, the step's first
// letter, the time (Unix nanoseconds, 8 bytes), the origin and the
// sequence (8 bytes).
func stepKey(kind byte, subject, step string, at time.Time, origin string, seq uint64) []byte {
	k := stepPrefix(kind, subject, step)
	k = binary.BigEndian.AppendUint64(k, seenTime(at))
	k = append(k, origin...)
	return binary.BigEndian.AppendUint64(k, seq)
}

func stepPrefix(kind byte, subject, step string) []byte {
	k := make([]byte, 0, 2+len(subject)+1+8+26+8)
	k = append(k, kind)
	k = append(k, subject...)
	k = append(k, 0)
	if step != "" {
		k = append(k, step[0])
	}
	return k
}

// Challenge returns the challenge id as the log tells it, and whether it
// is known at all.
func (s *Store) Challenge(id string) (CodeRecord, bool, error) {
	var rec CodeRecord
	var ok bool
	err := s.view(func(tx *bolt.Tx) error {
		raw := tx.Bucket(bucketCodes).Get([]byte(id))
		if raw == nil {
			return nil
		}
		ok = true
		return decode(raw, &rec)
	})
	return rec, ok, err
}

// CodeSteps returns the times of the steps step (relay.CodeIssued,
// CodeFailed, CodeUsed) of a person's codes (byAddress false) or of a
// client address's (true) at or after since, oldest first.
func (s *Store) CodeSteps(subject string, byAddress bool, step string, since time.Time) ([]time.Time, error) {
	kind := byte('p')
	if byAddress {
		kind = 'a'
	}
	prefix := stepPrefix(kind, subject, step)
	var out []time.Time
	err := s.view(func(tx *bolt.Tx) error {
		c := tx.Bucket(bucketCodeSteps).Cursor()
		for k, _ := c.Seek(append(bytes.Clone(prefix), u64(seenTime(since))...)); k != nil && bytes.HasPrefix(k, prefix); k, _ = c.Next() {
			if len(k) < len(prefix)+8 {
				continue
			}
			out = append(out, time.Unix(0, int64(getU64(k[len(prefix):len(prefix)+8]))))
		}
		return nil
	})
	return out, err
}

// revokeRecord is the time up to which every session of a person issued
// is revoked, and until when that is kept.
type revokeRecord struct {
	Before time.Time `json:"before"`
	Until  time.Time `json:"until"`
}

func (f *folder) revoke(e *relay.Event) error {
	r := e.Revoke
	b := f.tx.Bucket(bucketRevoked)
	until := r.Until
	if r.Session != "" {
		return keepSeen(b, revokedSessionKey(r.Session), seenTime(until))
	}
	key := revokedPersonKey(r.Person)
	var rec revokeRecord
	if raw := b.Get(key); raw != nil {
		if err := decode(raw, &rec); err != nil {
			return err
		}
	}
	if r.Before.After(rec.Before) {
		rec.Before = r.Before
	}
	if until.After(rec.Until) {
		rec.Until = until
	}
	raw, err := json.Marshal(&rec)
	if err != nil {
		return err
	}
	return b.Put(key, raw)
}

func revokedSessionKey(id string) []byte    { return append([]byte("s\x00"), id...) }
func revokedPersonKey(person string) []byte { return append([]byte("p\x00"), person...) }

// Revoked returns whether session id is revoked, and the time up to which
// every session of person issued is revoked (zero when none is).
func (s *Store) Revoked(id, person string) (bool, time.Time, error) {
	var revoked bool
	var before time.Time
	err := s.view(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketRevoked)
		if id != "" && b.Get(revokedSessionKey(id)) != nil {
			revoked = true
		}
		if raw := b.Get(revokedPersonKey(person)); raw != nil {
			var rec revokeRecord
			if err := decode(raw, &rec); err != nil {
				return err
			}
			before = rec.Before
		}
		return nil
	})
	return revoked, before, err
}

func (f *folder) audit(e *relay.Event) error {
	raw, err := json.Marshal(e.Audit)
	if err != nil {
		return err
	}
	return f.tx.Bucket(bucketAudit).Put(auditKey(e.Audit.At, e.Origin, e.Seq), raw)
}

// auditKey orders the trail by the entry's time, then by event.
func auditKey(at time.Time, origin string, seq uint64) []byte {
	k := make([]byte, 0, 8+len(origin)+8)
	k = binary.BigEndian.AppendUint64(k, seenTime(at))
	k = append(k, origin...)
	return binary.BigEndian.AppendUint64(k, seq)
}

// AuditTrail returns up to limit entries of the audit trail, newest
// first.
func (s *Store) AuditTrail(limit int) ([]relay.AuditEntry, error) {
	var out []relay.AuditEntry
	err := s.view(func(tx *bolt.Tx) error {
		c := tx.Bucket(bucketAudit).Cursor()
		for k, v := c.Last(); k != nil && len(out) < limit; k, v = c.Prev() {
			var e relay.AuditEntry
			if err := decode(v, &e); err != nil {
				return err
			}
			out = append(out, e)
		}
		return nil
	})
	return out, err
}

// Login is what one round of PruneLogin removed.
type Login struct {
	Challenges, Steps, Revocations, Audit int
}

// codeStepsKeep is how long code steps are counted: the longest window
// a limit looks at.
const codeStepsKeep = time.Hour

// PruneLogin removes what login no longer needs at now: challenges an
// hour past their expiry, code steps older than the longest window that
// counts them, revocations whose sessions have all expired, and audit
// entries older than auditKeep (zero keeps them). Every node prunes by
// the same rule.
func (s *Store) PruneLogin(ctx context.Context, now time.Time, auditKeep time.Duration) (Login, error) {
	var out Login
	var err error
	steps := seenTime(now.Add(-codeStepsKeep))
	if out.Challenges, err = s.pruneBucket(ctx, bucketCodes, func(k, v []byte) bool {
		var rec CodeRecord
		if decode(v, &rec) != nil {
			return true
		}
		end := rec.Expires
		if end.IsZero() {
			end = rec.Seen.Add(relay.CodeTTL)
		}
		return now.Sub(end) > codeStepsKeep
	}); err != nil {
		return out, err
	}
	if out.Steps, err = s.pruneBucket(ctx, bucketCodeSteps, func(k, _ []byte) bool {
		i := bytes.IndexByte(k, 0)
		return i < 0 || len(k) < i+2+8 || getU64(k[i+2:i+10]) < steps
	}); err != nil {
		return out, err
	}
	if out.Revocations, err = s.pruneBucket(ctx, bucketRevoked, func(k, v []byte) bool {
		until := getU64(v)
		if bytes.HasPrefix(k, []byte("p\x00")) {
			var rec revokeRecord
			if decode(v, &rec) != nil {
				return true
			}
			until = seenTime(rec.Until)
		}
		return until <= seenTime(now)
	}); err != nil {
		return out, err
	}
	if auditKeep > 0 {
		cut := seenTime(now.Add(-auditKeep))
		out.Audit, err = s.pruneBucket(ctx, bucketAudit, func(k, _ []byte) bool { return len(k) < 8 || getU64(k[:8]) < cut })
	}
	return out, err
}

// pruneBucket deletes the keys of bucket name that due says, in
// transactions of a bounded size, and returns how many it deleted.
func (s *Store) pruneBucket(ctx context.Context, name []byte, due func(k, v []byte) bool) (int, error) {
	var keys [][]byte
	err := s.view(func(tx *bolt.Tx) error {
		return tx.Bucket(name).ForEach(func(k, v []byte) error {
			if due(k, v) {
				keys = append(keys, bytes.Clone(k))
			}
			return nil
		})
	})
	if err != nil {
		return 0, err
	}
	total := 0
	for i := 0; i < len(keys); i += truncateChunk {
		chunk := keys[i:min(i+truncateChunk, len(keys))]
		n := 0
		err := s.exec(ctx, func(tx *bolt.Tx) error {
			n = 0
			c := tx.Bucket(name).Cursor()
			for _, k := range chunk {
				// Checked again: an event may have changed it meanwhile.
				if ck, v := c.Seek(k); !bytes.Equal(ck, k) || !due(ck, v) {
					continue
				}
				if err := c.Delete(); err != nil {
					return err
				}
				n++
			}
			return nil
		})
		if err != nil {
			return total, fmt.Errorf("store: prune %s: %w", name, err)
		}
		total += n
	}
	return total, nil
}
