package relay

import (
	"errors"
	"fmt"
	"strings"
	"testing"
)

// TestRosterRefusesHostileText checks that names and addresses in a
// roster may be Korean and carry emoji but hold no control character, no
// bidirectional override and no line break, each problem naming its key,
// and that a name has a length limit.
func TestRosterRefusesHostileText(t *testing.T) {
	ok := &Roster{People: []Person{{ID: "kim", Name: "김민준 👨‍👩‍👧", Email: "kim@example.com"}},
		Groups: []Group{{ID: "db", Name: "DB 당직 🔥", Members: []string{"kim"}}}}
	if err := ok.Validate(); err != nil {
		t.Fatalf("valid roster refused: %v", err)
	}
	for _, c := range []struct {
		mutate func(r *Roster)
		want   string
	}{
		{func(r *Roster) { r.People[0].Name = "kim\x1b[2J" }, "people[0] (kim).name: contains U+001B (a control character) at byte 3"},
		{func(r *Roster) { r.People[0].Name = "\u202eadmin" }, "people[0] (kim).name: contains U+202E (a bidirectional formatting character)"},
		{func(r *Roster) { r.People[0].Name = "kim\nACK by boss" }, "people[0] (kim).name: contains U+000A (a line break or tab) at byte 3; it must be one line"},
		{func(r *Roster) { r.People[0].Name = strings.Repeat("가", 100) }, "people[0] (kim).name: is 300 bytes; the limit is 200"},
		{func(r *Roster) { r.People[0].Email = "k\u202eim@example.com" }, "people[0] (kim).email: contains U+202E"},
		{func(r *Roster) { r.People[0].Lang = "en" + strings.Repeat("-abcdefgh", 10) }, "people[0] (kim).lang: is 92 bytes; the limit is 35"},
		{func(r *Roster) { r.Groups[0].Name = "db\x00" }, "groups[0] (db).name: contains U+0000"},
		{func(r *Roster) { r.People[0].ID = "kim\x1b[2J"; r.Groups[0].Members[0] = "kim\x1b[2J" }, `people[0] (kim\x1b[2J).id: "kim\x1b[2J" must be`},
	} {
		r := ok.Clone()
		c.mutate(r)
		err := r.Validate()
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("error %v, want %q", err, c.want)
		}
		if err != nil && strings.ContainsFunc(err.Error(), func(r rune) bool { return UnsafeRune(r) && r != '\n' }) {
			t.Errorf("error text carries a control character: %q", err.Error())
		}
	}
}

// TestRosterSizeLimits checks the caps on a roster's lists and that a
// roster with a great many problems is answered with a bounded list.
func TestRosterSizeLimits(t *testing.T) {
	big := &Roster{People: make([]Person, MaxPeople+1)}
	for i := range big.People {
		big.People[i] = Person{ID: fmt.Sprintf("p%d", i), Email: fmt.Sprintf("p%d@example.com", i)}
	}
	err := big.Validate()
	if err == nil || !strings.Contains(err.Error(), fmt.Sprintf("people: lists %d people; the limit is %d", MaxPeople+1, MaxPeople)) {
		t.Errorf("%d people: %v", MaxPeople+1, err)
	}
	groups := &Roster{People: []Person{{ID: "kim", Email: "kim@example.com"}}, Groups: make([]Group, MaxGroups+1)}
	for i := range groups.Groups {
		groups.Groups[i] = Group{ID: fmt.Sprintf("g%d", i), Members: []string{"kim"}}
	}
	if err := groups.Validate(); err == nil || !strings.Contains(err.Error(), fmt.Sprintf("groups: lists %d groups; the limit is %d", MaxGroups+1, MaxGroups)) {
		t.Errorf("%d groups: %v", MaxGroups+1, err)
	}

	junk := &Roster{People: []Person{{ID: "kim", Email: "kim@example.com", Channels: make([]string, 75000)}}}
	for i := range junk.People[0].Channels {
		junk.People[0].Channels[i] = "pager"
	}
	err = junk.Validate()
	var n int
	for range flatten(err) {
		n++
	}
	if n > maxRosterProblems+1 || !strings.Contains(err.Error(), fmt.Sprintf("and %d more problems", 75000-maxRosterProblems)) {
		t.Errorf("75,000 bad channels: %d problems, ending %q", n, last(err))
	}
}

// TestDecodeRosterInvalidUTF8 checks that a roster file that is not UTF-8
// is refused with the line at fault, not a bare parser message.
func TestDecodeRosterInvalidUTF8(t *testing.T) {
	_, err := DecodeRoster(strings.NewReader("people:\n  - id: kim\n    name: \"\xb1\xe8\xb9\xce\xc1\xd8\"\n    email: kim@example.com\n"))
	if err == nil || err.Error() != "roster: line 3 is not valid UTF-8 (byte 0xb1); save the file as UTF-8" {
		t.Errorf("EUC-KR roster: %v", err)
	}
	_, err = DecodeRoster(strings.NewReader(`{"people":[{"id":"kim","name":"\ud800","email":"kim@example.com"}]}`))
	var fe *FieldError
	if !errors.As(err, &fe) || fe.Field != "people[0].name" {
		t.Errorf("half a surrogate pair in JSON: %v", err)
	}
}

func last(err error) string {
	es := flatten(err)
	if len(es) == 0 {
		return ""
	}
	return es[len(es)-1].Error()
}
