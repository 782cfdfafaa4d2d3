package store

import (
	"context"
	"path/filepath"
	"slices"
	"testing"

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
