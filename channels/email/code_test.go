package email

import (
	"strings"
	"testing"
	"time"

	"github.com/oob-relay/relay/channels/email/mailsink"
	"github.com/oob-relay/relay/relay"
)

// A one-time code goes as a short plain mail in the person's language,
// the code in the body only, with no incident thread and no Reply-To.
func TestSendCode(t *testing.T) {
	for _, c := range []struct{ lang, subject, text string }{
		{"ko", "relay 로그인 코드", "relay 로그인 코드: 042917 (10분 유효)"},
		{"en-US", "relay login code", "relay login code: 042917 (valid 10 min)"},
	} {
		sink := startSink(t, mailsink.Options{})
		s := newSender(t, Config{Address: sink.Addr(), TLS: TLSNone, From: fromAddr}, Options{ReplyTo: ReplyKey{}.ReplyTo("example.com")})
		at := time.Date(2026, 12, 2, 4, 0, 0, 0, time.UTC)
		out := &relay.Outgoing{DeliveryID: "code-0123456789abcdef-email", Channel: relay.ChannelEmail, Attempt: 1,
			Person: &relay.Person{ID: "kim", Name: "김민수", Email: "kim@example.com", Lang: c.lang},
			Code:   &relay.OneTimeCode{Digits: "042917", Purpose: relay.PurposeLogin, Issued: at, Expires: at.Add(relay.CodeTTL)}}
		if _, err := s.Send(testCtx(t), out); err != nil {
			t.Fatal(err)
		}
		m := oneMail(t, sink)
		if m.Subject != c.subject || strings.Contains(m.Subject, "042917") {
			t.Errorf("%s: subject %q; want %q, without the code", c.lang, m.Subject, c.subject)
		}
		if !strings.HasPrefix(m.Text, c.text+"\n") {
			t.Errorf("%s: text %q; want it to start with %q", c.lang, m.Text, c.text)
		}
		for _, h := range []string{"In-Reply-To", "References", "X-Relay-Incident", "Reply-To"} {
			if m.Header.Get(h) != "" {
				t.Errorf("%s: a code's mail has %s: %s", c.lang, h, m.Header.Get(h))
			}
		}
	}
}

// A message's mail carries the person's link to the incident room in
// both parts.
func TestSendLink(t *testing.T) {
	sink := startSink(t, mailsink.Options{})
	s := newSender(t, Config{Address: sink.Addr(), TLS: TLSNone, From: fromAddr}, Options{})
	out := fixture("en")
	out.Link = "https://relay.example.com/l/eyJrIjoibGluayJ9.c2ln"
	if _, err := s.Send(testCtx(t), out); err != nil {
		t.Fatal(err)
	}
	m := oneMail(t, sink)
	if !strings.Contains(m.Text, "Open the incident room:\n"+out.Link+"\n") {
		t.Errorf("text part has no link:\n%s", m.Text)
	}
	if !strings.Contains(m.HTML, `<a href="`+out.Link+`">Open the incident room</a>`) {
		t.Errorf("html part has no link:\n%s", m.HTML)
	}
}
