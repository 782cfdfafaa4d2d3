package main

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/oob-relay/relay/relay"
	"github.com/oob-relay/relay/relay/rosterdiff"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

func checkGolden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", "rosterdiff", name)
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if got != string(want) {
		t.Errorf("%s:\n%s\nwant:\n%s", name, got, want)
	}
}

// TestRosterDiffOffline diffs two roster files: the text and its exit
// status, 3 for changes, 0 for none, 1 for a file the node would refuse.
func TestRosterDiffOffline(t *testing.T) {
	dir := filepath.Join("testdata", "rosterdiff")
	old, new := filepath.Join(dir, "old.yaml"), filepath.Join(dir, "new.yaml")
	noenv := func(string) string { return "" }
	var stdout, stderr bytes.Buffer
	if code := run([]string{"roster", "diff", new, "--against", old}, nil, &stdout, &stderr, noenv); code != exitChanges || stderr.Len() > 0 {
		t.Fatalf("exit %d, stderr %q; want %d and nothing", code, stderr.String(), exitChanges)
	}
	checkGolden(t, "diff.golden", stdout.String())

	stdout.Reset()
	if code := run([]string{"roster", "diff", new, "--against", old, "--json"}, nil, &stdout, &stderr, noenv); code != exitChanges {
		t.Fatalf("--json: exit %d: %s", code, stderr.String())
	}
	checkGolden(t, "diff.golden.json", stdout.String())

	stdout.Reset()
	if code := run([]string{"roster", "diff", old, "--against", old}, nil, &stdout, &stderr, noenv); code != 0 || stdout.String() != "no change\n" {
		t.Fatalf("the same file: exit %d, %q", code, stdout.String())
	}

	bad := filepath.Join(t.TempDir(), "bad.yaml")
	if err := os.WriteFile(bad, []byte("people:\n  - id: han\n    phone: \"010-1234\"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	stdout.Reset()
	code := run([]string{"roster", "diff", bad, "--against", old}, nil, &stdout, &stderr, noenv)
	if code != 1 || !strings.Contains(stderr.String(), "people[0] (han).phone") || stdout.Len() > 0 {
		t.Fatalf("a bad file: exit %d, stdout %q, stderr %q", code, stdout.String(), stderr.String())
	}
}

// TestRosterDiffColour writes the diff as a terminal gets it: coloured
// lines, every value still escaped.
func TestRosterDiffColour(t *testing.T) {
	dir := filepath.Join("testdata", "rosterdiff")
	old, err := readRoster(filepath.Join(dir, "old.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	new, err := readRoster(filepath.Join(dir, "new.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	d, err := rosterdiff.Compare(old, new)
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := writeDiff(&buf, d, nil, "", true); err != nil {
		t.Fatal(err)
	}
	checkGolden(t, "diff-colour.golden", buf.String())

	// A node's roster may hold anything a hostile node sends.
	h := &relay.Roster{People: []relay.Person{{ID: "kim" + hostile, Name: "김민준" + hostile, Email: "kim@example.com", Channels: []string{hostile}}},
		Groups: []relay.Group{{ID: "ops", Members: []string{hostile}}}}
	for _, pair := range [][2]*relay.Roster{{h, new}, {new, h}, {old, h}} {
		d, err := rosterdiff.Compare(pair[0], pair[1])
		if err != nil {
			t.Fatal(err)
		}
		buf.Reset()
		if err := writeDiff(&buf, d, nil, "", true); err != nil {
			t.Fatal(err)
		}
		out := buf.String()
		for _, c := range []string{colourAdded, colourRemoved, colourChanged, colourBold, colourReset} {
			out = strings.ReplaceAll(out, c, "")
		}
		if bad := obeyed(out); bad != "" {
			t.Fatalf("the diff keeps what a terminal obeys, near %q:\n%s", bad, out)
		}
		if !strings.Contains(out, `\x1b[2J`) && !strings.Contains(out, `\e[2J`) {
			t.Fatalf("the hostile string is not shown escaped:\n%s", out)
		}
	}
}

// TestRosterDiffAgainstNode diffs a file against the roster of a node
// whose answer carries terminal escapes: they show escaped.
func TestRosterDiffAgainstNode(t *testing.T) {
	url := fakeNode(t)
	getenv := func(k string) string {
		return map[string]string{"RELAY_ADDR": url, "RELAY_TOKEN": "test-token-0123456789"}[k]
	}
	file := filepath.Join(t.TempDir(), "roster.yaml")
	if err := os.WriteFile(file, []byte("people:\n  - id: kim\n    name: 김민준\n    email: kim@example.com\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	var stdout, stderr bytes.Buffer
	code := run([]string{"roster", "diff", file}, nil, &stdout, &stderr, getenv)
	out := stdout.String()
	shown := strings.Contains(out, `\x1b[2J`) || strings.Contains(out, `\e[2J`)
	if code != exitChanges || obeyed(out) != "" || !shown || !strings.Contains(out, `pwned\a\r\nACK by ceo\u202eexe.txt`) || !strings.HasSuffix(out, " → 김민준\n") {
		t.Fatalf("exit %d:\n%s%s", code, out, stderr.String())
	}
}
