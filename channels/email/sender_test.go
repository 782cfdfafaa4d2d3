package email

import (
	"context"
	"fmt"
	"net/mail"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/oob-relay/relay/channels/email/mailsink"
	"github.com/oob-relay/relay/relay"
	"github.com/oob-relay/relay/relay/secret"
)

const (
	testUser     = "relay-node"
	testPassword = "Zq8-unguessable-pw-4471"
)

func startSink(t *testing.T, opts mailsink.Options) *mailsink.Sink {
	t.Helper()
	s, err := mailsink.Start(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func selfSigned(t *testing.T) *mailsink.Cert {
	t.Helper()
	c, err := mailsink.SelfSigned()
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func newSender(t *testing.T, cfg Config, opts Options) *Sender {
	t.Helper()
	s, err := New(cfg, opts)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func testCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// oneMail waits for the sink's first mail.
func oneMail(t *testing.T, sink *mailsink.Sink) mailsink.Mail {
	t.Helper()
	mails, err := sink.WaitMails(testCtx(t), 1)
	if err != nil {
		t.Fatal(err)
	}
	if len(mails) != 1 {
		t.Fatalf("sink holds %d mails, want 1", len(mails))
	}
	if mails[0].ParseErr != nil {
		t.Fatalf("mail does not parse: %v", mails[0].ParseErr)
	}
	return mails[0]
}

// checkDelivered asserts what every delivered fixture mail must show.
func checkDelivered(t *testing.T, m mailsink.Mail, out *relay.Outgoing, rcpt relay.Receipt, subject string) {
	t.Helper()
	wantID := out.DeliveryID + "@example.com"
	if rcpt.ProviderID != wantID || m.MessageID != wantID {
		t.Errorf("ProviderID %q, Message-ID %q, want %q", rcpt.ProviderID, m.MessageID, wantID)
	}
	if m.Subject != subject {
		t.Errorf("Subject = %q\nwant      %q", m.Subject, subject)
	}
	if want := plainBody(out.Message, wordsFor(out.Person.LangOrDefault()), out.Link); m.Text != want {
		t.Errorf("text/plain =\n%s\nwant\n%s", m.Text, want)
	}
	thread := []string{"incident.db-outage@example.com"}
	if !slices.Equal(m.InReplyTo, thread) || !slices.Equal(m.References, thread) {
		t.Errorf("In-Reply-To %q, References %q, want %q", m.InReplyTo, m.References, thread)
	}
	if m.Envelope.From != "relay@example.com" || !slices.Equal(m.Envelope.To, []string{out.Person.Email}) {
		t.Errorf("envelope = %+v", m.Envelope)
	}
	if len(m.To) != 1 || m.To[0].Name != out.Person.Name || m.To[0].Address != out.Person.Email {
		t.Errorf("To = %v", m.To)
	}
	if len(m.From) != 1 || m.From[0].Name != "relay 알림" {
		t.Errorf("From = %v", m.From)
	}
}

func TestSendSTARTTLSWithAuthAndCAFile(t *testing.T) {
	cert := selfSigned(t)
	sink := startSink(t, mailsink.Options{TLS: cert.Server, Username: testUser, Password: testPassword})
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "smtp-ca.pem"), cert.PEM)
	cfg := Config{Address: sink.Addr(), CAFile: "smtp-ca.pem", Username: testUser, PasswordEnv: "SMTP_PASSWORD", From: fromAddr}
	if err := cfg.ResolveSecrets(dir, func(k string) string { return map[string]string{"SMTP_PASSWORD": testPassword}[k] }); err != nil {
		t.Fatal(err)
	}
	s := newSender(t, cfg, Options{})
	out := fixture("ko")
	rcpt, err := s.Send(testCtx(t), out)
	if err != nil {
		t.Fatal(err)
	}
	m := oneMail(t, sink)
	checkDelivered(t, m, out, rcpt, koSubject)
	if !m.TLS || m.User != testUser || m.Hello != "example.com" {
		t.Errorf("TLS %v, user %q, hello %q: want STARTTLS, AUTH as %s, EHLO example.com", m.TLS, m.User, m.Hello, testUser)
	}
	if m.To[0].Name != "김민준" {
		t.Errorf("Korean recipient name = %q", m.To[0].Name)
	}
}

func TestSendImplicitTLS(t *testing.T) {
	cert := selfSigned(t)
	sink := startSink(t, mailsink.Options{TLS: cert.Server, ImplicitTLS: true, Username: testUser, Password: testPassword})
	cfg := Config{Address: sink.Addr(), TLS: TLSImplicit, Username: testUser, Password: secret.New(testPassword), From: fromAddr}
	s := newSender(t, cfg, Options{RootCAs: cert.Pool})
	out := fixture("ko")
	rcpt, err := s.Send(testCtx(t), out)
	if err != nil {
		t.Fatal(err)
	}
	m := oneMail(t, sink)
	checkDelivered(t, m, out, rcpt, koSubject)
	if !m.TLS || m.User != testUser {
		t.Errorf("TLS %v, user %q", m.TLS, m.User)
	}
}

func TestSendPlain(t *testing.T) {
	sink := startSink(t, mailsink.Options{Username: testUser, Password: testPassword})
	cfg := Config{Address: sink.Addr(), TLS: TLSNone, Username: testUser, Password: secret.New(testPassword), From: fromAddr, Hello: "relay-1.example.net"}
	s := newSender(t, cfg, Options{})
	out := fixture("en")
	rcpt, err := s.Send(testCtx(t), out)
	if err != nil {
		t.Fatal(err)
	}
	m := oneMail(t, sink)
	checkDelivered(t, m, out, rcpt, enSubject)
	if m.TLS || m.User != testUser || m.Hello != "relay-1.example.net" {
		t.Errorf("TLS %v, user %q, hello %q", m.TLS, m.User, m.Hello)
	}
}

func TestSendOpportunistic(t *testing.T) {
	cert := selfSigned(t)
	for _, offer := range []bool{true, false} {
		t.Run(fmt.Sprintf("starttls offered %v", offer), func(t *testing.T) {
			opts := mailsink.Options{}
			if offer {
				opts.TLS = cert.Server
			}
			sink := startSink(t, opts)
			s := newSender(t, Config{Address: sink.Addr(), TLS: TLSOpportunistic, From: fromAddr}, Options{RootCAs: cert.Pool})
			if _, err := s.Send(testCtx(t), fixture("ko")); err != nil {
				t.Fatal(err)
			}
			if m := oneMail(t, sink); m.TLS != offer {
				t.Errorf("mail arrived with TLS %v, want %v", m.TLS, offer)
			}
		})
	}
}

func TestSendReplyTo(t *testing.T) {
	sink := startSink(t, mailsink.Options{})
	s := newSender(t, Config{Address: sink.Addr(), TLS: TLSNone, From: fromAddr}, Options{
		ReplyTo: func(out *relay.Outgoing) *mail.Address {
			return &mail.Address{Address: "reply+" + out.Message.Incident + "@example.com"}
		},
	})
	if _, err := s.Send(testCtx(t), fixture("ko")); err != nil {
		t.Fatal(err)
	}
	if m := oneMail(t, sink); len(m.ReplyTo) != 1 || m.ReplyTo[0].Address != "reply+db-outage@example.com" {
		t.Errorf("Reply-To = %v", m.ReplyTo)
	}
}

func TestSendSameDeliveryTwice(t *testing.T) {
	sink := startSink(t, mailsink.Options{})
	s := newSender(t, Config{Address: sink.Addr(), TLS: TLSNone, From: fromAddr}, Options{})
	for attempt := 1; attempt <= 2; attempt++ {
		out := fixture("ko")
		out.Attempt = attempt
		if _, err := s.Send(testCtx(t), out); err != nil {
			t.Fatal(err)
		}
	}
	mails, err := sink.WaitMails(testCtx(t), 2)
	if err != nil {
		t.Fatal(err)
	}
	if mails[0].MessageID != mails[1].MessageID || string(mails[0].Raw) != string(mails[1].Raw) {
		t.Errorf("two attempts of one delivery differ: %q, %q", mails[0].MessageID, mails[1].MessageID)
	}
}

func TestSendConcurrently(t *testing.T) {
	cert := selfSigned(t)
	sink := startSink(t, mailsink.Options{TLS: cert.Server, Username: testUser, Password: testPassword})
	s := newSender(t, Config{Address: sink.Addr(), Username: testUser, Password: secret.New(testPassword), From: fromAddr}, Options{RootCAs: cert.Pool})
	const n = 8
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := range n {
		wg.Go(func() {
			out := fixture("ko")
			id := fmt.Sprintf("p%d", i)
			out.Person.ID, out.Person.Email = id, id+"@example.com"
			out.DeliveryID = relay.DeliveryID(out.Message.ID, relay.ChannelEmail, id)
			if _, err := s.Send(testCtx(t), out); err != nil {
				errs <- err
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	mails, err := sink.WaitMails(testCtx(t), n)
	if err != nil {
		t.Fatal(err)
	}
	ids := map[string]bool{}
	for _, m := range mails {
		ids[m.MessageID] = true
	}
	if len(ids) != n {
		t.Errorf("%d distinct Message-IDs among %d mails", len(ids), len(mails))
	}
}
