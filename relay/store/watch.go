package store

import (
	"bytes"
	"encoding/json"
	"strings"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/oob-relay/relay/relay"
	"github.com/oob-relay/relay/relay/hlc"
)

// Watching keeps three things, each folding alike in any order:
// bucketWatchReports holds each node's latest report of each subject
// (subject 0x00 node; the latest (clock, origin) wins, and only the node
// itself writes its reports); bucketBeats the latest beat of each
// heartbeat (its time, Unix nanoseconds, never past the clock of the
// event that brought it); bucketVerdicts each subject's latest verdict
// (the highest relay.WatchVerdict.Step, then the latest clock).

type watchReportRecord struct {
	relay.WatchReport
	Clock  hlc.Timestamp `json:"clock"`
	Origin string        `json:"origin"`
}

type verdictRecord struct {
	relay.WatchVerdict
	Clock  hlc.Timestamp `json:"clock"`
	Origin string        `json:"origin"`
}

func reportKey(subject, node string) []byte {
	return ackKey(subject, node)
}

func later(clock hlc.Timestamp, origin string, oldClock hlc.Timestamp, oldOrigin string) bool {
	return clock > oldClock || (clock == oldClock && origin > oldOrigin)
}

// watchReport folds a node's report; a report written by another node
// than the one it speaks for is ignored.
func (f *folder) watchReport(e *relay.Event) error {
	r := e.WatchReport
	if e.Node != r.Node {
		return nil
	}
	b := f.tx.Bucket(bucketWatchReports)
	key := reportKey(r.Subject, r.Node)
	if raw := b.Get(key); raw != nil {
		var old watchReportRecord
		if err := decode(raw, &old); err != nil {
			return err
		}
		if !later(e.Clock, e.Origin, old.Clock, old.Origin) {
			return nil
		}
	}
	raw, err := json.Marshal(&watchReportRecord{WatchReport: *r, Clock: e.Clock, Origin: e.Origin})
	if err != nil {
		return err
	}
	return b.Put(key, raw)
}

// beat folds a heartbeat's beat: the latest time wins, and a time ahead
// of the event's own clock counts as the clock's.
func (f *folder) beat(e *relay.Event) error {
	at := e.Beat.At
	if c := e.Clock.Time(); at.After(c) {
		at = c
	}
	return keepSeen(f.tx.Bucket(bucketBeats), []byte(e.Beat.Heartbeat), seenTime(at))
}

// watchVerdict folds a change of verdict: the later step of a subject's
// outages wins.
func (f *folder) watchVerdict(e *relay.Event) error {
	v := e.WatchVerdict
	b := f.tx.Bucket(bucketVerdicts)
	if raw := b.Get([]byte(v.Subject)); raw != nil {
		var old verdictRecord
		if err := decode(raw, &old); err != nil {
			return err
		}
		if old.Step() > v.Step() || (old.Step() == v.Step() && !later(e.Clock, e.Origin, old.Clock, old.Origin)) {
			return nil
		}
	}
	raw, err := json.Marshal(&verdictRecord{WatchVerdict: *v, Clock: e.Clock, Origin: e.Origin})
	if err != nil {
		return err
	}
	return b.Put([]byte(v.Subject), raw)
}

// WatchReports returns every node's latest report of subject, by node.
func (s *Store) WatchReports(subject string) ([]relay.WatchReport, error) {
	var out []relay.WatchReport
	prefix := append([]byte(subject), 0)
	err := s.view(func(tx *bolt.Tx) error {
		c := tx.Bucket(bucketWatchReports).Cursor()
		for k, v := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, v = c.Next() {
			var rec watchReportRecord
			if err := decode(v, &rec); err != nil {
				return err
			}
			out = append(out, rec.WatchReport)
		}
		return nil
	})
	return out, err
}

// LastBeat returns the time of heartbeat name's latest beat, zero when
// none came.
func (s *Store) LastBeat(name string) (time.Time, error) {
	var at time.Time
	err := s.view(func(tx *bolt.Tx) error {
		if v := tx.Bucket(bucketBeats).Get([]byte(name)); v != nil {
			at = time.Unix(0, int64(getU64(v))).UTC()
		}
		return nil
	})
	return at, err
}

// Verdicts returns the latest verdict of every subject whose name starts
// with prefix, by subject.
func (s *Store) Verdicts(prefix string) (map[string]relay.WatchVerdict, error) {
	out := map[string]relay.WatchVerdict{}
	err := s.view(func(tx *bolt.Tx) error {
		c := tx.Bucket(bucketVerdicts).Cursor()
		for k, v := c.Seek([]byte(prefix)); k != nil && strings.HasPrefix(string(k), prefix); k, v = c.Next() {
			var rec verdictRecord
			if err := decode(v, &rec); err != nil {
				return err
			}
			out[string(k)] = rec.WatchVerdict
		}
		return nil
	})
	return out, err
}

// Verdict returns subject's latest verdict; ok is false when it has none
// (it was never down).
func (s *Store) Verdict(subject string) (v relay.WatchVerdict, ok bool, err error) {
	err = s.view(func(tx *bolt.Tx) error {
		raw := tx.Bucket(bucketVerdicts).Get([]byte(subject))
		if raw == nil {
			return nil
		}
		var rec verdictRecord
		if err := decode(raw, &rec); err != nil {
			return err
		}
		v, ok = rec.WatchVerdict, true
		return nil
	})
	return v, ok, err
}
