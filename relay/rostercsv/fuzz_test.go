package rostercsv_test

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/oob-relay/relay/relay"
	"github.com/oob-relay/relay/relay/rostercsv"
)

// FuzzImport feeds the importer any file: it never panics, and whatever
// it makes is a roster the API takes, written and read back whole.
func FuzzImport(f *testing.F) {
	files, err := filepath.Glob("testdata/*.csv")
	if err != nil {
		f.Fatal(err)
	}
	for _, name := range files {
		data, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data, "KR")
	}
	f.Add([]byte("id,phone\n\"a\"\"b\",1\n"), "")
	f.Add([]byte("email,부서\nx@y.z,a|b;c\n"), "US")
	into := &relay.Roster{
		People: []relay.Person{{ID: "kim", Email: "kim@example.com"}},
		Groups: []relay.Group{{ID: "infra", Name: "인프라팀", Members: []string{"kim"}}},
	}
	f.Fuzz(func(t *testing.T, data []byte, country string) {
		for _, opts := range []rostercsv.Options{{Country: country}, {Country: country, Into: into}} {
			res, err := rostercsv.Import(bytes.NewReader(data), opts)
			if err != nil {
				if err.Error() == "" {
					t.Fatal("an error without a message")
				}
				continue
			}
			if err := res.Roster.Validate(); err != nil {
				t.Fatalf("made a roster that is refused: %v", err)
			}
			out, err := yaml.Marshal(res.Roster)
			if err != nil {
				t.Fatal(err)
			}
			back, err := relay.DecodeRoster(bytes.NewReader(out))
			if err != nil {
				t.Fatalf("the roster made does not read back: %v\n%s", err, out)
			}
			if len(back.People) != len(res.Roster.People) || len(back.Groups) != len(res.Roster.Groups) {
				t.Fatalf("read back %d people and %d groups, made %d and %d", len(back.People), len(back.Groups), len(res.Roster.People), len(res.Roster.Groups))
			}
		}
		if len(into.People) != 1 || len(into.Groups[0].Members) != 1 {
			t.Fatal("the roster merged into was changed")
		}
	})
}
