package rosterdiff_test

import (
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/oob-relay/relay/relay"
	"github.com/oob-relay/relay/relay/rosterdiff"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

func load(t *testing.T, name string) *relay.Roster {
	t.Helper()
	f, err := os.Open(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	r, err := relay.DecodeRoster(f)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func golden(t *testing.T, name string, v any) {
	t.Helper()
	got, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	got = append(got, '\n')
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != string(want) {
		t.Errorf("%s:\n%s\nwant:\n%s", name, got, want)
	}
}

// TestCompare diffs two rosters with every kind of change: people
// added, removed and changed field by field, groups added and removed,
// members added and removed, a group renamed.
func TestCompare(t *testing.T) {
	d, err := rosterdiff.Compare(load(t, "old.yaml"), load(t, "new.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	golden(t, "old-new.golden.json", d)
	if d.Empty() {
		t.Fatal("a diff of two different rosters is empty")
	}
}

func TestCompareSame(t *testing.T) {
	a := load(t, "old.yaml")
	b := a.Clone()
	// Members in another order are the same group.
	b.Groups[0].Members = []string{"lee", "park", "kim"}
	d, err := rosterdiff.Compare(a, b)
	if err != nil {
		t.Fatal(err)
	}
	if !d.Empty() {
		t.Fatalf("the same roster gave %+v", d)
	}
	// A preference order is not a set.
	b.People[0].Channels = []string{"email", "sms"}
	if d, _ = rosterdiff.Compare(a, b); d.Empty() {
		t.Fatal("a new order of channels is no change")
	}
	if d, _ = rosterdiff.Compare(nil, a); len(d.Sections) != 2 || len(d.Sections[0].Added) != 3 {
		t.Fatalf("from nothing: %+v", d)
	}
}

// laterRoster is a roster with sections this release does not have: a
// list with ids, and a setting compared whole.
type laterRoster struct {
	People    []relay.Person `yaml:"people"`
	Schedules []schedule     `yaml:"schedules,omitempty"`
	Settings  map[string]any `yaml:"settings,omitempty"`
}

type schedule struct {
	ID     string  `yaml:"id"`
	Name   string  `yaml:"name,omitempty"`
	TZ     string  `yaml:"time_zone"`
	Layers []layer `yaml:"layers"`
}

type layer struct {
	Members []string `yaml:"members"`
	Handoff string   `yaml:"handoff"`
}

// TestCompareNewSections shows that sections added to the roster are
// diffed by id, field by field, with no change to the diff.
func TestCompareNewSections(t *testing.T) {
	people := []relay.Person{{ID: "kim", Email: "kim@example.com"}}
	old := laterRoster{People: people, Schedules: []schedule{
		{ID: "primary", TZ: "Asia/Seoul", Layers: []layer{{Members: []string{"kim", "lee"}, Handoff: "09:00"}}},
		{ID: "night", TZ: "Asia/Seoul"},
	}}
	new := laterRoster{People: people, Schedules: []schedule{
		{ID: "primary", Name: "1차 당직", TZ: "Asia/Seoul", Layers: []layer{{Members: []string{"lee", "kim"}, Handoff: "09:00"}}},
		{ID: "weekend", TZ: "UTC"},
	}, Settings: map[string]any{"escalate_after": "5m"}}
	d, err := rosterdiff.CompareValues(old, new)
	if err != nil {
		t.Fatal(err)
	}
	golden(t, "sections.golden.json", d)
}

func TestInline(t *testing.T) {
	long := strings.TrimSpace(strings.Repeat("김민지 ", 40))
	for v, want := range map[any]string{
		nil:             "(none)",
		"+821012345678": `"+821012345678"`,
		"김민지":           "김민지",
		long:            long, // one line, however long
	} {
		if got := rosterdiff.Inline(v); got != want {
			t.Errorf("Inline(%q) = %q, want %q", v, got, want)
		}
	}
	list := []any{"sms", "email", long}
	if got, want := rosterdiff.Inline(list), "[sms, email, "+long+"]"; got != want {
		t.Errorf("a list: %q, want %q", got, want)
	}
}
