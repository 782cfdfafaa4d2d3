package main

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"

	"github.com/oob-relay/relay/internal/testkit"
	"github.com/oob-relay/relay/relay/api"
	"github.com/oob-relay/relay/relay/client"
)

// TestServeMailTrust runs relay serve with inbound email as a config file
// sets it up, every limit and check at its default, and DNS from a test
// server: a forged From to an incident address is refused at DATA, the
// same mail signed with the domain's DKIM key is posted as the person, a
// bot logged in with AUTH posts as itself and opens an incident, a wrong
// password is refused and logged without itself, and a line too long is
// refused for good.
func TestServeMailTrust(t *testing.T) {
	const (
		smtpDomain  = "relay.test"
		botPassword = "smtp-bot-Pw-never-in-the-log"
		guess       = "guess-Pw-never-in-the-log"
	)
	dir := t.TempDir()
	s := startSinks(t)
	writeRoster(t, dir, 3)
	cfgPath, apiURL := nodeConfig(t, dir, s, 0, 0)
	dns := testkit.StartDNS(t)
	dns.TXT("example.com", "v=spf1 ip4:192.0.2.10 -all") // example.com's mail leaves from elsewhere
	dkimKey := testkit.NewDKIMKey(t, dns, "example.com", "s2026")
	smtpAddr := freeAddr(t)
	inbound := fmt.Sprintf(`inbound:
  email:
    listen: %s
    domain: %s
    reply_keys: ["mail-trust-test-reply-key-0123456789abcdef"]
    resolver: %s
    auth:
      - username: monitor
        password: %s
        bot: mail-monitor
        to: [everyone]
`, smtpAddr, smtpDomain, dns.Addr(), botPassword)
	f, err := os.OpenFile(cfgPath, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteString(inbound); err != nil {
		t.Fatal(err)
	}
	f.Close()
	p := serve(t, cfgPath, apiURL)
	u, _ := url.Parse(apiURL)
	c := client.New([]*url.URL{u}, testToken, http.DefaultClient)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()

	// A bot opens an incident by mail.
	bot, err := smtp.Dial(smtpAddr)
	if err != nil {
		t.Fatal(err)
	}
	defer bot.Close()
	if err := bot.Hello("monitoring.example"); err != nil {
		t.Fatal(err)
	}
	err = bot.Auth(sasl.NewPlainClient("", "monitor", guess))
	var reply *smtp.SMTPError
	if !errors.As(err, &reply) || reply.Code != 535 {
		t.Fatalf("wrong password: %v, want 535", err)
	}
	if err := bot.Auth(sasl.NewPlainClient("", "monitor", botPassword)); err != nil {
		t.Fatal(err)
	}
	alert := "From: p00002@example.com\r\nTo: disk-full@relay.test\r\nSubject: [FIRING] DiskFull db-main-1\r\n" +
		"Message-ID: <am.1@monitoring.example>\r\n\r\ndisk /var at 95%\r\n"
	if err := bot.SendMail("alerts@monitoring.example", []string{"disk-full@" + smtpDomain}, strings.NewReader(alert)); err != nil {
		t.Fatalf("the bot's post: %v", err)
	}
	v := incident(t, ctx, c, "disk-full", 1)
	if e := v.Timeline[0]; e.Author != "mail-monitor" || e.Text != "[FIRING] DiskFull db-main-1\n\ndisk /var at 95%" {
		t.Fatalf("the bot's post is by %q: %q", e.Author, e.Text)
	}

	// A forged From, not signed and from an address example.com's SPF
	// does not name, is refused and posts nothing.
	forged := "From: p00001@example.com\r\nTo: disk-full@relay.test\r\nSubject: Re: disk\r\n" +
		"Message-ID: <forged.1@example.com>\r\n\r\nfalse alarm, stop paging\r\n"
	err = sendMail(smtpAddr, "p00001@example.com", "disk-full@"+smtpDomain, []byte(forged))
	if !errors.As(err, &reply) || reply.Code != 550 || reply.EnhancedCode != (smtp.EnhancedCode{5, 7, 26}) {
		t.Fatalf("forged From: %v, want 550 5.7.26", err)
	}
	// The same mail signed by example.com is the person's reply.
	signed := dkimKey.Sign(t, []byte(strings.Replace(forged, "forged.1", "signed.1", 1)))
	if err := sendMail(smtpAddr, "p00001@example.com", "disk-full@"+smtpDomain, signed); err != nil {
		t.Fatalf("DKIM-signed mail: %v", err)
	}
	v = incident(t, ctx, c, "disk-full", 2)
	if e := v.Timeline[1]; e.Author != "p00001" || !strings.HasSuffix(e.Text, ": false alarm, stop paging") {
		t.Fatalf("the signed reply is by %q: %q", e.Author, e.Text)
	}

	// A line too long is refused for good.
	long := "From: p00001@example.com\r\nTo: disk-full@relay.test\r\n\r\n" + strings.Repeat("x", 3000) + "\r\n"
	err = sendMail(smtpAddr, "p00001@example.com", "disk-full@"+smtpDomain, dkimKey.Sign(t, []byte(long)))
	if !errors.As(err, &reply) || reply.Code != 500 {
		t.Fatalf("a line too long: %v, want 500", err)
	}

	m := scrape(http.DefaultClient, apiURL)
	for series, want := range map[string]float64{
		`relay_smtp_sender_checks_total{result="fail"}`: 1,
		`relay_smtp_sender_checks_total{result="dkim"}`: 1,
		`relay_smtp_login_failures_total`:               1,
	} {
		if m[series] != want {
			t.Errorf("%s = %g, want %g", series, m[series], want)
		}
	}
	log := p.log()
	if !strings.Contains(log, "email login refused") || !strings.Contains(log, "127.0.0.1:") {
		t.Errorf("the failed login is not logged with the client's address:\n%s", log)
	}
	if strings.Contains(log, guess) || strings.Contains(log, botPassword) {
		t.Error("a password reached the log")
	}
}

// incident waits until the incident holds want messages and returns it.
func incident(t *testing.T, ctx context.Context, c *client.Client, id string, want int) *api.IncidentView {
	t.Helper()
	var v *api.IncidentView
	testkit.EventuallyNil(t, 10*time.Second, func() error {
		var err error
		v, err = c.Incident(ctx, id)
		if err == nil && len(v.Timeline) < want {
			err = fmt.Errorf("incident %s holds %d messages, want %d", id, len(v.Timeline), want)
		}
		return err
	})
	return v
}
