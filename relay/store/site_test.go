package store

import (
	"context"
	"maps"
	"path/filepath"
	"testing"

	"github.com/oob-relay/relay/relay"
)

func sites(t *testing.T, s *Store) map[string]string {
	t.Helper()
	got, err := s.Sites()
	if err != nil {
		t.Fatal(err)
	}
	return got
}

// Each node says where it is; the latest record of a node wins whatever
// order the records arrive in, a node cannot say where another is, and
// a snapshot carries the sites.
func TestSitesFoldAnyOrderAndOnlyFromTheNodeItself(t *testing.T) {
	ctx := context.Background()
	seoul := open(t, t.TempDir(), "seoul-1")
	defer seoul.Close()
	busan := open(t, t.TempDir(), "busan-1")
	defer busan.Close()
	var evs []relay.Event
	for _, site := range []string{"seoul", "pangyo"} {
		e, err := seoul.Append(ctx, relay.Event{Site: &relay.NodeSite{Node: "seoul-1", Site: site}})
		if err != nil {
			t.Fatal(err)
		}
		evs = append(evs, e...)
	}
	// busan-1 claims that seoul-1 is in tokyo, and says where it is.
	for _, ns := range []relay.NodeSite{{Node: "seoul-1", Site: "tokyo"}, {Node: "busan-1", Site: "busan"}} {
		e, err := busan.Append(ctx, relay.Event{Site: &ns})
		if err != nil {
			t.Fatal(err)
		}
		evs = append(evs, e...)
	}
	want := map[string]string{"seoul-1": "pangyo", "busan-1": "busan"}
	if got := sites(t, busan); got["seoul-1"] != "" || got["busan-1"] != "busan" {
		t.Fatalf("a node wrote another's site: %v", got)
	}
	for _, order := range [][]int{{0, 1, 2, 3}, {3, 2, 1, 0}, {1, 3, 0, 2}} {
		s := open(t, t.TempDir(), "tokyo-1")
		for _, i := range order {
			if _, err := s.Merge(ctx, []relay.Event{evs[i]}); err != nil {
				t.Fatal(err)
			}
		}
		if got := sites(t, s); !maps.Equal(got, want) {
			t.Errorf("order %v: sites %v, want %v", order, got, want)
		}
		s.Close()
	}

	path := filepath.Join(t.TempDir(), "snap.db")
	if _, err := seoul.Merge(ctx, evs[2:]); err != nil {
		t.Fatal(err)
	}
	if _, err := seoul.WriteSnapshot(path); err != nil {
		t.Fatal(err)
	}
	dst := open(t, t.TempDir(), "jeju-1")
	defer dst.Close()
	if err := dst.Restore(ctx, path); err != nil {
		t.Fatal(err)
	}
	if got := sites(t, dst); !maps.Equal(got, want) {
		t.Errorf("restored sites %v, want %v", got, want)
	}
}
