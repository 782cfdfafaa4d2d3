package store

import (
	"context"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/oob-relay/relay/relay"
)

func overrideIDs(t *testing.T, s *Store) []string {
	t.Helper()
	added, err := s.Overrides()
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, so := range added {
		ids = append(ids, so.Schedule+"/"+so.Override.ID+"/"+so.Override.By)
	}
	return ids
}

// TestOverridesFoldInAnyOrder: an added override is kept until removed;
// a removal that arrives before the addition still wins; a roster change
// leaves the added overrides alone; a snapshot carries them.
func TestOverridesFoldInAnyOrder(t *testing.T) {
	ctx := context.Background()
	a, b := open(t, t.TempDir(), "a"), open(t, t.TempDir(), "b")
	defer a.Close()
	defer b.Close()
	add := func(id string) relay.Event {
		return relay.Event{Override: &relay.OverrideChange{Schedule: "db", By: "admin",
			Add: &relay.Override{ID: id, Person: "lee", Covers: "kim", From: "2026-03-02T09:00:00+09:00", To: "2026-03-03T09:00:00+09:00"}}}
	}
	evs, err := a.Append(ctx, add("o1"), add("o2"))
	if err != nil {
		t.Fatal(err)
	}
	removed, err := a.Append(ctx, relay.Event{Override: &relay.OverrideChange{Schedule: "db", Remove: "o1", By: "admin"}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := a.Append(ctx, relay.Event{Roster: &relay.RosterChange{Roster: relay.Roster{People: []relay.Person{{ID: "kim", Email: "k@example.com"}}}, By: "file"}}); err != nil {
		t.Fatal(err)
	}
	if got := overrideIDs(t, a); !slices.Equal(got, []string{"db/o2/admin"}) {
		t.Fatalf("a holds %v, want o2 alone", got)
	}
	// b gets the removal first, with its gap: it folds once the rest is in.
	if _, err := b.Merge(ctx, removed); err != nil {
		t.Fatal(err)
	}
	if _, err := b.Merge(ctx, evs); err != nil {
		t.Fatal(err)
	}
	if got := overrideIDs(t, b); !slices.Equal(got, []string{"db/o2/admin"}) {
		t.Fatalf("b holds %v, want o2 alone", got)
	}
	if gone, err := b.OverrideRemoved("o1"); err != nil || !gone {
		t.Fatalf("o1 removed = %v, %v", gone, err)
	}
	path := filepath.Join(t.TempDir(), "snap.db")
	if _, err := a.WriteSnapshot(path); err != nil {
		t.Fatal(err)
	}
	c := open(t, t.TempDir(), "c")
	defer c.Close()
	if err := c.Restore(ctx, path); err != nil {
		t.Fatal(err)
	}
	if got := overrideIDs(t, c); !slices.Equal(got, []string{"db/o2/admin"}) {
		t.Fatalf("restored store holds %v, want o2 alone", got)
	}
	if gone, _ := c.OverrideRemoved("o1"); !gone {
		t.Fatal("the snapshot lost the removal of o1")
	}
}

func TestOverrideEventCheck(t *testing.T) {
	for _, c := range []*relay.OverrideChange{
		{Schedule: "db"},
		{Schedule: "", Remove: "o1"},
		{Schedule: "db", Remove: "o1", Add: &relay.Override{ID: "o2", Person: "kim"}},
		{Schedule: "db", Add: &relay.Override{Person: "kim"}},
	} {
		e := relay.Event{Origin: "x", Seq: 1, Override: c}
		if err := e.Check(); err == nil {
			t.Errorf("%+v: no error", c)
		}
	}
}

// TestPruneOverrides: overrides that ended before the cutoff (a day of
// slack for the schedule's zone) are removed, whether they were removed
// or not; those still running or ended since are kept, and so is a
// removal that came before its override (its end is unknown).
func TestPruneOverrides(t *testing.T) {
	ctx := context.Background()
	s := open(t, t.TempDir(), "a")
	defer s.Close()
	add := func(id, from, to string) relay.Event {
		return relay.Event{Override: &relay.OverrideChange{Schedule: "db", By: "admin",
			Add: &relay.Override{ID: id, Person: "lee", Covers: "kim", From: from, To: to}}}
	}
	if _, err := s.Append(ctx,
		add("old", "2026-01-01 09:00", "2026-01-02 09:00"),
		add("old-removed", "2026-01-03T09:00:00+09:00", "2026-01-04T09:00:00+09:00"),
		add("edge", "2026-03-30 09:00", "2026-03-31 12:00"), // within the day of slack
		add("recent", "2026-05-01 09:00", "2026-05-02 09:00"),
		relay.Event{Override: &relay.OverrideChange{Schedule: "db", Remove: "old-removed", By: "admin"}},
		relay.Event{Override: &relay.OverrideChange{Schedule: "db", Remove: "unknown-yet", By: "admin"}},
	); err != nil {
		t.Fatal(err)
	}
	cutoff := time.Date(2026, 4, 1, 0, 0, 0, 0, time.UTC)
	n, err := s.PruneOverrides(ctx, cutoff)
	if err != nil {
		t.Fatal(err)
	}
	if n != 2 {
		t.Errorf("pruned %d, want 2 (old, old-removed)", n)
	}
	if got := overrideIDs(t, s); !slices.Equal(got, []string{"db/edge/admin", "db/recent/admin"}) {
		t.Errorf("kept %v, want edge and recent", got)
	}
	if removed, _ := s.OverrideRemoved("unknown-yet"); !removed {
		t.Error("a removal whose override never came was pruned")
	}
	if removed, _ := s.OverrideRemoved("old-removed"); removed {
		t.Error("an ended override's removal was kept")
	}
	if n, err := s.PruneOverrides(ctx, cutoff); err != nil || n != 0 {
		t.Errorf("second round pruned %d (%v), want 0", n, err)
	}
}
