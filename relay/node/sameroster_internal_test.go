package node

import (
	"strings"
	"testing"

	"github.com/oob-relay/relay/relay"
)

// TestSameRosterSeesEverySection: a roster file that changes only a
// person's roles, or only a schedule, is a change to apply at start; the
// same file read again is not.
func TestSameRosterSeesEverySection(t *testing.T) {
	const base = `people:
  - {id: kim, phone: "+821012345678", roles: [commander]}
  - {id: lee, email: lee@example.com}
groups:
  - {id: oncall, members: [kim, lee]}
schedules:
  - id: db
    layers:
      - {name: day, members: [kim, lee], start: "2026-03-02 09:00", shift: daily}
`
	read := func(doc string) *relay.Roster {
		t.Helper()
		r, err := relay.DecodeRoster(strings.NewReader(doc))
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	a := read(base)
	if !sameRoster(a, read(base)) {
		t.Error("the same file read twice differs")
	}
	if !sameRoster(a, a.Clone()) {
		t.Error("a roster differs from its clone")
	}
	for name, doc := range map[string]string{
		"roles":    strings.Replace(base, "roles: [commander]", "roles: [commander, admin]", 1),
		"schedule": strings.Replace(base, "shift: daily", "shift: weekly", 1),
	} {
		if sameRoster(a, read(doc)) {
			t.Errorf("a change of %s only is not seen", name)
		}
	}
}
