package main

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	neturl "net/url"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/oob-relay/relay/relay"
	"github.com/oob-relay/relay/relay/client"
)

const contactsRoster = `people:
  - id: kim
    name: 김민준
    phone: "+821011112222"
    email: kim@example.com
  - id: lee
    name: Lee Seo-yeon
    email: lee@example.com
    lang: en
groups:
  - id: oncall
    members: [kim, lee]
`

// contactsConfig writes the config of a relay serve node that mails the
// sink, with an admin token, and returns its path and API URL.
func contactsConfig(t *testing.T, dir string, s *sinks) (string, string) {
	t.Helper()
	addr := freeAddr(t)
	cfg := fmt.Sprintf(`node:
  name: contacts-1
  data_dir: data
http:
  listen: %s
api:
  tokens:
    - name: roster-admin
      role: admin
      token_env: TEST_RELAY_TOKEN
roster_file: roster.yaml
channels:
  email:
    providers:
      - name: smtp-test
        smtp:
          address: %s
          tls: none
          from: "relay <relay@example.com>"
%s`, addr, s.mail.Addr(), unlimitedRates)
	path := filepath.Join(dir, "relay.yaml")
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	return path, "http://" + addr
}

var mailedCode = regexp.MustCompile(`\b[0-9]{6}\b`)

// TestRosterExportKeepsOwnContacts runs relay serve from a config and a
// roster file: a person's new address, verified by the code mailed to
// it, is listed by relay roster diff as missing from the file and kept
// when the file is applied; relay roster export writes it into a file
// that diffs as no change and applies with no change in effect; the node
// restarted with the old file keeps it; a file that changes the same
// address replaces it, and the diff says so.
func TestRosterExportKeepsOwnContacts(t *testing.T) {
	s := startSinks(t)
	dir := t.TempDir()
	file := filepath.Join(dir, "roster.yaml")
	if err := os.WriteFile(file, []byte(contactsRoster), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg, url := contactsConfig(t, dir, s)
	p := serve(t, cfg, url)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	base, err := neturl.Parse(url)
	if err != nil {
		t.Fatal(err)
	}
	c := client.New([]*neturl.URL{base}, testToken, &http.Client{Timeout: 10 * time.Second})
	relayCLI := func(args ...string) (string, int) {
		t.Helper()
		var stdout, stderr bytes.Buffer
		env := map[string]string{"RELAY_ADDR": url, "RELAY_TOKEN": testToken}
		code := run(args, nil, &stdout, &stderr, func(k string) string { return env[k] })
		if code == 1 {
			t.Fatalf("relay %s: %s", strings.Join(args, " "), stderr.String())
		}
		return stdout.String(), code
	}

	ch, err := c.StartContactChange(ctx, "kim", "email", "minjun.kim@example.org")
	if err != nil {
		t.Fatal(err)
	}
	mails, err := s.mail.WaitMails(ctx, 1)
	if err != nil {
		t.Fatal(err)
	}
	if to := strings.Join(mails[0].Envelope.To, ","); to != "minjun.kim@example.org" {
		t.Fatalf("the code went to %s", to)
	}
	code := mailedCode.FindString(mails[0].Text)
	if _, err := c.ConfirmContactChange(ctx, "kim", ch.Challenge, code); err != nil {
		t.Fatal(err)
	}

	out, status := relayCLI("roster", "diff", file)
	if status != 0 {
		t.Errorf("diff of the file: exit %d, want 0 (applying it changes nothing in effect)", status)
	}
	for _, want := range []string{
		"no change\n",
		"people's own contacts: 1 not in " + file + "\n",
		"  kim email: minjun.kim@example.org, by kim; the file has kim@example.com\n",
		"      kept when the file is applied",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("diff of the file lacks %q:\n%s", want, out)
		}
	}

	exported := filepath.Join(dir, "exported.yaml")
	relayCLI("roster", "export", "-o", exported)
	doc, err := os.ReadFile(exported)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(doc), "email: minjun.kim@example.org") {
		t.Fatalf("the export lacks kim's own address:\n%s", doc)
	}
	if out, status := relayCLI("roster", "diff", exported); status != 0 || out != "no change\n" {
		t.Fatalf("diff of the export: exit %d:\n%s", status, out)
	}
	before, err := c.Roster(ctx)
	if err != nil {
		t.Fatal(err)
	}
	relayCLI("roster", "apply", exported)
	after, err := c.Roster(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(before, after) {
		t.Fatalf("applying the export changed the roster in effect:\nbefore %+v\nafter  %+v", before, after)
	}

	// Restarted with the old file, which it applies at start: the
	// person's address stays.
	p.stop(t)
	serve(t, cfg, url)
	if r, err := c.Roster(ctx); err != nil || personEmail(r, "kim") != "minjun.kim@example.org" {
		t.Fatalf("after a restart with the old file: %v, %v", r, err)
	}

	// A file that changes the same address wins.
	changed := filepath.Join(dir, "changed.yaml")
	if err := os.WriteFile(changed, []byte(strings.Replace(contactsRoster, "kim@example.com", "mj.kim@example.com", 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	out, status = relayCLI("roster", "diff", changed)
	if status != exitChanges || !strings.Contains(out, "email: minjun.kim@example.org → mj.kim@example.com") ||
		!strings.Contains(out, "the file changes the same field: applying it replaces the person's own") {
		t.Fatalf("diff of a file changing kim's address: exit %d:\n%s", status, out)
	}
	relayCLI("roster", "apply", changed)
	if r, err := c.Roster(ctx); err != nil || personEmail(r, "kim") != "mj.kim@example.com" {
		t.Fatalf("after applying a file changing kim's address: %v, %v", r, err)
	}
	changes, err := c.ContactChanges(ctx)
	if err != nil || len(changes) != 1 || changes[0].InEffect || changes[0].File != "mj.kim@example.com" {
		t.Fatalf("changes: %+v, %v", changes, err)
	}
}

func personEmail(r *relay.Roster, id string) string {
	if p, ok := r.Person(id); ok {
		return p.Email
	}
	return ""
}
