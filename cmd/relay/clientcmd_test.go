package main

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/oob-relay/relay/relay"
)

// TestTokenInClearTextWarns: a client verb warns when RELAY_ADDR sends the
// token as plain http to another host, and not over https or loopback.
func TestTokenInClearTextWarns(t *testing.T) {
	for _, tc := range []struct {
		addr string
		warn bool
	}{
		{"http://relay.example.com:8080", true},
		{"https://relay.example.com", false},
		{"http://127.0.0.1:8080,http://[::1]:8081,http://localhost:8082", false},
		{"https://relay-a.example.com,http://10.0.0.7:8080", true},
	} {
		var stderr bytes.Buffer
		e := &env{stderr: &stderr, getenv: func(k string) string {
			return map[string]string{"RELAY_ADDR": tc.addr, "RELAY_TOKEN": "0123456789abcdef0123"}[k]
		}}
		if _, err := newClient(e); err != nil {
			t.Fatal(err)
		}
		got := strings.Contains(stderr.String(), "clear text")
		if got != tc.warn {
			t.Errorf("RELAY_ADDR=%s: warned %v (%q), want %v", tc.addr, got, stderr.String(), tc.warn)
		}
		if strings.Contains(stderr.String(), "0123456789abcdef0123") {
			t.Errorf("the warning shows the token: %q", stderr.String())
		}
	}
}

// TestOnCallScheduleNamedLikeAVerb: a schedule whose id is also a verb of
// relay oncall (override) is shown with --schedule; SCHEDULE and a
// different --schedule together are refused before anything is asked.
func TestOnCallScheduleNamedLikeAVerb(t *testing.T) {
	var paths []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		paths = append(paths, r.URL.Path)
		json.NewEncoder(w).Encode(&relay.OnCall{Schedule: strings.TrimPrefix(r.URL.Path, "/v1/oncall/"), People: []string{"kim"}})
	}))
	defer srv.Close()
	run := func(args ...string) (string, error) {
		var stdout, stderr bytes.Buffer
		e := &env{stdout: &stdout, stderr: &stderr, getenv: func(k string) string {
			return map[string]string{"RELAY_ADDR": srv.URL, "RELAY_TOKEN": "0123456789abcdef0123"}[k]
		}}
		cmd := oncallCmd(e)
		cmd.SetArgs(args)
		cmd.SetOut(&stdout)
		cmd.SetErr(&stderr)
		err := cmd.Execute()
		return stdout.String(), err
	}
	out, err := run("--schedule", "override")
	if err != nil || len(paths) != 1 || paths[0] != "/v1/oncall/override" || !strings.Contains(out, "kim") {
		t.Fatalf("--schedule override: asked %v, printed %q (%v)", paths, out, err)
	}
	if _, err := run("db", "--schedule", "override"); err == nil || !strings.Contains(err.Error(), "two schedules") {
		t.Errorf("db --schedule override: %v", err)
	}
	if len(paths) != 1 {
		t.Errorf("asked %v; the refused command asked too", paths[1:])
	}
}
