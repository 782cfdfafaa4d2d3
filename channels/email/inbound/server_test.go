package inbound

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/mail"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	gomail "github.com/emersion/go-message/mail"
	"github.com/emersion/go-smtp"

	"github.com/oob-relay/relay/channels/email"
	"github.com/oob-relay/relay/internal/testkit"
	"github.com/oob-relay/relay/relay"
)

func TestReplyAddressAccepted(t *testing.T) {
	ts := startServer(t, nil)
	to := testKey(t).Address("kim", "db-outage", domain)
	if !strings.HasPrefix(to, "r+") {
		t.Fatalf("reply address %q", to)
	}
	raw, err := os.ReadFile(filepath.Join("testdata", "ko-utf8-qp.eml"))
	if err != nil {
		t.Fatal(err)
	}
	if err := sendOne(t, ts.addr, "kim@example.com", []string{to}, raw); err != nil {
		t.Fatal(err)
	}
	got := ts.rec.inbounds()
	want := relay.Inbound{
		Channel:  relay.ChannelEmail,
		From:     "kim@example.com",
		To:       to,
		Text:     "확인했습니다. db-main-1 재시작 후 쓰기 정상입니다.\n복구 담당: 김민준",
		Person:   "kim",
		Incident: "db-outage",
		ID:       "CAKx7Q=kim.reply.1@mail.gmail.com",
		At:       receivedAt,
	}
	if len(got) != 1 || got[0] != want {
		t.Fatalf("received %+v\nwant %+v", got, want)
	}
}

func TestCompactReplyAddressAccepted(t *testing.T) {
	ts := startServer(t, nil)
	to := testKey(t).Address("kim", longIncident, domain)
	if _, _, err := testKey(t).Parse(to); err == nil {
		t.Fatalf("%q is not a compact reply address; the test proves nothing", to)
	}
	raw := mailBytes("Kim <kim@example.com>", to, "compact.1@example.com", "네, 컨트롤러 교체 완료.\n")
	if err := sendOne(t, ts.addr, "kim@example.com", []string{to}, raw); err != nil {
		t.Fatal(err)
	}
	got := ts.rec.inbounds()
	if len(got) != 1 || got[0].Person != "kim" || got[0].Incident != longIncident || got[0].Text != "네, 컨트롤러 교체 완료." {
		t.Fatalf("received %+v", got)
	}
	// The same address from another roster person does not verify.
	err := sendOne(t, ts.addr, "park@example.com", []string{to}, mailBytes("park@example.com", to, "", "x"))
	wantRefused(t, err, "RCPT", 550, smtp.EnhancedCode{5, 7, 1})
}

func TestIncidentAddressAccepted(t *testing.T) {
	ts := startServer(t, nil)
	to := "DB-Outage@Relay.Example.COM"
	raw := mailBytes("박서준 <Park@Example.com>", to, "new.1@example.com", "보조 DB 승격했습니다.\n\n-- \n박서준\n")
	if err := sendOne(t, ts.addr, "park@example.com", []string{to}, raw); err != nil {
		t.Fatal(err)
	}
	got := ts.rec.inbounds()
	if len(got) != 1 {
		t.Fatalf("received %d, want 1", len(got))
	}
	in := got[0]
	if in.Person != "park" || in.Incident != "db-outage" || in.From != "Park@Example.com" || in.To != to ||
		in.Text != "보조 DB 승격했습니다." || in.ID != "new.1@example.com" || in.Channel != "email" {
		t.Errorf("received %+v", in)
	}
}

func TestSeveralRecipients(t *testing.T) {
	ts := startServer(t, nil)
	reply := testKey(t).Address("kim", "db-outage", domain)
	to := []string{reply, "db-outage@" + domain, "net-down@" + domain}
	raw := mailBytes("kim@example.com", strings.Join(to, ", "), "multi.1@example.com", "both fixed\n")
	if err := sendOne(t, ts.addr, "kim@example.com", to, raw); err != nil {
		t.Fatal(err)
	}
	got := ts.rec.inbounds()
	if len(got) != 2 || got[0].Incident != "db-outage" || got[0].To != reply || got[1].Incident != "net-down" {
		t.Fatalf("received %+v, want db-outage once (by its reply address) and net-down", got)
	}
	// Several mails on one connection.
	c := dial(t, ts.addr)
	for i := range 3 {
		if err := send(c, "park@example.com", []string{"net-down@" + domain},
			mailBytes("park@example.com", "net-down@"+domain, fmt.Sprintf("seq.%d@example.com", i), "update\n")); err != nil {
			t.Fatal(err)
		}
	}
	if n := len(ts.rec.inbounds()); n != 5 {
		t.Errorf("received %d, want 5", n)
	}
}

func TestRefusals(t *testing.T) {
	key := testKey(t)
	kimReply := key.Address("kim", "db-outage", domain)
	parkReply := key.Address("park", "db-outage", domain)
	local, _, _ := strings.Cut(kimReply, "@")
	last := local[len(local)-1]
	flip := map[bool]byte{true: 'b', false: 'a'}[last == 'a']
	forged := local[:len(local)-1] + string(flip) + "@" + domain
	fixture := func(name string) []byte {
		raw, err := os.ReadFile(filepath.Join("testdata", name))
		if err != nil {
			t.Fatal(err)
		}
		return raw
	}
	ok := func(from, to string) []byte { return mailBytes(from, to, "", "fine\n") }
	big := mailBytes("kim@example.com", "db-outage@"+domain, "", strings.Repeat("가나다라마바사아자차\n", 400))
	long := mailBytes("kim@example.com", "db-outage@"+domain, "", strings.Repeat("긴 답장입니다.\n", relay.MaxTextBytes/20+1))

	for _, tc := range []struct {
		name     string
		mutate   func(*Options)
		fail     func(context.Context, *relay.Inbound) error
		from     string
		to       []string
		raw      []byte
		stage    string
		code     int
		enhanced smtp.EnhancedCode
	}{
		{name: "recipient in another domain", from: "kim@example.com", to: []string{"db-outage@example.net"},
			stage: "RCPT", code: 550, enhanced: smtp.EnhancedCode{5, 1, 1}},
		{name: "unknown incident", from: "kim@example.com", to: []string{"no-such-incident@" + domain},
			stage: "RCPT", code: 550, enhanced: smtp.EnhancedCode{5, 1, 1}},
		{name: "not an incident id", from: "kim@example.com", to: []string{"db_outage@" + domain},
			stage: "RCPT", code: 550, enhanced: smtp.EnhancedCode{5, 1, 1}},
		{name: "forged reply address", from: "kim@example.com", to: []string{forged},
			stage: "RCPT", code: 550, enhanced: smtp.EnhancedCode{5, 7, 1}},
		{name: "garbage reply address", from: "kim@example.com", to: []string{"r+zzzz@" + domain},
			stage: "RCPT", code: 550, enhanced: smtp.EnhancedCode{5, 7, 1}},
		{name: "reply address of another person", from: "kim@example.com", to: []string{parkReply},
			stage: "RCPT", code: 550, enhanced: smtp.EnhancedCode{5, 7, 1}},
		{name: "reply address from an unknown sender", from: "stranger@example.net", to: []string{kimReply},
			stage: "RCPT", code: 550, enhanced: smtp.EnhancedCode{5, 7, 1}},
		{name: "reply address with no key configured", mutate: func(o *Options) { o.Keys = email.ReplyKey{} },
			from: "kim@example.com", to: []string{kimReply}, stage: "RCPT", code: 550, enhanced: smtp.EnhancedCode{5, 1, 1}},
		{name: "incident address from an unknown sender", from: "stranger@example.net", to: []string{"db-outage@" + domain},
			stage: "RCPT", code: 550, enhanced: smtp.EnhancedCode{5, 7, 1}},
		{name: "null sender", from: "", to: []string{"db-outage@" + domain},
			stage: "RCPT", code: 550, enhanced: smtp.EnhancedCode{5, 7, 1}},
		{name: "From header not on the roster", from: "kim@example.com", to: []string{kimReply},
			raw: ok("Kim <kim@example.net>", kimReply), stage: "DATA", code: 550, enhanced: smtp.EnhancedCode{5, 7, 1}},
		{name: "From header of another person", from: "kim@example.com", to: []string{"db-outage@" + domain},
			raw: ok("park@example.com", "db-outage@"+domain), stage: "DATA", code: 550, enhanced: smtp.EnhancedCode{5, 7, 1}},
		{name: "oversized", mutate: func(o *Options) { o.MaxBytes = 4 << 10 }, from: "kim@example.com",
			to: []string{"db-outage@" + domain}, raw: big, stage: "DATA", code: 552, enhanced: smtp.EnhancedCode{5, 3, 4}},
		{name: "text longer than a message", from: "kim@example.com", to: []string{"db-outage@" + domain},
			raw: long, stage: "DATA", code: 552, enhanced: smtp.EnhancedCode{5, 3, 4}},
		{name: "broken MIME", from: "kim@example.com", to: []string{"db-outage@" + domain},
			raw: fixture("malformed-no-boundary.eml"), stage: "DATA", code: 554, enhanced: smtp.EnhancedCode{5, 6, 0}},
		{name: "bad base64", from: "kim@example.com", to: []string{"db-outage@" + domain},
			raw: fixture("malformed-bad-base64.eml"), stage: "DATA", code: 554, enhanced: smtp.EnhancedCode{5, 6, 0}},
		{name: "no text", from: "kim@example.com", to: []string{"db-outage@" + domain},
			raw: fixture("no-text.eml"), stage: "DATA", code: 554, enhanced: smtp.EnhancedCode{5, 6, 0}},
		{name: "only quoted text", from: "kim@example.com", to: []string{"db-outage@" + domain},
			raw: fixture("quote-only.eml"), stage: "DATA", code: 554, enhanced: smtp.EnhancedCode{5, 6, 0}},
		{name: "no From header", from: "kim@example.com", to: []string{"db-outage@" + domain},
			raw: fixture("no-from.eml"), stage: "DATA", code: 554, enhanced: smtp.EnhancedCode{5, 6, 0}},
		{name: "receiver fails for now", fail: func(context.Context, *relay.Inbound) error { return errors.New("store is busy") },
			from: "kim@example.com", to: []string{"db-outage@" + domain}, stage: "DATA", code: 451, enhanced: smtp.EnhancedCode{4, 3, 0}},
		{name: "receiver knows no such sender", fail: func(context.Context, *relay.Inbound) error {
			return fmt.Errorf("person kim: %w", relay.ErrUnknownSender)
		}, from: "kim@example.com", to: []string{"db-outage@" + domain}, stage: "DATA", code: 550, enhanced: smtp.EnhancedCode{5, 7, 1}},
		{name: "receiver finds no incident", fail: func(context.Context, *relay.Inbound) error { return relay.ErrNoIncident },
			from: "kim@example.com", to: []string{"db-outage@" + domain}, stage: "DATA", code: 550, enhanced: smtp.EnhancedCode{5, 1, 1}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ts := startServer(t, tc.mutate)
			ts.rec.fail = tc.fail
			raw := tc.raw
			if raw == nil {
				raw = ok(tc.from, strings.Join(tc.to, ", "))
			}
			err := sendOne(t, ts.addr, tc.from, tc.to, raw)
			wantRefused(t, err, tc.stage, tc.code, tc.enhanced)
			if got := ts.rec.inbounds(); len(got) != 0 {
				t.Errorf("a refused mail was received: %+v", got)
			}
		})
	}
}

func TestSizeAnnouncedTooLarge(t *testing.T) {
	ts := startServer(t, func(o *Options) { o.MaxBytes = 4 << 10 })
	c := dial(t, ts.addr)
	if size, ok := c.MaxMessageSize(); !ok || size != 4<<10 {
		t.Errorf("EHLO SIZE = %d, %v; want %d", size, ok, 4<<10)
	}
	err := c.Mail("kim@example.com", &smtp.MailOptions{Size: 5 << 10})
	var reply *smtp.SMTPError
	if !errors.As(err, &reply) || reply.Code != 552 {
		t.Fatalf("MAIL FROM with SIZE over the limit: %v, want 552", err)
	}
}

func TestAutoReplyMarkedAutomatic(t *testing.T) {
	ts := startServer(t, nil)
	raw, err := os.ReadFile(filepath.Join("testdata", "auto-reply.eml"))
	if err != nil {
		t.Fatal(err)
	}
	to := testKey(t).Address("kim", "db-outage", domain)
	if err := sendOne(t, ts.addr, "kim@example.com", []string{to}, raw); err != nil {
		t.Fatalf("an auto-reply was refused (its sender would get a bounce): %v", err)
	}
	if got := ts.rec.inbounds(); len(got) != 1 || !got[0].Automatic {
		t.Fatalf("an out-of-office answer was received as %+v, want once, marked automatic", got)
	}
	// The same mail without its Auto-Submitted field is a person's.
	human := bytes.Replace(raw, []byte("Auto-Submitted: auto-replied\r\n"), nil, 1)
	if err := sendOne(t, ts.addr, "kim@example.com", []string{to}, human); err != nil {
		t.Fatal(err)
	}
	if got := ts.rec.inbounds(); len(got) != 2 || got[1].Automatic {
		t.Fatalf("received %+v, want the second not marked automatic", got)
	}
}

func TestPartialFailure(t *testing.T) {
	ts := startServer(t, nil)
	to := []string{"db-outage@" + domain, "net-down@" + domain}
	raw := mailBytes("kim@example.com", strings.Join(to, ", "), "partial.1@example.com", "update\n")

	// A permanent failure for one incident: the other is still posted and
	// the mail is accepted.
	ts.rec.fail = func(_ context.Context, in *relay.Inbound) error {
		if in.Incident == "db-outage" {
			return relay.ErrNoIncident
		}
		return nil
	}
	if err := sendOne(t, ts.addr, "kim@example.com", to, raw); err != nil {
		t.Fatalf("one incident of two refused: %v", err)
	}
	if got := ts.rec.inbounds(); len(got) != 1 || got[0].Incident != "net-down" {
		t.Fatalf("received %+v", got)
	}
	// A temporary failure for one incident asks for the whole mail again,
	// with the same Message-ID so the core can drop what it already took.
	ts.rec.fail = func(_ context.Context, in *relay.Inbound) error {
		if in.Incident == "db-outage" {
			return errors.New("busy")
		}
		return nil
	}
	err := sendOne(t, ts.addr, "kim@example.com", to, raw)
	wantRefused(t, err, "DATA", 451, smtp.EnhancedCode{4, 3, 0})
	if got := ts.rec.inbounds(); len(got) != 2 || got[1].ID != "partial.1@example.com" {
		t.Fatalf("received %+v", got)
	}
}

// TestReplyToRenderedMail renders an incident mail with the email
// channel's Render and its Reply-To from the key, answers it the way a
// mail client does (reply text above the quoted original), and checks the
// reply reaches the Receiver as the person's message in the incident.
func TestReplyToRenderedMail(t *testing.T) {
	ts := startServer(t, nil)
	key := testKey(t)
	m := &relay.Message{
		ID: "01JC3Z5Q8X4M2N7P6R9T0VWXYZ", Incident: "db-outage", Severity: relay.SeverityCritical,
		Text: "주 데이터베이스가 응답하지 않습니다.\n안전하면 1을 답장하세요.", Author: "oncall-bot", AcceptedAt: receivedAt,
	}
	p := &relay.Person{ID: "kim", Name: "김민준", Email: "kim@example.com", Lang: "ko"}
	out := &relay.Outgoing{DeliveryID: relay.DeliveryID(m.ID, relay.ChannelEmail, p.ID), Channel: relay.ChannelEmail,
		Attempt: 1, Message: m, Person: p}
	from := &mail.Address{Name: "relay 알림", Address: "relay@" + domain}
	raw, err := email.Render(out, email.RenderParams{From: from, ReplyTo: key.ReplyTo(domain)(out)})
	if err != nil {
		t.Fatal(err)
	}
	orig, err := gomail.CreateReader(bytes.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	replyTo, err := orig.Header.AddressList("Reply-To")
	if err != nil || len(replyTo) != 1 {
		t.Fatalf("Reply-To %v, %v", replyTo, err)
	}
	origID, _ := orig.Header.MessageID()

	var reply strings.Builder
	fmt.Fprintf(&reply, "From: =?utf-8?b?6rmA66+87KSA?= <kim@example.com>\r\nTo: %s\r\nSubject: Re: db-outage\r\n", replyTo[0].Address)
	fmt.Fprintf(&reply, "Message-ID: <reply.%s>\r\nIn-Reply-To: <%s>\r\n", origID, origID)
	reply.WriteString("MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n1\r\n안전합니다.\r\n\r\n")
	reply.WriteString("2026년 11월 24일 (화) 오후 3:03, relay 알림 <relay@relay.example.com>님이 작성:\r\n\r\n")
	for _, line := range strings.Split(m.Text, "\n") {
		reply.WriteString("> " + line + "\r\n")
	}
	if err := sendOne(t, ts.addr, "kim@example.com", []string{replyTo[0].Address}, []byte(reply.String())); err != nil {
		t.Fatal(err)
	}
	got := ts.rec.inbounds()
	if len(got) != 1 || got[0].Person != "kim" || got[0].Incident != "db-outage" || got[0].Text != "1\n안전합니다." ||
		got[0].ID != "reply."+origID {
		t.Fatalf("received %+v", got)
	}
}

func TestNewRefusesIncompleteOptions(t *testing.T) {
	_, err := New(Options{Domain: "bad domain", MaxBytes: -1, Auth: map[string]Bot{"bot": {}}})
	if err == nil {
		t.Fatal("New accepted incomplete options")
	}
	for _, want := range []string{`Domain "bad domain"`, "Receiver is required", "Lookup is required",
		"Incident is required", "MaxBytes must not be negative", `Auth user "bot" has no password`, "Post is required with Auth"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not say %q", err, want)
		}
	}
}

func TestListenAndServe(t *testing.T) {
	s, err := New(Options{Addr: "127.0.0.1:0", Domain: domain, Receiver: newRecorder(), Lookup: lookup,
		Incident: func(string) bool { return true }})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- s.ListenAndServe() }()
	testkit.Eventually(t, 10*time.Second, "ListenAndServe to start listening", func() bool { return s.Addr() != nil })
	c := dial(t, s.Addr().String())
	if err := c.Noop(); err != nil {
		t.Fatal(err)
	}
	if err := s.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := <-done; !errors.Is(err, ErrServerClosed) {
		t.Errorf("ListenAndServe: %v, want ErrServerClosed", err)
	}
	if err := (&Server{opts: Options{}}).ListenAndServe(); err == nil {
		t.Error("ListenAndServe without an address succeeded")
	}
}

// TestLongLineRefusedForGood: a line longer than the server takes can
// never go through, so the sender must bounce it at once (5xx), not retry
// it for days (4xx).
func TestLongLineRefusedForGood(t *testing.T) {
	ts := startServer(t, nil)
	raw := mailBytes("kim@example.com", "db-outage@"+domain, "", strings.Repeat("x", MaxLineLength+10)+"\n")
	err := sendOne(t, ts.addr, "kim@example.com", []string{"db-outage@" + domain}, raw)
	wantRefused(t, err, "DATA", 500, smtp.EnhancedCode{5, 5, 0})
	if got := ts.rec.inbounds(); len(got) != 0 {
		t.Errorf("received %+v", got)
	}
}
