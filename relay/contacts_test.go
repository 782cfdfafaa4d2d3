package relay

import (
	"fmt"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/oob-relay/relay/relay/hlc"
)

func TestCheckContact(t *testing.T) {
	for _, c := range []struct {
		kind, in, current, want, err string
	}{
		{ContactPhone, "+82 10-1234-5678", "", "+821012345678", ""},
		{ContactPhone, "+1 (415) 555-0123", "", "+14155550123", ""},
		{ContactPhone, "010-9876-5432", "+821012345678", "+821098765432", ""},
		{ContactPhone, "010-9876-5432", "", "", "local form"},
		{ContactPhone, "+82 10-12", "", "", "not a valid phone number"},
		{ContactPhone, "+82 10 1234 5678 9999 0000 1111 22", "", "", "at most 32"},
		{ContactPhone, " ", "", "", "is empty"},
		{ContactEmail, "kim@example.com", "", "kim@example.com", ""},
		{ContactEmail, " kim@example.com ", "", "kim@example.com", ""},
		{ContactEmail, "Kim <kim@example.com>", "", "", "plain email address"},
		{ContactEmail, "kim", "", "", "plain email address"},
		{ContactEmail, "kim@example.com\u202e", "", "", "bidirectional"},
		{ContactEmail, strings.Repeat("k", 250) + "@example.com", "", "", "the limit is 254"},
		{"fax", "+821012345678", "", "", "not phone or email"},
	} {
		got, err := CheckContact(c.kind, c.in, c.current)
		switch {
		case c.err == "" && (err != nil || got != c.want):
			t.Errorf("%s %q = %q, %v; want %q", c.kind, c.in, got, err, c.want)
		case c.err != "" && (err == nil || !strings.Contains(err.Error(), c.err)):
			t.Errorf("%s %q = %q, %v; want an error saying %q", c.kind, c.in, got, err, c.err)
		}
	}
}

// TestWithContacts: who wins between the file and a person's own change,
// and how an explicit channel list follows.
func TestWithContacts(t *testing.T) {
	file := &Roster{People: []Person{
		{ID: "kim", Phone: "+821011112222", Email: "kim@example.com", Channels: []string{ChannelEmail}},
		{ID: "lee", Phone: "+821033334444"},
	}}
	change := func(person, kind, addr, base string, clock hlc.Timestamp) SelfContact {
		return SelfContact{ContactChange: ContactChange{Person: person, Kind: kind, Address: addr, Base: base}, Clock: clock, Origin: "o"}
	}
	// The file applied at 10; changes made at 20 whose base is the file's
	// value stand; one whose field the file changed after it (at 5) does not.
	layer := []SelfContact{
		change("kim", ContactEmail, "", "kim@example.com", 20),
		change("kim", ContactPhone, "+821055556666", "+821011112222", 20),
		change("lee", ContactPhone, "+821099990000", "+821000000000", 5),
		change("lee", ContactEmail, "lee@example.com", "", 20),
		change("choi", ContactEmail, "choi@example.com", "", 20),
	}
	got, conflicts := file.WithContacts(layer, 10)
	kim, _ := got.Person("kim")
	lee, _ := got.Person("lee")
	if kim.Phone != "+821055556666" || kim.Email != "" || len(kim.Channels) != 0 {
		t.Errorf("kim = %+v", kim)
	}
	if lee.Phone != "+821033334444" || lee.Email != "lee@example.com" {
		t.Errorf("lee = %+v", lee)
	}
	if len(conflicts) != 1 || conflicts[0].Change.Person != "lee" || conflicts[0].File != "+821033334444" {
		t.Errorf("conflicts = %+v", conflicts)
	}
	if _, ok := got.Person("choi"); ok {
		t.Error("a change of someone the file does not have added them")
	}
	if orig, _ := file.Person("kim"); orig.Email != "kim@example.com" || len(orig.Channels) != 1 {
		t.Errorf("the file's roster changed: %+v", orig)
	}
	if err := got.Validate(); err != nil {
		t.Errorf("the roster in effect does not validate: %v", err)
	}
	// An address added where the channel list names none of its channels
	// joins the list; removing both ways to reach someone keeps the last.
	layer = []SelfContact{
		change("lee", ContactEmail, "lee@example.com", "", 20),
	}
	file.People[1].Channels = []string{ChannelVoice}
	got, _ = file.WithContacts(layer, 10)
	if lee, _ := got.Person("lee"); strings.Join(lee.Channels, ",") != "voice,email" {
		t.Errorf("lee's channels = %v", lee.Channels)
	}
	layer = []SelfContact{
		change("lee", ContactPhone, "", "+821033334444", 20),
	}
	got, _ = file.WithContacts(layer, 10)
	if lee, _ := got.Person("lee"); lee.Phone != "+821033334444" {
		t.Errorf("lee's last way to be reached was removed: %+v", lee)
	}
	if got != file {
		t.Error("a roster with no change in effect was copied")
	}
}

func FuzzCheckContact(f *testing.F) {
	for _, s := range []string{"+82 10-1234-5678", "010-1234-5678", "kim@example.com", "Kim <kim@example.com>", "\u202e@x", "+"} {
		f.Add(ContactPhone, s)
		f.Add(ContactEmail, s)
	}
	f.Fuzz(func(t *testing.T, kind, in string) {
		got, err := CheckContact(kind, in, "+821012345678")
		if err != nil {
			return
		}
		if !utf8.ValidString(got) || CheckLine("address", got) != nil {
			t.Fatalf("%q became %q, which the text policy refuses", in, got)
		}
		c := ContactChange{Person: "kim", Kind: kind, Address: got}
		if err := c.Check(); err != nil {
			t.Fatalf("%q became %q, which an event may not carry: %v", in, got, err)
		}
		if again, err := CheckContact(kind, got, ""); err != nil || again != got {
			t.Fatalf("%q: the canonical %q reads as %q, %v", in, got, again, err)
		}
	})
}

// BenchmarkWithContacts is the work of recomputing the roster in effect
// after a contact change: 100,000 people, 1,000 of them with their own
// phone number.
func BenchmarkWithContacts(b *testing.B) {
	r := &Roster{}
	for i := range MaxPeople {
		r.People = append(r.People, Person{ID: fmt.Sprintf("p%06d", i), Phone: fmt.Sprintf("+8210%08d", i)})
	}
	var layer []SelfContact
	for i := 0; i < MaxPeople; i += 100 {
		layer = append(layer, SelfContact{ContactChange: ContactChange{Person: fmt.Sprintf("p%06d", i), Kind: ContactPhone,
			Address: fmt.Sprintf("+8211%08d", i), Base: fmt.Sprintf("+8210%08d", i)}, Clock: 20})
	}
	b.ResetTimer()
	for b.Loop() {
		r.WithContacts(layer, 10)
	}
}
