package store

import (
	"context"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/oob-relay/relay/relay"
)

func contactList(t *testing.T, s *Store) []string {
	t.Helper()
	layer, err := s.Contacts()
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, c := range layer {
		out = append(out, c.Person+"/"+c.Kind+"="+c.Address)
	}
	return out
}

func effectivePhone(t *testing.T, s *Store, person string) string {
	t.Helper()
	r, _, _, err := s.EffectiveRoster()
	if err != nil {
		t.Fatal(err)
	}
	p, ok := r.Person(person)
	if !ok {
		t.Fatalf("the roster in effect has no %s", person)
	}
	return p.Phone
}

// TestContactsFoldInAnyOrder: the latest change of a person's kind is
// kept whatever order the changes arrive in; a roster change leaves the
// changes alone and the roster in effect carries them; a snapshot carries
// them; retention and log truncation keep them.
func TestContactsFoldInAnyOrder(t *testing.T) {
	ctx := context.Background()
	a, b := open(t, t.TempDir(), "a"), open(t, t.TempDir(), "b")
	defer a.Close()
	defer b.Close()
	ros := relay.Roster{People: []relay.Person{{ID: "kim", Phone: "+821011112222", Email: "kim@example.com"}, {ID: "lee", Email: "lee@example.com"}}}
	roster, err := a.Append(ctx, relay.Event{Roster: &relay.RosterChange{Roster: ros, By: "file"}})
	if err != nil {
		t.Fatal(err)
	}
	change := func(person, kind, addr, base string) relay.Event {
		return relay.Event{Contact: &relay.ContactChange{Person: person, Kind: kind, Address: addr, Base: base, By: person}}
	}
	first, err := a.Append(ctx, change("kim", relay.ContactPhone, "+821033334444", "+821011112222"))
	if err != nil {
		t.Fatal(err)
	}
	second, err := a.Append(ctx, change("kim", relay.ContactPhone, "+821055556666", "+821011112222"),
		change("lee", relay.ContactPhone, "+821077778888", ""), change("kim", relay.ContactEmail, "", "kim@example.com"))
	if err != nil {
		t.Fatal(err)
	}
	// The file applied again, unchanged for kim, after the changes.
	again, err := a.Append(ctx, relay.Event{Roster: &relay.RosterChange{Roster: ros, By: "file"}})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"kim/email=", "kim/phone=+821055556666", "lee/phone=+821077778888"}
	if got := contactList(t, a); !slices.Equal(got, want) {
		t.Fatalf("a holds %v, want %v", got, want)
	}
	if got := effectivePhone(t, a, "kim"); got != "+821055556666" {
		t.Fatalf("a: kim's phone in effect is %q, want the second change", got)
	}
	// b gets them the other way round (later first, gaps filled after).
	for _, evs := range [][]relay.Event{again, second, first, roster} {
		if _, err := b.Merge(ctx, evs); err != nil {
			t.Fatal(err)
		}
	}
	if got := contactList(t, b); !slices.Equal(got, want) {
		t.Fatalf("b holds %v, want %v", got, want)
	}
	r, conflicts, _, err := b.EffectiveRoster()
	if err != nil {
		t.Fatal(err)
	}
	kim, _ := r.Person("kim")
	lee, _ := r.Person("lee")
	if kim.Phone != "+821055556666" || kim.Email != "" || lee.Phone != "+821077778888" || len(conflicts) != 0 {
		t.Fatalf("b: in effect kim %+v, lee %+v, conflicts %v", kim, lee, conflicts)
	}
	if applied, _, _ := b.Roster(); applied.People[0].Phone != "+821011112222" {
		t.Fatalf("the applied roster changed: %+v", applied.People[0])
	}

	// Retention and truncation leave the changes.
	if _, _, err := a.Prune(ctx, time.Now().Add(365*24*time.Hour), time.Hour); err != nil {
		t.Fatal(err)
	}
	marks, err := a.Marks()
	if err != nil {
		t.Fatal(err)
	}
	if n, err := a.TruncateLog(ctx, marks, time.Now().Add(time.Hour)); err != nil || n == 0 {
		t.Fatalf("TruncateLog = %d, %v", n, err)
	}
	if got := contactList(t, a); !slices.Equal(got, want) {
		t.Fatalf("after retention a holds %v, want %v", got, want)
	}

	// A snapshot carries them; a restore keeps a later change of its own.
	path := filepath.Join(t.TempDir(), "snap.db")
	if _, err := a.WriteSnapshot(path); err != nil {
		t.Fatal(err)
	}
	c := open(t, t.TempDir(), "c")
	defer c.Close()
	if _, err := c.Append(ctx, change("lee", relay.ContactEmail, "lee@example.org", "lee@example.com")); err != nil {
		t.Fatal(err)
	}
	if err := c.Restore(ctx, path); err != nil {
		t.Fatal(err)
	}
	want = []string{"kim/email=", "kim/phone=+821055556666", "lee/email=lee@example.org", "lee/phone=+821077778888"}
	if got := contactList(t, c); !slices.Equal(got, want) {
		t.Fatalf("restored store holds %v, want %v", got, want)
	}
	if got := effectivePhone(t, c, "kim"); got != "+821055556666" {
		t.Fatalf("restored store: kim's phone in effect is %q", got)
	}
}

// TestRosterAfterContactChange: a roster applied after a person's change
// that changes the same field wins and the change shows as a conflict; one
// that leaves the field as it was does not undo the change.
func TestRosterAfterContactChange(t *testing.T) {
	ctx := context.Background()
	s := open(t, t.TempDir(), "a")
	defer s.Close()
	kim := relay.Person{ID: "kim", Phone: "+821011112222"}
	set := func(p relay.Person) {
		t.Helper()
		if _, err := s.Append(ctx, relay.Event{Roster: &relay.RosterChange{Roster: relay.Roster{People: []relay.Person{p}}, By: "file"}}); err != nil {
			t.Fatal(err)
		}
	}
	set(kim)
	if _, err := s.Append(ctx, relay.Event{Contact: &relay.ContactChange{Person: "kim", Kind: relay.ContactPhone,
		Address: "+821033334444", Base: "+821011112222", By: "kim"}}); err != nil {
		t.Fatal(err)
	}
	kim.Name = "Kim"
	set(kim)
	if got := effectivePhone(t, s, "kim"); got != "+821033334444" {
		t.Fatalf("after an unrelated change of the file, kim's phone is %q", got)
	}
	kim.Phone = "+821099990000"
	set(kim)
	if got := effectivePhone(t, s, "kim"); got != "+821099990000" {
		t.Fatalf("after the file changed kim's phone, it is %q", got)
	}
	_, conflicts, _, err := s.EffectiveRoster()
	if err != nil || len(conflicts) != 1 || conflicts[0].File != "+821099990000" || conflicts[0].Change.Address != "+821033334444" {
		t.Fatalf("conflicts = %+v, %v", conflicts, err)
	}
}

func TestContactEventCheck(t *testing.T) {
	for _, c := range []*relay.ContactChange{
		{Kind: relay.ContactPhone, Address: "+821011112222"},
		{Person: "kim", Kind: "fax", Address: "+821011112222"},
		{Person: "kim", Kind: relay.ContactPhone, Address: "010-1111-2222"},
		{Person: "kim", Kind: relay.ContactPhone, Address: "+82 10-1111-2222"},
		{Person: "kim", Kind: relay.ContactEmail, Address: "kim@example.com\u202e"},
		{Person: "kim", Kind: relay.ContactEmail, Address: "Kim <kim@example.com>"},
	} {
		e := relay.Event{Origin: "x", Seq: 1, Contact: c}
		if err := e.Check(); err == nil {
			t.Errorf("%+v: no error", c)
		}
	}
	for _, c := range []*relay.ContactChange{
		{Person: "kim", Kind: relay.ContactEmail, By: "kim"},
		// A number this release's phone metadata may not know is still
		// in E.164: another release took it, so it folds here too.
		{Person: "kim", Kind: relay.ContactPhone, Address: "+999123456789", By: "kim"},
	} {
		e := relay.Event{Origin: "x", Seq: 1, Contact: c}
		if err := e.Check(); err != nil {
			t.Errorf("%+v: %v", c, err)
		}
	}
}
