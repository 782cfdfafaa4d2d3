package main

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/oob-relay/relay/relay"
	"github.com/oob-relay/relay/relay/api"
)

// hostile is what a stored string may hold that a terminal would obey:
// clear the screen, move the cursor home, set the window title, start a
// fake line, reverse the rest, and an 8-bit CSI.
const hostile = "\x1b[2J\x1b[H\x1b]0;pwned\x07\r\nACK by ceo\u202eexe.txt\u009b31m"

// escapedHostile is how hostile prints in one cell.
const escapedHostile = `\x1b[2J\x1b[H\x1b]0;pwned\a\r\nACK by ceo\u202eexe.txt\u009b31m`

// obeyed reports what in out a terminal would act on, if anything.
func obeyed(out string) string {
	for i, r := range out {
		if relay.UnsafeRune(r) || r == '\r' {
			return out[max(0, i-20):min(len(out), i+20)]
		}
	}
	return ""
}

func TestSafeWriter(t *testing.T) {
	var buf bytes.Buffer
	w := newSafeWriter(&buf)
	text := "DB 장애 👨‍👩‍👧 확인\n\t다음 줄"
	for i := range len(text) { // one byte at a time: characters split across writes
		if _, err := w.Write([]byte{text[i]}); err != nil {
			t.Fatal(err)
		}
	}
	if buf.String() != text {
		t.Fatalf("split writes gave %q, want %q", buf.String(), text)
	}
	buf.Reset()
	w.Write([]byte("a\x1b[2Jb\u202ec\xffd\r\n"))
	if got, want := buf.String(), `a\x1b[2Jb\u202ec\xffd\r`+"\n"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
	buf.Reset()
	w.Write([]byte("end \xea\xb0")) // the start of 가, never finished
	if buf.String() != "end " {
		t.Errorf("wrote %q before the character ended", buf.String())
	}
	w.Flush()
	if buf.String() != `end \xea\xb0` {
		t.Errorf("flushed %q", buf.String())
	}

	// JSON stays JSON, with the same strings.
	buf.Reset()
	in := map[string]string{"text": "장애\u202e\u0085\u2028 " + hostile}
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(in); err != nil {
		t.Fatal(err)
	}
	var back map[string]string
	if err := json.Unmarshal(buf.Bytes(), &back); err != nil || back["text"] != in["text"] {
		t.Errorf("JSON through the writer: %q (%v), want the same strings back", buf.String(), err)
	}
	if bad := obeyed(buf.String()); bad != "" {
		t.Errorf("JSON output keeps %q", bad)
	}
}

// fakeNode answers the API's reads with hostile strings, as a node that
// stored them before they were refused, or a hostile node, would.
func fakeNode(t *testing.T) string {
	t.Helper()
	at := time.Date(2026, 11, 24, 9, 0, 0, 0, time.UTC)
	msg := api.MessageView{ID: "01JC0Z6T4Q9G8W7X2Y3Z4A5B6C", Incident: "db-outage" + hostile, Text: "DB 장애 🔥\n둘째 줄" + hostile,
		Severity: "critical", Author: "bot" + hostile, To: []string{"group:ops", "person:" + hostile}, Unreachable: []string{"park" + hostile},
		AcceptedAt: at, AcceptedBy: "seoul-1" + hostile, Deadline: at, Mode: relay.Mode("all" + hostile),
		Summary:    map[relay.Status]int{relay.StatusFailed: 1},
		Recipients: []api.RecipientRef{{Person: "kim" + hostile, Path: []api.Step{{Channel: "sms" + hostile, Status: relay.StatusFailed}}, ReachedBy: "email" + hostile}},
		Deliveries: []api.DeliveryView{{ID: "d1", Person: "kim" + hostile, Channel: "sms" + hostile, Status: relay.Status("failed" + hostile),
			Provider: "twilio" + hostile, Error: "carrier said " + hostile, UpdatedAt: at}},
		Acks:    []api.AckView{{Person: "lee" + hostile, Channel: "sms" + hostile, At: at}},
		Settled: true}
	inc := api.IncidentView{Incident: relay.Incident{ID: "db-outage" + hostile, OpenedBy: "bot" + hostile, Severity: relay.Severity("critical" + hostile), Messages: 1},
		Timeline:        []api.TimelineEntry{{At: at, Message: msg.ID + hostile, Author: "kim" + hostile, Severity: "warning" + hostile, Text: "판교 도착\n" + hostile}},
		Acknowledged:    []api.IncidentAck{{Person: "lee" + hostile, Channel: "sms" + hostile, At: at}},
		NotAcknowledged: []string{"park" + hostile},
		Stopped:         []relay.Consent{{Person: "choi" + hostile, Channel: "sms", Address: "+8210" + hostile, At: at}}}
	cluster := api.ClusterView{Self: "seoul-1" + hostile, Ready: true, Members: []api.MemberView{{Name: "seoul-1" + hostile, State: "alive" + hostile,
		Address: "127.0.0.1:7946" + hostile, API: "", Self: true}}}
	roster := relay.Roster{People: []relay.Person{{ID: "kim", Name: "김민준" + hostile, Email: "kim@example.com"}}}
	answers := map[string]any{
		"/v1/messages/" + msg.ID: msg, "/v1/incidents/db-outage": inc, "/v1/incidents": map[string]any{"incidents": []relay.Incident{inc.Incident}},
		"/v1/cluster": cluster, "/v1/roster": roster,
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		v, ok := answers[r.URL.Path]
		if !ok {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusNotFound)
			json.NewEncoder(w).Encode(map[string]any{"error": map[string]string{"code": "not_found", "message": "no such thing " + hostile}})
			return
		}
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(v)
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}

// TestCLIEscapesWhatItPrints runs every reading verb against a node whose
// answers carry terminal escapes and bidirectional overrides: the output
// shows them escaped, one line per cell, and keeps Korean and emoji.
func TestCLIEscapesWhatItPrints(t *testing.T) {
	url := fakeNode(t)
	getenv := func(k string) string {
		return map[string]string{"RELAY_ADDR": url, "RELAY_TOKEN": "test-token-0123456789"}[k]
	}
	for _, args := range [][]string{
		{"message", "show", "01JC0Z6T4Q9G8W7X2Y3Z4A5B6C"},
		{"message", "show", "01JC0Z6T4Q9G8W7X2Y3Z4A5B6C", "--json"},
		{"incident", "show", "db-outage"},
		{"incident", "show", "db-outage", "--json"},
		{"incident", "list"},
		{"status"},
		{"roster", "show"},
		{"message", "show", "no-such-message"},
	} {
		t.Run(strings.Join(args, " "), func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			code := run(args, strings.NewReader(""), &stdout, &stderr, getenv)
			out := stdout.String() + stderr.String()
			if bad := obeyed(out); bad != "" {
				t.Fatalf("exit %d; the output keeps what a terminal obeys, near %q:\n%s", code, bad, out)
			}
			shown := strings.Contains(out, `\x1b[2J`) || strings.Contains(out, `\u001b[2J`) || strings.Contains(out, `\e[2J`)
			if !shown || !strings.Contains(out, `\u202e`) {
				t.Errorf("exit %d; the hostile string is not shown escaped:\n%s", code, out)
			}
			if args[0] == "message" && code == 0 {
				for _, want := range []string{"DB 장애 🔥\n둘째 줄", "carrier said " + escapedHostile, "to group:ops person:" + escapedHostile} {
					if !strings.Contains(out, want) && !strings.Contains(args[len(args)-1], "json") {
						t.Errorf("output lacks %q:\n%s", want, out)
					}
				}
			}
		})
	}
}
