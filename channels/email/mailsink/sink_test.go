package mailsink

import (
	"context"
	"crypto/tls"
	"errors"
	"log/slog"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
	"go.uber.org/goleak"

	"github.com/oob-relay/relay/internal/testkit"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

const koMail = "From: =?utf-8?b?66a066CI7J20?= <relay@example.com>\r\n" +
	"To: =?utf-8?q?=EA=B9=80=EB=AF=BC=EC=A4=80?= <kim@example.com>\r\n" +
	"Subject: =?utf-8?b?W+q4tOq4iV0g7J6l7JWg?=\r\n" +
	"Date: Mon, 02 Nov 2026 14:03:05 +0000\r\n" +
	"Message-ID: <m1.email.kim@example.com>\r\n" +
	"In-Reply-To: <incident.db@example.com>\r\n" +
	"References: <incident.db@example.com>\r\n" +
	"MIME-Version: 1.0\r\n" +
	"Content-Type: multipart/alternative; boundary=b1\r\n" +
	"\r\n" +
	"--b1\r\n" +
	"Content-Type: text/plain; charset=utf-8\r\n" +
	"Content-Transfer-Encoding: quoted-printable\r\n" +
	"\r\n" +
	"=EC=9E=A5=EC=95=A0 =EB=B0=9C=EC=83=9D\r\n" +
	"--b1\r\n" +
	"Content-Type: text/html; charset=utf-8\r\n" +
	"\r\n" +
	"<p>html</p>\r\n" +
	"--b1--\r\n"

func start(t *testing.T, opts Options) *Sink {
	t.Helper()
	s, err := Start(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	t.Cleanup(cancel)
	return c
}

// client opens an SMTP session to s, with STARTTLS when pool is set.
func client(t *testing.T, s *Sink, cfg *tls.Config) *smtp.Client {
	t.Helper()
	var c *smtp.Client
	var err error
	if cfg != nil {
		c, err = smtp.DialStartTLS(s.Addr(), cfg)
	} else {
		c, err = smtp.Dial(s.Addr())
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func send(c *smtp.Client, to string) error {
	return c.SendMail("relay@example.com", []string{to}, strings.NewReader(koMail))
}

func TestRecordsAndParses(t *testing.T) {
	cert, err := SelfSigned()
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var seen []Mail
	s := start(t, Options{TLS: cert.Server, Username: "u", Password: "p", OnMail: func(m Mail) {
		mu.Lock()
		seen = append(seen, m)
		mu.Unlock()
	}})
	c := client(t, s, &tls.Config{RootCAs: cert.Pool, ServerName: "127.0.0.1"})
	if err := c.Hello("client.example.net"); err != nil {
		t.Fatal(err)
	}
	if err := send(c, "kim@example.com"); err == nil {
		t.Fatal("mail accepted without AUTH")
	}
	if err := c.Auth(sasl.NewPlainClient("", "u", "p")); err != nil {
		t.Fatal(err)
	}
	if err := send(c, "kim@example.com"); err != nil {
		t.Fatal(err)
	}
	mails, err := s.WaitMails(ctx(t), 1)
	if err != nil {
		t.Fatal(err)
	}
	m := mails[0]
	if m.ParseErr != nil {
		t.Fatal(m.ParseErr)
	}
	checks := map[string][2]string{
		"subject":     {m.Subject, "[긴급] 장애"},
		"text":        {m.Text, "장애 발생"},
		"html":        {m.HTML, "<p>html</p>"},
		"from name":   {m.From[0].Name, "릴레이"},
		"to name":     {m.To[0].Name, "김민준"},
		"message id":  {m.MessageID, "m1.email.kim@example.com"},
		"in-reply-to": {strings.Join(m.InReplyTo, ","), "incident.db@example.com"},
		"references":  {strings.Join(m.References, ","), "incident.db@example.com"},
		"envelope":    {m.Envelope.From + ">" + strings.Join(m.Envelope.To, ","), "relay@example.com>kim@example.com"},
		"user":        {m.User, "u"},
		"hello":       {m.Hello, "client.example.net"},
		"header":      {m.Header.Get("Mime-Version"), "1.0"},
		"raw":         {string(m.Raw), koMail},
		"date (UTC)":  {m.Date.UTC().Format(time.RFC3339), "2026-11-02T14:03:05Z"},
	}
	for name, c := range checks {
		if c[0] != c[1] {
			t.Errorf("%s = %q, want %q", name, c[0], c[1])
		}
	}
	if !m.TLS {
		t.Error("mail sent after STARTTLS is not marked TLS")
	}
	mu.Lock()
	if len(seen) != 1 || seen[0].Subject != m.Subject {
		t.Errorf("OnMail saw %d mails", len(seen))
	}
	mu.Unlock()
	if str := m.String(); !strings.Contains(str, "Subject: [긴급] 장애") || !strings.Contains(str, "To: 김민준 <kim@example.com>") ||
		!strings.HasSuffix(str, "\n장애 발생\n") {
		t.Errorf("String() =\n%s", str)
	}
}

func TestWaitMailsGivesUp(t *testing.T) {
	s := start(t, Options{})
	short, cancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
	defer cancel()
	if _, err := s.WaitMails(short, 1); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("WaitMails without mail = %v", err)
	}
	s.Close()
	if _, err := s.WaitMails(ctx(t), 1); err == nil || !strings.Contains(err.Error(), "closed") {
		t.Errorf("WaitMails on a closed sink = %v", err)
	}
}

func smtpCode(err error) int {
	var e *smtp.SMTPError
	if errors.As(err, &e) {
		return e.Code
	}
	return 0
}

func TestRejectNextCountsDown(t *testing.T) {
	s := start(t, Options{})
	s.RejectNext(2, StageData, Reply{Code: 451, Enhanced: "4.3.0", Message: "later"})
	c := client(t, s, nil)
	for i, want := range []int{451, 451, 0} {
		if got := smtpCode(send(c, "kim@example.com")); got != want {
			t.Errorf("transaction %d: code %d, want %d", i+1, got, want)
		}
	}
	if n := len(s.Mails()); n != 1 {
		t.Errorf("%d mails kept, want 1", n)
	}
}

func TestRejectRecipientAndClear(t *testing.T) {
	s := start(t, Options{})
	s.RejectRecipient("Gone@Example.com", Reply{})
	c := client(t, s, nil)
	err := send(c, "gone@example.com")
	var e *smtp.SMTPError
	if !errors.As(err, &e) || e.Code != 550 || e.EnhancedCode != (smtp.EnhancedCode{5, 1, 1}) {
		t.Fatalf("rejected recipient: %v", err)
	}
	if err := c.Reset(); err != nil {
		t.Fatal(err)
	}
	if err := send(c, "kim@example.com"); err != nil {
		t.Errorf("other recipient: %v", err)
	}
	s.ClearFaults()
	if err := send(c, "gone@example.com"); err != nil {
		t.Errorf("after ClearFaults: %v", err)
	}
}

func TestDropNext(t *testing.T) {
	s := start(t, Options{})
	s.DropNext(1, StageMail)
	c := client(t, s, nil)
	if err := send(c, "kim@example.com"); err == nil || smtpCode(err) != 0 {
		t.Errorf("dropped connection gave %v, want a connection error", err)
	}
	if err := send(client(t, s, nil), "kim@example.com"); err != nil {
		t.Errorf("next connection: %v", err)
	}
}

func TestStallEndsOnClose(t *testing.T) {
	s, err := Start(Options{})
	if err != nil {
		t.Fatal(err)
	}
	stalled := s.Stall(StageRcpt, time.Hour)
	c, err := smtp.Dial(s.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	done := make(chan error, 1)
	go func() { done <- send(c, "kim@example.com") }()
	select {
	case <-stalled:
	case <-ctx(t).Done():
		t.Fatal("the stall never started")
	}
	s.Close() // must not wait for the hour
	select {
	case err := <-done:
		if err == nil {
			t.Error("a stalled transaction succeeded")
		}
	case <-ctx(t).Done():
		t.Fatal("Close did not end the stalled session")
	}
}

func TestImplicitTLS(t *testing.T) {
	cert, err := SelfSigned("localhost")
	if err != nil {
		t.Fatal(err)
	}
	s := start(t, Options{TLS: cert.Server, ImplicitTLS: true})
	_, port, _ := net.SplitHostPort(s.Addr())
	c, err := smtp.DialTLS(net.JoinHostPort("localhost", port), &tls.Config{RootCAs: cert.Pool})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := send(c, "kim@example.com"); err != nil {
		t.Fatal(err)
	}
	if m, err := s.WaitMails(ctx(t), 1); err != nil || !m[0].TLS {
		t.Errorf("implicit TLS mail: %v", err)
	}
}

func TestOptionsValidated(t *testing.T) {
	for name, o := range map[string]Options{
		"implicit without TLS":  {ImplicitTLS: true},
		"username only":         {Username: "u"},
		"negative message size": {MaxMessageBytes: -1},
	} {
		if s, err := Start(o); err == nil {
			s.Close()
			t.Errorf("%s: Start succeeded", name)
		}
	}
}

func TestParseKeepsBrokenMail(t *testing.T) {
	raw := []byte("From: not an address\r\nMessage-ID: no-brackets\r\n\r\nbody\r\n")
	m := parse(raw)
	if m.ParseErr == nil || string(m.Raw) != string(raw) || m.Text != "body\n" {
		t.Errorf("parse(broken) = err %v, text %q", m.ParseErr, m.Text)
	}
}

// TestCloseIsQuiet: closing the sink, with a client still connected, is
// no error to warn about.
func TestCloseIsQuiet(t *testing.T) {
	logs := &testkit.LogBuffer{}
	s := start(t, Options{Logger: slog.New(slog.NewTextHandler(logs, nil))})
	c := client(t, s, nil)
	if err := c.Hello("test"); err != nil {
		t.Fatal(err)
	}
	s.Close()
	if logs.String() != "" {
		t.Errorf("closing logged:\n%s", logs)
	}
}
