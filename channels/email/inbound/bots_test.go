package inbound

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"

	"github.com/oob-relay/relay/relay"
	"github.com/oob-relay/relay/relay/secret"
)

// loggedIn dials the server and logs in as the test bot.
func loggedIn(t *testing.T, ts *testServer) *smtp.Client {
	t.Helper()
	c := dial(t, ts.addr)
	if err := c.Auth(sasl.NewPlainClient("", botUser, botPassword)); err != nil {
		t.Fatal(err)
	}
	return c
}

// alert is a monitoring system's mail to incident.
func alert(from, incident, id, subject, body string) []byte {
	raw := mailBytes(from, incident+"@"+domain, id, body)
	return []byte(strings.Replace(string(raw), "Subject: Re: incident", "Subject: "+subject, 1))
}

// TestBotPosts: a logged-in bot's mail to an incident address is posted
// by the bot, with its Subject, whatever its From says; a bot never
// speaks for a roster person, and its machine-made mail is not dropped as
// an auto-reply.
func TestBotPosts(t *testing.T) {
	ts := startServer(t, withBot)
	c := loggedIn(t, ts)
	raw := alert("Kim <kim@example.com>", "db-outage", "am.1@monitoring.example", "[FIRING:1] DiskFull db-main-1",
		"disk /var at 95% on db-main-1\n> threshold 90%\n")
	raw = append([]byte("Auto-Submitted: auto-generated\r\n"), raw...)
	if err := send(c, "alerts@monitoring.example", []string{"db-outage@" + domain}, raw); err != nil {
		t.Fatal(err)
	}
	want := BotPost{Bot: "monitoring", Incident: "db-outage", Severity: relay.SeverityCritical,
		Text: "[FIRING:1] DiskFull db-main-1\n\ndisk /var at 95% on db-main-1\n> threshold 90%", Key: botKey("am.1@monitoring.example", "db-outage")}
	got := ts.posts.posts()
	if len(got) != 1 || fmt.Sprint(got[0]) != fmt.Sprint(want) || want.Key == "" {
		t.Fatalf("posted %+v\nwant %+v", got, want)
	}
	if in := ts.rec.inbounds(); len(in) != 0 {
		t.Fatalf("a bot's mail reached the Receiver as a person's: %+v", in)
	}
	// The same mail again has the same key, so it posts once.
	if err := send(c, "alerts@monitoring.example", []string{"db-outage@" + domain}, raw); err != nil {
		t.Fatal(err)
	}
	if got := ts.posts.posts(); len(got) != 2 || got[1].Key != want.Key {
		t.Fatalf("posted %+v", got)
	}
	// A bot without an audience of its own cannot open an incident.
	err := send(c, "alerts@monitoring.example", []string{"disk-full@" + domain}, alert("a@monitoring.example", "disk-full", "", "s", "b\n"))
	wantRefused(t, err, "RCPT", 550, smtp.EnhancedCode{5, 1, 1})
}

func TestBotOpensIncident(t *testing.T) {
	ts := startServer(t, func(o *Options) {
		o.Auth = map[string]Bot{botUser: {Password: secret.New(botPassword), To: []string{"group:oncall"}}}
	})
	c := loggedIn(t, ts)
	if err := send(c, "a@monitoring.example", []string{"disk-full@" + domain}, alert("a@monitoring.example", "disk-full", "", "Disk full", "Disk full\n/var at 99%\n")); err != nil {
		t.Fatal(err)
	}
	got := ts.posts.posts()
	if len(got) != 1 || got[0].Bot != botUser || got[0].Incident != "disk-full" || got[0].Text != "Disk full\n/var at 99%" ||
		got[0].To[0] != "group:oncall" || got[0].Severity != "" || got[0].Key != "" {
		t.Fatalf("posted %+v", got)
	}
	// Not a valid incident id.
	err := send(c, "a@monitoring.example", []string{"Not_An_Id!@" + domain}, alert("a@monitoring.example", "x", "", "s", "b\n"))
	wantRefused(t, err, "RCPT", 550, smtp.EnhancedCode{5, 1, 1})
}

func TestBotPostRefusals(t *testing.T) {
	for _, tc := range []struct {
		name     string
		err      error
		code     int
		enhanced smtp.EnhancedCode
	}{
		{"no incident", fmt.Errorf("%w: no audience", relay.ErrNoIncident), 550, smtp.EnhancedCode{5, 1, 1}},
		{"audience unknown", &relay.FieldError{Field: "to[0]", Message: `"group:oncall" is not a group in the roster`}, 550, smtp.EnhancedCode{5, 3, 0}},
		{"store busy", errors.New("store is busy"), 451, smtp.EnhancedCode{4, 3, 0}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ts := startServer(t, withBot)
			ts.posts.fail = func(*BotPost) error { return tc.err }
			err := send(loggedIn(t, ts), "a@monitoring.example", []string{"db-outage@" + domain},
				alert("a@monitoring.example", "db-outage", "", "s", "b\n"))
			wantRefused(t, err, "DATA", tc.code, tc.enhanced)
		})
	}
	// A post longer than a message holds.
	ts := startServer(t, withBot)
	err := send(loggedIn(t, ts), "a@monitoring.example", []string{"db-outage@" + domain},
		alert("a@monitoring.example", "db-outage", "", strings.Repeat("s", 900), strings.Repeat("alert line\n", (relay.MaxTextBytes-100)/11)))
	wantRefused(t, err, "DATA", 552, smtp.EnhancedCode{5, 3, 4})
}
