package inbound

import (
	"bytes"
	"errors"
	"net/netip"
	"strings"
	"testing"

	"github.com/emersion/go-smtp"

	"github.com/oob-relay/relay/internal/testkit"
)

// elsewhere makes example.com's SPF record name another server, so that
// mail from the test client is not vouched for by SPF.
func elsewhere(ts *testServer) { ts.dns.TXT("example.com", "v=spf1 ip4:192.0.2.10 -all") }

// TestForgedFromRefused: anyone can write a roster person's address into
// MAIL FROM and From. Mail to an incident address that neither DKIM nor
// SPF vouches for is refused at the end of DATA, saying why, and posts,
// acknowledges and stops nothing.
func TestForgedFromRefused(t *testing.T) {
	ts := startServer(t, nil)
	elsewhere(ts)
	for _, body := range []string{"the database is fine, stop paging\n", "1\n", "STOP\n"} {
		raw := mailBytes("Kim <kim@example.com>", "db-outage@"+domain, "", body)
		err := sendOne(t, ts.addr, "kim@example.com", []string{"db-outage@" + domain}, raw)
		wantRefused(t, err, "DATA", 550, smtp.EnhancedCode{5, 7, 26})
		var reply *smtp.SMTPError
		errors.As(err, &reply)
		for _, want := range []string{"example.com is not authenticated", "DKIM: no signature", "SPF: fail for example.com from 127.0.0.1"} {
			if !strings.Contains(reply.Message, want) {
				t.Errorf("refusal %q does not say %q", reply.Message, want)
			}
		}
	}
	if got := ts.rec.inbounds(); len(got) != 0 {
		t.Fatalf("forged mail was received: %+v", got)
	}
	// A signed reply address proves the person without DKIM or SPF.
	to := testKey(t).Address("kim", "db-outage", domain)
	if err := sendOne(t, ts.addr, "kim@example.com", []string{to}, mailBytes("kim@example.com", to, "", "on my way\n")); err != nil {
		t.Fatalf("reply address without DKIM: %v", err)
	}
	if got := ts.rec.inbounds(); len(got) != 1 || got[0].Person != "kim" {
		t.Fatalf("received %+v", got)
	}
}

// TestDKIMSignedAccepted: a mail signed by the From domain's own key, as
// its mail server signs, posts even when SPF does not pass (mail that was
// forwarded on the way, for one).
func TestDKIMSignedAccepted(t *testing.T) {
	ts := startServer(t, nil)
	elsewhere(ts)
	key := testkit.NewDKIMKey(t, ts.dns, "example.com", "s2026")
	raw := key.Sign(t, mailBytes("박서준 <park@example.com>", "db-outage@"+domain, "signed.1@example.com", "보조 DB 승격 완료\n"))
	if err := sendOne(t, ts.addr, "park@example.com", []string{"db-outage@" + domain}, raw); err != nil {
		t.Fatal(err)
	}
	got := ts.rec.inbounds()
	if len(got) != 1 || got[0].Person != "park" || got[0].Text != "보조 DB 승격 완료" || got[0].ID != "signed.1@example.com" {
		t.Fatalf("received %+v", got)
	}
}

func TestSenderChecks(t *testing.T) {
	const to = "db-outage@" + domain
	mail := func() []byte { return mailBytes("kim@example.com", to, "", "fine\n") }
	for _, tc := range []struct {
		name   string
		mutate func(*Options)
		setup  func(t *testing.T, ts *testServer) []byte
		code   int // 0: accepted
		says   string
	}{
		{name: "SPF passes", setup: func(t *testing.T, ts *testServer) []byte { return mail() }},
		{name: "SPF softfail", setup: func(t *testing.T, ts *testServer) []byte {
			ts.dns.TXT("example.com", "v=spf1 ip4:192.0.2.10 ~all")
			return mail()
		}, code: 550, says: "SPF: softfail for example.com"},
		{name: "no SPF record", setup: func(t *testing.T, ts *testServer) []byte {
			ts.dns.TXT("example.com")
			return mail()
		}, code: 550, says: "SPF: none for example.com"},
		{name: "signed by another domain", setup: func(t *testing.T, ts *testServer) []byte {
			elsewhere(ts)
			return testkit.NewDKIMKey(t, ts.dns, "evil.example", "s1").Sign(t, mail())
		}, code: 550, says: "the signature of d=evil.example is not aligned with example.com"},
		{name: "body changed after signing", setup: func(t *testing.T, ts *testServer) []byte {
			elsewhere(ts)
			raw := testkit.NewDKIMKey(t, ts.dns, "example.com", "s1").Sign(t, mail())
			return bytes.Replace(raw, []byte("fine"), []byte("ACK!"), 1)
		}, code: 550, says: "the signature of d=example.com does not verify (body hash did not verify)"},
		{name: "From changed after signing", setup: func(t *testing.T, ts *testServer) []byte {
			elsewhere(ts)
			raw := testkit.NewDKIMKey(t, ts.dns, "example.com", "s1").Sign(t, mailBytes("lee@example.com", to, "", "fine\n"))
			return bytes.Replace(raw, []byte("From: lee@"), []byte("From: kim@"), 1)
		}, code: 550, says: "does not verify"},
		{name: "signed by a subdomain, relaxed", setup: func(t *testing.T, ts *testServer) []byte {
			elsewhere(ts)
			return testkit.NewDKIMKey(t, ts.dns, "mail.example.com", "s1").Sign(t, mail())
		}},
		{name: "signed by a subdomain, DMARC strict", setup: func(t *testing.T, ts *testServer) []byte {
			elsewhere(ts)
			ts.dns.TXT("_dmarc.example.com", "v=DMARC1; p=reject; adkim=s")
			return testkit.NewDKIMKey(t, ts.dns, "mail.example.com", "s1").Sign(t, mail())
		}, code: 550, says: "d=mail.example.com is not aligned"},
		{name: "key cannot be looked up now", setup: func(t *testing.T, ts *testServer) []byte {
			elsewhere(ts)
			raw := testkit.NewDKIMKey(t, ts.dns, "example.com", "s1").Sign(t, mail())
			ts.dns.Fail("s1._domainkey.example.com", true)
			return raw
		}, code: 451, says: "cannot be looked up now"},
		{name: "SPF cannot be looked up now", setup: func(t *testing.T, ts *testServer) []byte {
			ts.dns.Fail("example.com", true)
			return mail()
		}, code: 451},
		{name: "DMARC record cannot be looked up now, exact DKIM passes", setup: func(t *testing.T, ts *testServer) []byte {
			elsewhere(ts)
			ts.dns.Fail("_dmarc.example.com", true)
			return testkit.NewDKIMKey(t, ts.dns, "example.com", "s1").Sign(t, mail())
		}},
		{name: "DMARC record cannot be looked up now, relaxed DKIM waits", setup: func(t *testing.T, ts *testServer) []byte {
			elsewhere(ts)
			ts.dns.Fail("_dmarc.example.com", true)
			return testkit.NewDKIMKey(t, ts.dns, "mail.example.com", "s1").Sign(t, mail())
		}, code: 451},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ts := startServer(t, tc.mutate)
			raw := tc.setup(t, ts)
			err := sendOne(t, ts.addr, "kim@example.com", []string{to}, raw)
			if tc.code == 0 {
				if err != nil {
					t.Fatal(err)
				}
				if n := len(ts.rec.inbounds()); n != 1 {
					t.Fatalf("received %d, want 1", n)
				}
				return
			}
			enhanced := smtp.EnhancedCode{5, 7, 26}
			if tc.code == 451 {
				enhanced = smtp.EnhancedCode{4, 4, 3}
			}
			wantRefused(t, err, "DATA", tc.code, enhanced)
			var reply *smtp.SMTPError
			if errors.As(err, &reply); !strings.Contains(reply.Message, tc.says) {
				t.Errorf("refusal %q does not say %q", reply.Message, tc.says)
			}
			if got := ts.rec.inbounds(); len(got) != 0 {
				t.Errorf("received %+v", got)
			}
		})
	}
}

// TestTrustedUpstream: behind a mail gateway that checks DKIM, SPF and
// DMARC, its Authentication-Results are believed, and only its own, and
// only on connections from its addresses.
func TestTrustedUpstream(t *testing.T) {
	const to = "db-outage@" + domain
	gateway := func(networks ...string) func(*Options) {
		return func(o *Options) {
			o.Upstream.AuthservID = "gw.example.net"
			for _, n := range networks {
				o.Upstream.Networks = append(o.Upstream.Networks, netip.MustParsePrefix(n))
			}
		}
	}
	withResults := func(fields ...string) []byte {
		var b strings.Builder
		for _, f := range fields {
			b.WriteString("Authentication-Results: " + f + "\r\n")
		}
		return append([]byte(b.String()), mailBytes("kim@example.com", to, "", "fine\n")...)
	}
	for _, tc := range []struct {
		name     string
		networks []string
		raw      []byte
		ok       bool
	}{
		{"dmarc pass", []string{"127.0.0.0/8"}, withResults("gw.example.net; dmarc=pass (p=reject dis=none) header.from=example.com"), true},
		{"aligned dkim pass", []string{"127.0.0.1/32", "192.0.2.0/24"},
			withResults("gw.example.net 1; spf=fail smtp.mailfrom=example.com; dkim=pass header.d=mail.example.com header.s=s1"), true},
		{"aligned spf pass", []string{"::ffff:127.0.0.1/128"}, withResults("GW.example.net; spf=pass smtp.mailfrom=kim@example.com"), true},
		{"not aligned", []string{"127.0.0.0/8"}, withResults("gw.example.net; dkim=pass header.d=evil.example; spf=pass smtp.mailfrom=evil.example"), false},
		{"dmarc fail", []string{"127.0.0.0/8"}, withResults("gw.example.net; dmarc=fail header.from=example.com"), false},
		{"pass only in a comment", []string{"127.0.0.0/8"},
			withResults("gw.example.net; dmarc=fail (dmarc=pass header.from=example.com) header.from=example.com"), false},
		{"another service's field", []string{"127.0.0.0/8"}, withResults("evil.example; dmarc=pass header.from=example.com"), false},
		{"a forged field below the gateway's", []string{"127.0.0.0/8"},
			withResults("gw.example.net; dmarc=none header.from=example.com", "gw.example.net; dmarc=pass header.from=example.com"), false},
		{"not from the gateway's network", []string{"192.0.2.0/24"}, withResults("gw.example.net; dmarc=pass header.from=example.com"), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ts := startServer(t, gateway(tc.networks...))
			elsewhere(ts)
			err := sendOne(t, ts.addr, "kim@example.com", []string{to}, tc.raw)
			if tc.ok {
				if err != nil {
					t.Fatal(err)
				}
				if n := len(ts.rec.inbounds()); n != 1 {
					t.Fatalf("received %d, want 1", n)
				}
				return
			}
			wantRefused(t, err, "DATA", 550, smtp.EnhancedCode{5, 7, 26})
		})
	}
	// Through the gateway, SPF is not checked against the gateway's own
	// address, which example.com's record does not name.
	ts := startServer(t, gateway("127.0.0.0/8"))
	err := sendOne(t, ts.addr, "kim@example.com", []string{to}, withResults("gw.example.net; dmarc=none header.from=example.com"))
	wantRefused(t, err, "DATA", 550, smtp.EnhancedCode{5, 7, 26})
}

func TestIncidentAddressesOff(t *testing.T) {
	ts := startServer(t, func(o *Options) { o.IncidentAddressesOff = true })
	err := sendOne(t, ts.addr, "kim@example.com", []string{"db-outage@" + domain}, mailBytes("kim@example.com", "db-outage@"+domain, "", "x\n"))
	wantRefused(t, err, "RCPT", 550, smtp.EnhancedCode{5, 7, 1})
	to := testKey(t).Address("kim", "db-outage", domain)
	if err := sendOne(t, ts.addr, "kim@example.com", []string{to}, mailBytes("kim@example.com", to, "", "x\n")); err != nil {
		t.Fatalf("reply address with incident addresses off: %v", err)
	}
}
