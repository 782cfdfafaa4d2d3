package relay

import (
	"strings"
	"testing"
)

const goodRoster = `people:
  - id: kim
    name: 김민지
    phone: "+821012345678"
    email: minji.kim@example.com
    channels: [sms, email]
    lang: ko
  - id: lee
    phone: "+821098765432"
  - id: park
    email: park@example.com
groups:
  - id: oncall
    members: [kim, lee]
`

func TestDecodeRosterGood(t *testing.T) {
	r, err := DecodeRoster(strings.NewReader(goodRoster))
	if err != nil {
		t.Fatal(err)
	}
	if len(r.People) != 3 || r.People[0].Name != "김민지" {
		t.Fatalf("people = %+v", r.People)
	}
	if got := r.People[1].ContactChannels(); len(got) != 1 || got[0] != ChannelSMS {
		t.Errorf("lee's default channels = %v, want [sms]", got)
	}
	if got := r.People[2].ContactChannels(); len(got) != 1 || got[0] != ChannelEmail {
		t.Errorf("park's default channels = %v, want [email]", got)
	}
}

// TestDecodeRosterProblems checks that every problem is reported at once,
// each naming its key.
func TestDecodeRosterProblems(t *testing.T) {
	cases := []struct {
		name string
		doc  string
		want []string
	}{
		{"empty", "  \n", []string{"roster is empty"}},
		{"unknown key", "people:\n  - id: kim\n    phon: \"+821012345678\"\n", []string{`unknown key "phon"`, "line 3"}},
		{"many at once", `people:
  - id: Kim
    phone: "010-1234-5678"
    email: "not an address"
    lang: "한국어"
    channels: [sms, pager]
  - id: lee
  - id: lee
    email: lee@example.com
    channels: [email, email, nats]
groups:
  - id: everyone
    members: []
  - id: ops
    members: [ghost, lee, lee]
`, []string{
			`people[0] (Kim).id: "Kim" must be 1-64 characters`,
			`people[0] (Kim).phone: "010-1234-5678"`,
			`people[0] (Kim).email: "not an address" is not a plain email address`,
			`people[0] (Kim).lang: "한국어" is not a language tag`,
			`people[0] (Kim).channels[1]: unknown channel "pager"`,
			`people[1] (lee): has no phone or email`,
			`people[2] (lee).id: "lee" is also used by people[1]`,
			`people[2] (lee).channels[1]: channel "email" is listed twice`,
			`people[2] (lee).channels[2]: channel "nats" is not personal`,
			`groups[0] (everyone).id: "everyone" is reserved`,
			`groups[0] (everyone).members: is empty`,
			`groups[1] (ops).members[0]: unknown person "ghost"`,
			`groups[1] (ops).members[2]: person "lee" is listed twice`,
		}},
		{"channel without contact", "people:\n  - id: kim\n    email: kim@example.com\n    channels: [sms]\n",
			[]string{`people[0] (kim).channels[0]: channel "sms" needs a phone number`}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := DecodeRoster(strings.NewReader(tc.doc))
			if err == nil {
				t.Fatal("roster accepted")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error lacks %q:\n%v", w, err)
				}
			}
		})
	}
}

func TestResolve(t *testing.T) {
	r, err := DecodeRoster(strings.NewReader(goodRoster))
	if err != nil {
		t.Fatal(err)
	}
	ids := func(ps []Person) string {
		var s []string
		for _, p := range ps {
			s = append(s, p.ID)
		}
		return strings.Join(s, ",")
	}
	for _, tc := range []struct {
		to   []string
		want string
	}{
		{[]string{"group:oncall"}, "kim,lee"},
		{[]string{"person:park", "group:oncall", "person:kim"}, "kim,lee,park"},
		{[]string{"everyone"}, "kim,lee,park"},
	} {
		got, err := r.Resolve(tc.to)
		if err != nil || ids(got) != tc.want {
			t.Errorf("Resolve(%v) = %s, %v; want %s", tc.to, ids(got), err, tc.want)
		}
	}
	for _, tc := range []struct {
		to   []string
		want string
	}{
		{[]string{"group:oncall", "group:nobody"}, `to[1]: "group:nobody" is not a group in the roster`},
		{[]string{"person:ghost"}, `to[0]: "person:ghost" is not a person in the roster`},
		{[]string{"kim"}, `to[0]: "kim" is not an audience`},
	} {
		if _, err := r.Resolve(tc.to); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Resolve(%v) error = %v, want %q", tc.to, err, tc.want)
		}
	}
}
