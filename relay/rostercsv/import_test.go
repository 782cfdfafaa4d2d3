package rostercsv_test

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/oob-relay/relay/relay"
	"github.com/oob-relay/relay/relay/rostercsv"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

// TestImportGolden imports each CSV file of testdata and compares the
// roster made, or every problem reported, with its .golden file.
func TestImportGolden(t *testing.T) {
	for _, tc := range []struct {
		file, country, into string
	}{
		{file: "korean.csv", country: "KR"},
		{file: "english.csv", country: "kr"},
		{file: "euckr.csv", country: "KR"},
		{file: "merge.csv", country: "KR", into: "merge-base.yaml"},
		{file: "bad-rows.csv", country: "KR"},
		{file: "bad-columns.csv", country: "KR"},
		{file: "empty.csv", country: "KR"},
		{file: "header-only.csv", country: "KR"},
		{file: "wrong-encoding.csv", country: "KR"},
		{file: "utf16.csv", country: "KR"},
		{file: "no-country.csv"},
		{file: "no-id-column.csv"},
		{file: "tabs.tsv", country: "KR"},
		{file: "semicolons.csv", country: "KR"},
	} {
		t.Run(tc.file, func(t *testing.T) {
			opts := rostercsv.Options{Country: tc.country}
			if tc.into != "" {
				f, err := os.Open(filepath.Join("testdata", tc.into))
				if err != nil {
					t.Fatal(err)
				}
				defer f.Close()
				if opts.Into, err = relay.DecodeRoster(f); err != nil {
					t.Fatal(err)
				}
			}
			got := importText(t, filepath.Join("testdata", tc.file), opts)
			golden := filepath.Join("testdata", strings.TrimSuffix(tc.file, filepath.Ext(tc.file))+".golden")
			if *update {
				if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatal(err)
			}
			if got != string(want) {
				t.Errorf("import of %s:\n%s\nwant:\n%s", tc.file, got, want)
			}
		})
	}
}

// importText is what importing file gives: the roster's YAML, checked
// to be one that the API takes, or the problems.
func importText(t *testing.T, file string, opts rostercsv.Options) string {
	t.Helper()
	f, err := os.Open(file)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	res, err := rostercsv.Import(f, opts)
	if err != nil {
		return "error:\n" + err.Error() + "\n"
	}
	var buf bytes.Buffer
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	if err := enc.Encode(res.Roster); err != nil {
		t.Fatal(err)
	}
	enc.Close()
	back, err := relay.DecodeRoster(bytes.NewReader(buf.Bytes()))
	if err != nil {
		t.Fatalf("the roster made is refused: %v\n%s", err, buf.String())
	}
	if len(back.People) != len(res.Roster.People) {
		t.Fatalf("the roster read back has %d people, want %d", len(back.People), len(res.Roster.People))
	}
	return "# " + res.Encoding + ", " + plural(res.Added, "added") + ", " + plural(res.Updated, "updated") + "\n" + buf.String()
}

func plural(n int, what string) string { return fmt.Sprintf("%d %s", n, what) }
