package inbound

import (
	"crypto/tls"
	"encoding/base64"
	"errors"
	"net"
	"net/textproto"
	"testing"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"

	"github.com/oob-relay/relay/channels/email/mailsink"
	"github.com/oob-relay/relay/relay"
	"github.com/oob-relay/relay/relay/secret"
)

const (
	botUser     = "monitor"
	botPassword = "bot-Pw-7Qx-never-in-logs"
)

func withBot(o *Options) {
	o.Auth = map[string]Bot{botUser: {Password: secret.New(botPassword), Name: "monitoring", Severity: relay.SeverityCritical}}
}

func TestBotLoginOnLoopback(t *testing.T) {
	ts := startServer(t, withBot)
	c := dial(t, ts.addr)
	if !c.SupportsAuth(sasl.Plain) {
		t.Fatal("AUTH PLAIN is not offered on loopback")
	}
	err := c.Auth(sasl.NewPlainClient("", botUser, "wrong-password"))
	var reply *smtp.SMTPError
	if err == nil || !errors.As(err, &reply) || reply.Code != 535 || reply.EnhancedCode != (smtp.EnhancedCode{5, 7, 8}) {
		t.Fatalf("wrong password: %v, want 535 5.7.8", err)
	}
	if err := c.Auth(sasl.NewPlainClient("", botUser, botPassword)); err != nil {
		t.Fatalf("right password: %v", err)
	}
	raw := mailBytes("Alertmanager <alerts@monitoring.example>", "db-outage@"+domain, "am.1@monitoring.example",
		"disk /var at 95% on db-main-1\n")
	if err := send(c, "alerts@monitoring.example", []string{"db-outage@" + domain}, raw); err != nil {
		t.Fatal(err)
	}
	got := ts.posts.posts()
	if len(got) != 1 || got[0].Bot != "monitoring" || got[0].Incident != "db-outage" {
		t.Fatalf("posted %+v", got)
	}
	// A login does not open a person's reply address, nor unknown
	// incidents.
	for _, to := range []string{testKey(t).Address("kim", "db-outage", domain), "no-such@" + domain} {
		if err := c.Reset(); err != nil {
			t.Fatal(err)
		}
		err := send(c, "alerts@monitoring.example", []string{to}, raw)
		if !errors.As(err, &reply) || reply.Code != 550 {
			t.Errorf("bot to %s: %v, want 550", to, err)
		}
	}
	// Without a login the same mail is refused.
	err = sendOne(t, ts.addr, "alerts@monitoring.example", []string{"db-outage@" + domain}, raw)
	wantRefused(t, err, "RCPT", 550, smtp.EnhancedCode{5, 7, 1})
}

func TestBotLoginNeedsTLSOffLoopback(t *testing.T) {
	cert, err := mailsink.SelfSigned()
	if err != nil {
		t.Fatal(err)
	}
	ts := startServer(t, func(o *Options) {
		withBot(o)
		o.TLS = cert.Server
	}, func(s *Server) {
		s.loopback = func(net.Addr) bool { return false } // as if the client were remote
	})

	c := dial(t, ts.addr)
	if c.SupportsAuth(sasl.Plain) {
		t.Error("AUTH PLAIN is offered on a plain connection")
	}
	// go-smtp's client will not send AUTH that is not offered, so ask
	// with raw commands.
	tp, err := textproto.Dial("tcp", ts.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer tp.Close()
	expect := func(code int) string {
		t.Helper()
		_, msg, err := tp.ReadResponse(code)
		if err != nil {
			t.Fatalf("want %d: %v", code, err)
		}
		return msg
	}
	expect(220)
	if err := tp.PrintfLine("EHLO mx.example.com"); err != nil {
		t.Fatal(err)
	}
	expect(250)
	ir := base64.StdEncoding.EncodeToString([]byte("\x00" + botUser + "\x00" + botPassword))
	if err := tp.PrintfLine("AUTH PLAIN %s", ir); err != nil {
		t.Fatal(err)
	}
	if msg := expect(538); msg[:6] != "5.7.11" {
		t.Errorf("AUTH on a plain connection: %q, want 5.7.11", msg)
	}

	// After STARTTLS, AUTH is offered and works.
	tc, err := smtp.DialStartTLS(ts.addr, &tls.Config{RootCAs: cert.Pool, ServerName: "127.0.0.1"})
	if err != nil {
		t.Fatal(err)
	}
	defer tc.Close()
	if !tc.SupportsAuth(sasl.Plain) {
		t.Fatal("AUTH PLAIN is not offered after STARTTLS")
	}
	if err := tc.Auth(sasl.NewPlainClient("", botUser, botPassword)); err != nil {
		t.Fatal(err)
	}
	raw := mailBytes("alerts@monitoring.example", "db-outage@"+domain, "", "over TLS\n")
	if err := send(tc, "alerts@monitoring.example", []string{"db-outage@" + domain}, raw); err != nil {
		t.Fatal(err)
	}
	if got := ts.posts.posts(); len(got) != 1 || got[0].Text != "Re: incident\n\nover TLS" {
		t.Fatalf("posted %+v", got)
	}
}

func TestNoAuthWithoutLogins(t *testing.T) {
	ts := startServer(t, nil)
	c := dial(t, ts.addr)
	if ok, _ := c.Extension("AUTH"); ok {
		t.Error("AUTH is offered with no logins configured")
	}
}
