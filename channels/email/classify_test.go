package email

import (
	"context"
	"errors"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/oob-relay/relay/channels/email/mailsink"
	"github.com/oob-relay/relay/relay"
	"github.com/oob-relay/relay/relay/secret"
)

// wantFailure asserts err is a *relay.SendError with the given class.
func wantFailure(t *testing.T, err error, reason relay.Reason, temporary bool, code string) *relay.SendError {
	t.Helper()
	var se *relay.SendError
	if !errors.As(err, &se) {
		t.Fatalf("error %v (%T) is not a *relay.SendError", err, err)
	}
	t.Logf("error: %v", err)
	if se.Reason != reason || se.Temporary != temporary || se.Code != code {
		t.Errorf("got %s temporary=%v code=%q, want %s temporary=%v code=%q (%v)",
			se.Reason, se.Temporary, se.Code, reason, temporary, code, err)
	}
	return se
}

func TestSMTPRepliesClassified(t *testing.T) {
	cases := []struct {
		name      string
		script    func(s *mailsink.Sink)
		reason    relay.Reason
		temporary bool
		code      string
	}{
		{"451 after DATA", func(s *mailsink.Sink) {
			s.RejectNext(1, mailsink.StageData, mailsink.Reply{Code: 451, Enhanced: "4.3.0", Message: "Try again later"})
		}, relay.ReasonProvider, true, "451"},
		{"421 to MAIL FROM", func(s *mailsink.Sink) {
			s.RejectNext(1, mailsink.StageMail, mailsink.Reply{Code: 421, Enhanced: "4.3.2", Message: "Shutting down"})
		}, relay.ReasonProvider, true, "421"},
		{"421 to EHLO", func(s *mailsink.Sink) {
			s.RejectNext(1, mailsink.StageHello, mailsink.Reply{Code: 421, Enhanced: "4.7.0", Message: "Too busy"})
		}, relay.ReasonProvider, true, "421"},
		{"452 to RCPT TO", func(s *mailsink.Sink) {
			s.RejectNext(1, mailsink.StageRcpt, mailsink.Reply{Code: 452, Enhanced: "4.2.2", Message: "Mailbox full"})
		}, relay.ReasonProvider, true, "452"},
		{"450 to RCPT TO (greylisting)", func(s *mailsink.Sink) {
			s.RejectNext(1, mailsink.StageRcpt, mailsink.Reply{Code: 450, Enhanced: "4.2.0", Message: "Greylisted"})
		}, relay.ReasonProvider, true, "450"},
		{"unknown recipient", func(s *mailsink.Sink) {
			s.RejectRecipient("KIM@example.com", mailsink.Reply{})
		}, relay.ReasonRecipient, false, "550"},
		{"553 mailbox name not allowed", func(s *mailsink.Sink) {
			s.RejectRecipient("kim@example.com", mailsink.Reply{Code: 553, Message: "Mailbox name not allowed"})
		}, relay.ReasonRecipient, false, "553"},
		{"relaying denied is policy, not the mailbox", func(s *mailsink.Sink) {
			s.RejectRecipient("kim@example.com", mailsink.Reply{Code: 550, Enhanced: "5.7.1", Message: "Relaying denied"})
		}, relay.ReasonRejected, false, "550"},
		{"5.1.1 after DATA", func(s *mailsink.Sink) {
			s.RejectNext(1, mailsink.StageData, mailsink.Reply{Code: 550, Enhanced: "5.1.1", Message: "No such user"})
		}, relay.ReasonRecipient, false, "550"},
		{"554 after DATA", func(s *mailsink.Sink) {
			s.RejectNext(1, mailsink.StageData, mailsink.Reply{Code: 554, Enhanced: "5.6.0", Message: "Content rejected"})
		}, relay.ReasonRejected, false, "554"},
		{"550 to MAIL FROM", func(s *mailsink.Sink) {
			s.RejectNext(1, mailsink.StageMail, mailsink.Reply{Code: 550, Enhanced: "5.7.1", Message: "Sender rejected"})
		}, relay.ReasonRejected, false, "550"},
		{"dropped at DATA", func(s *mailsink.Sink) { s.DropNext(1, mailsink.StageData) }, relay.ReasonNetwork, true, ""},
		{"dropped at EHLO", func(s *mailsink.Sink) { s.DropNext(1, mailsink.StageHello) }, relay.ReasonNetwork, true, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			sink := startSink(t, mailsink.Options{})
			c.script(sink)
			s := newSender(t, Config{Address: sink.Addr(), TLS: TLSNone, From: fromAddr}, Options{})
			_, err := s.Send(testCtx(t), fixture("ko"))
			wantFailure(t, err, c.reason, c.temporary, c.code)
			if n := len(sink.Mails()); n != 0 {
				t.Errorf("the sink kept %d mails of a failed attempt", n)
			}
		})
	}
}

func TestAuthFailuresClassified(t *testing.T) {
	sink := startSink(t, mailsink.Options{Username: testUser, Password: testPassword})
	wrong := newSender(t, Config{Address: sink.Addr(), TLS: TLSNone, Username: testUser, Password: secret.New("wrong-password"), From: fromAddr}, Options{})
	_, err := wrong.Send(testCtx(t), fixture("ko"))
	wantFailure(t, err, relay.ReasonAuth, false, "535")

	anonymous := newSender(t, Config{Address: sink.Addr(), TLS: TLSNone, From: fromAddr}, Options{})
	_, err = anonymous.Send(testCtx(t), fixture("ko"))
	wantFailure(t, err, relay.ReasonAuth, false, "530")
}

func TestConnectionRefused(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	s := newSender(t, Config{Address: addr, TLS: TLSNone, From: fromAddr}, Options{})
	_, err = s.Send(testCtx(t), fixture("ko"))
	se := wantFailure(t, err, relay.ReasonNetwork, true, "")
	if !strings.Contains(se.Error(), "dial") {
		t.Errorf("error does not name the step: %v", se)
	}
}

// A server that stalls at some step for far longer than the attempt may
// take must not hold the attempt past its deadline.
func TestHungServerTimesOut(t *testing.T) {
	for _, stage := range []mailsink.Stage{mailsink.StageHello, mailsink.StageRcpt, mailsink.StageData} {
		t.Run(string(stage), func(t *testing.T) {
			sink := startSink(t, mailsink.Options{})
			sink.Stall(stage, time.Hour)
			s := newSender(t, Config{Address: sink.Addr(), TLS: TLSNone, From: fromAddr}, Options{})
			ctx, cancel := context.WithTimeout(t.Context(), 300*time.Millisecond)
			defer cancel()
			start := time.Now()
			_, err := s.Send(ctx, fixture("ko"))
			wantFailure(t, err, relay.ReasonTimeout, true, "")
			if elapsed := time.Since(start); elapsed > 5*time.Second {
				t.Errorf("Send returned %s after the deadline", elapsed)
			}
		})
	}
}

func TestSilentServerTimesOut(t *testing.T) {
	// A listener that accepts and never greets.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	accepted := make(chan net.Conn, 1)
	go func() {
		c, err := l.Accept()
		if err == nil {
			accepted <- c
		}
		close(accepted)
	}()
	t.Cleanup(func() {
		l.Close()
		for c := range accepted {
			c.Close()
		}
	})
	// No deadline on ctx: the configured timeout bounds the attempt.
	s := newSender(t, Config{Address: l.Addr().String(), From: fromAddr, Timeout: 300 * time.Millisecond}, Options{})
	_, err = s.Send(context.Background(), fixture("ko"))
	wantFailure(t, err, relay.ReasonTimeout, true, "")
}

func TestCancelClosesTheConnection(t *testing.T) {
	sink := startSink(t, mailsink.Options{})
	stalled := sink.Stall(mailsink.StageMail, time.Hour)
	s := newSender(t, Config{Address: sink.Addr(), TLS: TLSNone, From: fromAddr, Timeout: time.Hour}, Options{})
	ctx, cancel := context.WithCancel(t.Context())
	go func() {
		<-stalled
		cancel()
	}()
	_, err := s.Send(ctx, fixture("ko"))
	cancel()
	if !errors.Is(err, context.Canceled) {
		t.Errorf("error %v does not say the attempt was cancelled", err)
	}
	wantFailure(t, err, relay.ReasonUnknown, true, "")
}

func TestTLSFailuresClassified(t *testing.T) {
	cert := selfSigned(t)
	other := selfSigned(t)
	tlsSink := startSink(t, mailsink.Options{TLS: cert.Server})
	plainSink := startSink(t, mailsink.Options{})
	cases := []struct {
		name    string
		cfg     Config
		roots   bool
		errText string
	}{
		{"server without STARTTLS", Config{Address: plainSink.Addr()}, true, "STARTTLS"},
		{"untrusted certificate", Config{Address: tlsSink.Addr()}, false, "certificate"},
		{"certificate from another authority", Config{Address: tlsSink.Addr()}, true, "certificate"},
		{"wrong server name", Config{Address: tlsSink.Addr(), TLSServerName: "mail.example.com"}, true, "mail.example.com"},
		{"implicit TLS to a plain server", Config{Address: plainSink.Addr(), TLS: TLSImplicit}, true, "TLS"},
		{"opportunistic refuses cleartext AUTH", Config{Address: plainSink.Addr(), TLS: TLSOpportunistic,
			Username: testUser, Password: secret.New(testPassword)}, true, "unencrypted"},
		{"no AUTH PLAIN offered", Config{Address: tlsSink.Addr(), Username: testUser, Password: secret.New(testPassword)}, true, "AUTH PLAIN"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			c.cfg.From = fromAddr
			opts := Options{}
			if c.roots {
				opts.RootCAs = cert.Pool
				if strings.Contains(c.name, "another authority") {
					opts.RootCAs = other.Pool
				}
			}
			s := newSender(t, c.cfg, opts)
			_, err := s.Send(testCtx(t), fixture("ko"))
			se := wantFailure(t, err, relay.ReasonAuth, false, "")
			if !strings.Contains(se.Error(), c.errText) {
				t.Errorf("error %q does not mention %q", se, c.errText)
			}
		})
	}
	if n := len(tlsSink.Mails()) + len(plainSink.Mails()); n != 0 {
		t.Errorf("%d mails got through", n)
	}
}

func TestInsecureSkipVerify(t *testing.T) {
	cert := selfSigned(t)
	sink := startSink(t, mailsink.Options{TLS: cert.Server})
	s := newSender(t, Config{Address: sink.Addr(), InsecureSkipVerify: true, From: fromAddr}, Options{})
	if _, err := s.Send(testCtx(t), fixture("ko")); err != nil {
		t.Fatal(err)
	}
	if m := oneMail(t, sink); !m.TLS {
		t.Error("mail did not arrive over TLS")
	}
}

func TestUndeliverableInput(t *testing.T) {
	s := newSender(t, Config{Address: "127.0.0.1:1", TLS: TLSNone, From: fromAddr}, Options{})
	out := fixture("ko")
	out.Person.Email = ""
	_, err := s.Send(testCtx(t), out)
	wantFailure(t, err, relay.ReasonRecipient, false, "")
	out = fixture("ko")
	out.DeliveryID = "bad id"
	_, err = s.Send(testCtx(t), out)
	wantFailure(t, err, relay.ReasonUnknown, false, "")
}
