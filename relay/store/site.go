package store

import (
	"encoding/json"

	bolt "go.etcd.io/bbolt"

	"github.com/oob-relay/relay/relay"
	"github.com/oob-relay/relay/relay/hlc"
)

// The site of each node (relay.NodeSite) is kept in bucketSites by node
// name; the record with the latest (clock, origin) wins, so any order of
// arrival folds alike.

type siteRecord struct {
	Site   string        `json:"site"`
	Clock  hlc.Timestamp `json:"clock"`
	Origin string        `json:"origin"`
}

// site folds a node's site record. Only the node itself says where it
// is: a record another node wrote is ignored.
func (f *folder) site(e *relay.Event) error {
	s := e.Site
	if e.Node != s.Node {
		return nil
	}
	b := f.tx.Bucket(bucketSites)
	if raw := b.Get([]byte(s.Node)); raw != nil {
		var old siteRecord
		if err := decode(raw, &old); err != nil {
			return err
		}
		if old.Clock > e.Clock || (old.Clock == e.Clock && old.Origin >= e.Origin) {
			return nil
		}
	}
	raw, err := json.Marshal(&siteRecord{Site: s.Site, Clock: e.Clock, Origin: e.Origin})
	if err != nil {
		return err
	}
	return b.Put([]byte(s.Node), raw)
}

// Sites returns the site of every node the log knows, by node name.
func (s *Store) Sites() (map[string]string, error) {
	out := map[string]string{}
	err := s.view(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketSites).ForEach(func(k, v []byte) error {
			var rec siteRecord
			if err := decode(v, &rec); err != nil {
				return err
			}
			out[string(k)] = rec.Site
			return nil
		})
	})
	return out, err
}
