package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/xml"
	"fmt"
	"io"
	"mime"
	"mime/quotedprintable"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-smtp"
	twclient "github.com/twilio/twilio-go/client"

	"github.com/oob-relay/relay/channels/email/mailsink"
	"github.com/oob-relay/relay/channels/twilio"
	"github.com/oob-relay/relay/channels/twilio/emulator"
	"github.com/oob-relay/relay/channels/twilio/emulator/emulatortest"
	"github.com/oob-relay/relay/internal/testkit"
	"github.com/oob-relay/relay/relay"
	"github.com/oob-relay/relay/relay/api"
)

// TestClusterConversation holds a conversation on three relay serve
// processes that take replies. A bot posts a critical message to 20
// people on node A; person 1 answers by SMS through node B's Twilio
// webhook, person 2 by email through node C's SMTP server, quoting the
// original below the answer. Everyone but the author gets each answer, by
// SMS as the warning policy has it (fallback: SMS first, email only when
// the SMS fails or stays unconfirmed), without the quoted text. Person 3
// acknowledges with "1" through node A and the incident shows it on every
// node; Twilio's retries of a webhook post nothing new, and a forged
// webhook is refused and posts nothing.
// smsLink is the line of an SMS with the reader's link to the incident
// room.
var smsLink = regexp.MustCompile(`\nhttps?://\S+/l/[A-Za-z0-9_.-]+`)

func TestClusterConversation(t *testing.T) {
	testkit.NoLeaks(t)
	const people = 20
	cl := startCluster(t, clusterSpec{nodes: 3, people: people, replies: true})
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	a, b, c := cl.nodes[0], cl.nodes[1], cl.nodes[2]

	// 1. The alert reaches everyone on both channels, each SMS ending in
	// the person's reply code for the incident.
	const incident = "idc-fire"
	const alert = "판교 데이터센터 화재: 사내 메신저 중단, 이 채널로 연락하세요"
	acc, err := a.c.Post(ctx, &relay.Post{Incident: incident, Text: alert, To: []string{"group:all"},
		Severity: relay.SeverityCritical}, "")
	if err != nil {
		t.Fatal(err)
	}
	testkit.Eventually(t, 30*time.Second, "every person's SMS and mail of the alert", func() bool {
		return len(perRecipient(cl.s.smsArrivals(alert))) == people && len(perRecipient(cl.s.mailArrivals(alert))) == people
	})
	for _, n := range cl.nodes {
		testkit.Eventually(t, 10*time.Second, "the alert on "+n.name, func() bool { _, err := n.c.Message(ctx, acc.ID); return err == nil })
	}
	incs, err := a.c.Incidents(ctx)
	if err != nil {
		t.Fatal(err)
	}
	codes := map[string]string{} // phone -> "\n답장 코드 XX00 · 1=확인"
	for i := range people {
		code := relay.ReplyCodes(personID(i), incs)[incident]
		if !relay.LooksLikeReplyCode(code) {
			t.Fatalf("person %d has reply code %q for %s", i, code, incident)
		}
		codes[phone(i)] = "\n답장 코드 " + code + " · 1=확인"
	}
	alertSMS := smsTo(cl, alert)
	for i := range people {
		if body := alertSMS[phone(i)].Body; !strings.HasSuffix(body, codes[phone(i)]) {
			t.Errorf("person %d's SMS does not end in their reply code %q:\n%s", i, codes[phone(i)], body)
		}
	}

	// 2a. Person 1 answers by SMS, to the number the alert came from,
	// through node B's webhook. A reply is answered with empty TwiML and
	// is on B's disk when the webhook answers.
	const smsReply = "판교 도착, 전원 차단 확인"
	sms1 := incomingSMS(t, b, phone(1), alertSMS[phone(1)].From, smsReply)
	if status, text := cl.deliver(t, ctx, b, sms1); status != http.StatusOK || text != "" {
		t.Fatalf("person 1's SMS reply: HTTP %d, TwiML message %q; want 200 and no answer", status, text)
	}
	reply1 := timelineEntry(t, ctx, b, incident, personID(1))
	if want := "직원 1: " + smsReply; reply1.Text != want || reply1.Severity != string(relay.SeverityWarning) {
		t.Errorf("person 1's reply on B is %q (%s), want %q (warning)", reply1.Text, reply1.Severity, want)
	}

	// 2b. Person 2 answers by email to the Reply-To of the mail they got,
	// through node C, in quoted-printable UTF-8 above the quoted original.
	mail2 := mailTo(t, cl, alert, email(2))
	if len(mail2.ReplyTo) != 1 || !strings.HasPrefix(mail2.ReplyTo[0].Address, "r+") ||
		!strings.HasSuffix(mail2.ReplyTo[0].Address, "@"+replyDomain) {
		t.Fatalf("person 2's mail has Reply-To %v, want one r+…@%s address", mail2.ReplyTo, replyDomain)
	}
	const mailReply = "판교 센터 2층 도착. 발전기 정상, 네트워크 팀 대기 중입니다."
	raw := replyMail(t, "직원 2", email(2), mail2, mailReply)
	if err := sendMail(c.smtpIn, email(2), mail2.ReplyTo[0].Address, raw); err != nil {
		t.Fatalf("person 2's mail reply to node C: %v", err)
	}
	reply2 := timelineEntry(t, ctx, c, incident, personID(2))
	if want := "직원 2: " + mailReply; reply2.Text != want {
		t.Errorf("person 2's reply on C is %q, want %q without the quoted original", reply2.Text, want)
	}

	// 3. Each reply reaches everyone but its author, by SMS; the email
	// step of the fallback is skipped once the SMS is delivered.
	for _, r := range []struct {
		entry  api.TimelineEntry
		author int
	}{{reply1, 1}, {reply2, 2}} {
		var m *api.MessageView
		testkit.Eventually(t, 30*time.Second, "person "+fmt.Sprint(r.author)+"'s reply settled on A", func() bool {
			m, err = a.c.Message(ctx, r.entry.Message)
			return err == nil && m.Settled
		})
		if m.Mode != relay.ModeFallback || len(m.Recipients) != people-1 {
			t.Errorf("reply of person %d: mode %q to %d people, want fallback to %d", r.author, m.Mode, len(m.Recipients), people-1)
		}
		for _, rc := range m.Recipients {
			if rc.Person == personID(r.author) {
				t.Errorf("reply of person %d is addressed to its author", r.author)
			}
			path := fmt.Sprint(rc.Path)
			if len(rc.Path) != 2 || rc.Path[0].Channel != relay.ChannelSMS || rc.Path[0].Status != relay.StatusDelivered ||
				rc.Path[1].Channel != relay.ChannelEmail || rc.Path[1].Status != relay.StatusSkipped {
				t.Errorf("reply of person %d to %s took the path %s, want SMS delivered, email skipped", r.author, rc.Person, path)
			}
		}
		// The SMS carries the reply as posted, quoted text stripped, and
		// the reader's reply code.
		got := smsTo(cl, r.entry.Text)
		for i := range people {
			n := perRecipient(cl.s.smsArrivals(r.entry.Text))[phone(i)]
			want := "[주의] " + incident + "\n" + r.entry.Text + codes[phone(i)]
			switch {
			case i == r.author && n != 0:
				t.Errorf("person %d got their own reply by SMS", i)
			case i != r.author && n != 1:
				t.Errorf("person %d got person %d's reply %d times by SMS, want once", i, r.author, n)
			case i != r.author && !smsLink.MatchString(got[phone(i)].Body):
				t.Errorf("person %d got person %d's reply without a link to the incident room:\n%s", i, r.author, got[phone(i)].Body)
			case i != r.author && smsLink.ReplaceAllString(got[phone(i)].Body, "") != want:
				t.Errorf("person %d got person %d's reply as\n%s\nwant\n%s and a link", i, r.author, got[phone(i)].Body, want)
			}
		}
		if n := len(cl.s.mailArrivals(r.entry.Text)); n != 0 {
			t.Errorf("person %d's reply went out in %d mails; the SMS was delivered, so none was due", r.author, n)
		}
	}
	for _, m := range cl.s.emu.Messages() {
		if strings.Contains(m.Body, "님이 작성") || strings.Contains(m.Body, ">") {
			t.Errorf("quoted text reached %s by SMS:\n%s", m.To, m.Body)
		}
	}

	// 4. Person 3 acknowledges through node A. Their ACK covers the three
	// messages addressed to them, and every node shows it.
	ack := incomingSMS(t, a, phone(3), alertSMS[phone(3)].From, "1")
	if status, text := cl.deliver(t, ctx, a, ack); status != http.StatusOK || text != "확인했습니다: "+incident {
		t.Fatalf("person 3's ACK: HTTP %d, TwiML message %q", status, text)
	}
	for _, n := range cl.nodes {
		var v *api.IncidentView
		testkit.Eventually(t, 10*time.Second, "person 3's acknowledgement of all three messages on "+n.name, func() bool {
			v, err = n.c.Incident(ctx, incident)
			return err == nil && len(v.Timeline) == 3 && !slices.ContainsFunc(v.Timeline, func(e api.TimelineEntry) bool { return e.Acks == 0 })
		})
		if len(v.Acknowledged) != 1 || v.Acknowledged[0].Person != personID(3) || v.Acknowledged[0].Channel != relay.ChannelSMS {
			t.Errorf("%s shows acknowledgements %+v, want person 3's by SMS alone", n.name, v.Acknowledged)
		}
		if len(v.NotAcknowledged) != people-1 || slices.Contains(v.NotAcknowledged, personID(3)) {
			t.Errorf("%s lists %d people as not acknowledged (%v), want the %d others", n.name, len(v.NotAcknowledged), v.NotAcknowledged, people-1)
		}
		for _, e := range v.Timeline {
			if e.Acks != 1 {
				t.Errorf("%s: message %s by %s has %d acks, want 1 (person 3's)", n.name, e.Message, e.Author, e.Acks)
			}
		}
	}
	for _, e := range []api.TimelineEntry{reply1, reply2} {
		m, err := b.c.Message(ctx, e.Message)
		if err != nil {
			t.Fatal(err)
		}
		if len(m.Acks) != 1 || m.Acks[0].Person != personID(3) || m.Acks[0].Channel != relay.ChannelSMS {
			t.Errorf("message %s on B has acks %+v, want person 3's by SMS", e.Message, m.Acks)
		}
	}
	before, err := a.c.Incident(ctx, incident)
	if err != nil {
		t.Fatal(err)
	}

	// Twilio's retries post nothing new: the identical ACK again to A,
	// person 1's reply again to B, and to C as a number's fallback URL.
	for _, retry := range []struct {
		n *clusterNode
		s inboundSMS
	}{{a, ack}, {b, sms1}, {c, sms1.to(t, c)}} {
		if status, _ := cl.deliver(t, ctx, retry.n, retry.s); status != http.StatusOK {
			t.Fatalf("retried webhook on %s: HTTP %d, want 200", retry.n.name, status)
		}
		v, err := retry.n.c.Incident(ctx, incident)
		if err != nil {
			t.Fatal(err)
		}
		if len(v.Timeline) != 3 || v.Messages != 3 || fmt.Sprint(v.Acknowledged) != fmt.Sprint(before.Acknowledged) {
			t.Errorf("after a retry %s holds %d messages and acks %+v, want 3 and %+v",
				retry.n.name, len(v.Timeline), v.Acknowledged, before.Acknowledged)
		}
	}

	// 5. A forged webhook, signed with another account's token, and an
	// unsigned one are refused and post nothing.
	forged := incomingSMS(t, b, phone(4), alertSMS[phone(4)].From, "전원 철수, 이 메시지는 위조")
	for _, sig := range []string{emulator.Sign("ffffffffffffffffffffffffffffffff", forged.url, forged.form), ""} {
		forged.sig = sig
		if status, _ := cl.deliver(t, ctx, b, forged); status != http.StatusForbidden {
			t.Errorf("forged webhook (signature %q): HTTP %d, want 403", sig, status)
		}
	}
	if v, err := b.c.Incident(ctx, incident); err != nil {
		t.Fatal(err)
	} else if len(v.Timeline) != 3 {
		t.Errorf("after the forged webhooks B holds %d messages, want 3", len(v.Timeline))
	}
	if got := cl.metrics(1)[`relay_webhook_refused_total{reason="signature"}`]; got != 2 {
		t.Errorf("node B counts %v refusals for the signature, want 2", got)
	}

	// Everything settled: one alert each on both channels, one SMS of
	// each reply to the 19 others, nothing else.
	testkit.Eventually(t, 30*time.Second, "every message settled", func() bool {
		for _, e := range before.Timeline {
			if m, err := a.c.Message(ctx, e.Message); err != nil || !m.Settled {
				return false
			}
		}
		return true
	})
	if sms, mails := len(cl.s.emu.Messages()), len(cl.s.mail.Mails()); sms != people+2*(people-1) || mails != people {
		t.Errorf("the sinks hold %d SMS and %d mails, want %d and %d", sms, mails, people+2*(people-1), people)
	}
}

// personID is person i's id in writeRoster's roster.
func personID(i int) string { return fmt.Sprintf("p%05d", i) }

// smsTo returns the SMS whose body contains marker, by recipient.
func smsTo(cl *testCluster, marker string) map[string]emulator.Message {
	out := map[string]emulator.Message{}
	for _, m := range cl.s.emu.Messages() {
		if strings.Contains(m.Body, marker) {
			out[m.To] = m
		}
	}
	return out
}

// mailTo returns the mail to addr whose subject or text contains marker.
func mailTo(tb testing.TB, cl *testCluster, marker, addr string) mailsink.Mail {
	tb.Helper()
	for _, m := range cl.s.mail.Mails() {
		if strings.Contains(m.Subject+m.Text, marker) && slices.Contains(m.Envelope.To, addr) {
			return m
		}
	}
	tb.Fatalf("no mail to %s contains %q", addr, marker)
	return mailsink.Mail{}
}

// timelineEntry returns the message by author in the incident as node n
// holds it now.
func timelineEntry(tb testing.TB, ctx context.Context, n *clusterNode, incident, author string) api.TimelineEntry {
	tb.Helper()
	v, err := n.c.Incident(ctx, incident)
	if err != nil {
		tb.Fatal(err)
	}
	for _, e := range v.Timeline {
		if e.Author == author {
			return e
		}
	}
	tb.Fatalf("%s holds no message by %s in %s: %+v", n.name, author, incident, v.Timeline)
	return api.TimelineEntry{}
}

// inboundSMS is an incoming-message webhook as Twilio posts it.
type inboundSMS struct {
	url  string
	form url.Values
	sig  string
}

// incomingSMS returns the webhook Twilio posts to node n when from texts
// body to the relay number to, with a new MessageSid, signed with the
// account's auth token over n's public URL.
func incomingSMS(tb testing.TB, n *clusterNode, from, to, body string) inboundSMS {
	tb.Helper()
	sid := make([]byte, 16)
	rand.Read(sid)
	form := url.Values{"MessageSid": {"SM" + hex.EncodeToString(sid)}, "AccountSid": {emulatortest.AccountSID},
		"From": {from}, "To": {to}, "Body": {body}, "NumMedia": {"0"}, "ApiVersion": {emulator.APIVersion}}
	return inboundSMS{form: form}.to(tb, n)
}

// to returns the same webhook signed for node n, as Twilio posts it to a
// number's fallback URL. The signature must pass twilio-go's own
// validator.
func (s inboundSMS) to(tb testing.TB, n *clusterNode) inboundSMS {
	tb.Helper()
	s.url = n.api + twilio.InboundSMSPath
	s.sig = emulator.Sign(emulatortest.AuthToken, s.url, s.form)
	params := map[string]string{}
	for k := range s.form {
		params[k] = s.form.Get(k)
	}
	validator := twclient.NewRequestValidator(emulatortest.AuthToken)
	if !validator.Validate(s.url, params, s.sig) {
		tb.Fatal("twilio-go's validator refuses the test's signature")
	}
	return s
}

// deliver posts the webhook to node n and returns the HTTP status and,
// for a 200, the text of the TwiML answer's message.
func (cl *testCluster) deliver(tb testing.TB, ctx context.Context, n *clusterNode, s inboundSMS) (int, string) {
	tb.Helper()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, n.api+twilio.InboundSMSPath, strings.NewReader(s.form.Encode()))
	if err != nil {
		tb.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("X-Twilio-Signature", s.sig)
	resp, err := cl.http.Do(req)
	if err != nil {
		tb.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		tb.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK {
		return resp.StatusCode, ""
	}
	var doc struct {
		XMLName xml.Name `xml:"Response"`
		Message string   `xml:"Message"`
	}
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/xml") || xml.Unmarshal(body, &doc) != nil {
		tb.Fatalf("webhook answer is not TwiML (%s):\n%s", ct, body)
	}
	return resp.StatusCode, doc.Message
}

// replyMail returns a reply to orig from name <addr>, as a mail program
// writes it: text, in UTF-8 quoted-printable, above an attribution line
// and the original quoted with "> ".
func replyMail(tb testing.TB, name, addr string, orig mailsink.Mail, text string) []byte {
	tb.Helper()
	var body strings.Builder
	body.WriteString(text + "\n\n")
	fmt.Fprintf(&body, "2026년 11월 24일 (화) 오후 3:00, %s님이 작성:\n", orig.From[0].String())
	for line := range strings.SplitSeq(strings.TrimRight(orig.Text, "\n"), "\n") {
		body.WriteString(strings.TrimRight("> "+line, " ") + "\n")
	}
	var b bytes.Buffer
	fmt.Fprintf(&b, "From: %s <%s>\r\nTo: %s\r\nSubject: %s\r\nDate: %s\r\nMessage-ID: <reply.%d@example.com>\r\n"+
		"In-Reply-To: <%s>\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=\"UTF-8\"\r\n"+
		"Content-Transfer-Encoding: quoted-printable\r\n\r\n",
		mime.BEncoding.Encode("utf-8", name), addr, orig.ReplyTo[0].Address, mime.BEncoding.Encode("utf-8", "Re: "+orig.Subject),
		time.Now().Format(time.RFC1123Z), time.Now().UnixNano(), orig.MessageID)
	w := quotedprintable.NewWriter(&b)
	if _, err := w.Write([]byte(strings.ReplaceAll(body.String(), "\n", "\r\n"))); err != nil || w.Close() != nil {
		tb.Fatal("quoted-printable encoding failed")
	}
	return b.Bytes()
}

// sendMail sends raw from from to rcpt through the SMTP server at addr,
// as a mail server delivering to relay's MX does.
func sendMail(addr, from, rcpt string, raw []byte) error {
	c, err := smtp.Dial(addr)
	if err != nil {
		return err
	}
	defer c.Close()
	if err := c.Hello("mx.example.com"); err != nil {
		return err
	}
	if err := c.SendMail(from, []string{rcpt}, bytes.NewReader(raw)); err != nil {
		return err
	}
	return c.Quit()
}
