package store

import (
	"cmp"
	"encoding/json"
	"slices"
	"strings"

	bolt "go.etcd.io/bbolt"

	"github.com/oob-relay/relay/relay"
)

// Drills are kept by id, with the event that started them. A drill is
// small and its summary makes the trend of later drills' reports, so
// drills outlive their incidents; a drill whose message retention removed
// has no report any more.

// drillRecord is a stored drill with the event that started it. The same
// drill started twice (a scheduled drill fired by two nodes, a retried
// start) keeps the earliest start by (clock, origin), as messages do.
type drillRecord struct {
	relay.Drill
	Clock  uint64 `json:"clock"`
	Origin string `json:"origin"`
}

func (f *folder) drill(e *relay.Event) error {
	b := f.tx.Bucket(bucketDrills)
	key := []byte(e.Drill.ID)
	if raw := b.Get(key); raw != nil {
		var cur drillRecord
		if err := decode(raw, &cur); err != nil {
			return err
		}
		if cur.Clock < uint64(e.Clock) || (cur.Clock == uint64(e.Clock) && cur.Origin <= e.Origin) {
			return nil
		}
	}
	raw, err := json.Marshal(&drillRecord{Drill: *e.Drill, Clock: uint64(e.Clock), Origin: e.Origin})
	if err != nil {
		return err
	}
	return b.Put(key, raw)
}

// Drill returns the drill with the given id, or relay.ErrNotFound.
func (s *Store) Drill(id string) (*relay.Drill, error) {
	rec, err := getRecord[drillRecord](s, bucketDrills, id)
	if err != nil {
		return nil, err
	}
	return &rec.Drill, nil
}

// Drills returns every drill, earliest first.
func (s *Store) Drills() ([]relay.Drill, error) {
	var out []relay.Drill
	err := s.view(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketDrills).ForEach(func(_, v []byte) error {
			var rec drillRecord
			if err := decode(v, &rec); err != nil {
				return err
			}
			out = append(out, rec.Drill)
			return nil
		})
	})
	slices.SortFunc(out, func(a, b relay.Drill) int {
		return cmp.Or(a.StartedAt.Compare(b.StartedAt), strings.Compare(a.ID, b.ID))
	})
	return out, err
}
