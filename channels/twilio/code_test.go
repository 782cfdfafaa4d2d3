package twilio_test

import (
	"strings"
	"testing"
	"time"

	"github.com/oob-relay/relay/channels/twilio"
	"github.com/oob-relay/relay/relay"
)

func codeOut(channel, lang string) *relay.Outgoing {
	return &relay.Outgoing{DeliveryID: "code-0123456789abcdef-" + channel, Channel: channel, Attempt: 1,
		Person: &relay.Person{ID: "kim", Phone: "+821012345678", Lang: lang},
		Code:   &relay.OneTimeCode{Digits: "042917", Purpose: relay.PurposeLogin, Issued: now, Expires: now.Add(relay.CodeTTL)}}
}

// A one-time code goes as its text alone, in the person's language, with
// no message, callback or reply code, valid until the code expires.
func TestSendCode(t *testing.T) {
	em, cfg := start(t)
	s := newSMS(t, cfg, nil)
	for _, lang := range []string{"ko", "en"} {
		if _, err := s.Send(sendCtx(t), codeOut(relay.ChannelSMS, lang)); err != nil {
			t.Fatal(err)
		}
	}
	msgs := em.Messages()
	if len(msgs) != 2 || msgs[0].Body != "relay 로그인 코드: 042917 (10분 유효)" || msgs[1].Body != "relay login code: 042917 (valid 10 min)" {
		t.Fatalf("messages %+v", msgs)
	}
	if msgs[0].StatusCallback != "" || msgs[0].ValidityPeriod != int(relay.CodeTTL/time.Second) {
		t.Errorf("callback %q validity %d; want none and the code's life", msgs[0].StatusCallback, msgs[0].ValidityPeriod)
	}
}

// A call reads the code's digits one at a time, twice, in the person's
// language, and asks for no key.
func TestCallReadsCodeSlowly(t *testing.T) {
	em, cfg := start(t)
	v := newVoice(t, cfg, nil)
	if _, err := v.Send(sendCtx(t), codeOut(relay.ChannelVoice, "ko")); err != nil {
		t.Fatal(err)
	}
	calls := em.Calls()
	if len(calls) != 1 {
		t.Fatalf("%d calls", len(calls))
	}
	doc := calls[0].Twiml
	if strings.Count(doc, `<Say language="ko-KR" voice="Polly.Seoyeon">4</Say>`) != 2 ||
		strings.Count(doc, `<Pause length="1"/>`) != 12 || strings.Contains(doc, "<Gather") ||
		!strings.Contains(doc, "relay 로그인 코드를 알려드립니다.") || strings.Contains(doc, "042917") {
		t.Errorf("call document:\n%s", doc)
	}
}

// An SMS of a message carries the reader's link on a line of its own
// before the reply code; a long text is cut, never the link or the code.
func TestSMSBodyWithLink(t *testing.T) {
	em, cfg := start(t)
	s := newSMS(t, cfg, nil)
	out := outgoing("+821012345678", "ko")
	out.ReplyCode = "KP47"
	out.Link = "https://relay.example.com/l/eyJrIjoibGluayJ9.c2lnbmF0dXJl"
	out.Message.Text = strings.Repeat("가", twilio.MaxBodyChars)
	if _, err := s.Send(sendCtx(t), out); err != nil {
		t.Fatal(err)
	}
	body := em.Messages()[0].Body
	if !strings.HasSuffix(body, "...\n"+out.Link+"\n답장 코드 KP47 · 1=확인") || len([]rune(body)) != twilio.MaxBodyChars {
		t.Errorf("body ends %q (%d characters)", body[len(body)-120:], len([]rune(body)))
	}
}

// A node that takes over an attempt finds the SMS another node sent,
// though its link to the room was signed by the other node.
func TestFindSMSWithAnotherNodesLink(t *testing.T) {
	_, cfg := start(t)
	s := newSMS(t, cfg, nil)
	out := outgoing("+821012345678", "ko")
	out.ReplyCode = "KP47"
	out.Link = "https://relay.example.com/l/tokenFromNodeA.sigA"
	rc, err := s.Send(sendCtx(t), out)
	if err != nil {
		t.Fatal(err)
	}
	taken := *out
	taken.Link = "https://relay.example.com/l/tokenFromNodeB.sigB"
	r, found, err := s.Find(sendCtx(t), &taken, time.Time{})
	if err != nil || !found || r.ProviderID != rc.ProviderID {
		t.Errorf("find: %+v, %v, %v; want the SMS sent", r, found, err)
	}
	other := taken
	other.ReplyCode = "ZZ99"
	if _, found, _ := s.Find(sendCtx(t), &other, time.Time{}); found {
		t.Error("an SMS with another reply code was taken for this one")
	}
}

// A node that takes over an attempt finds the SMS another node sent
// though the other node's link is under its own public URL, of another
// length, which cut a long text at another place.
func TestFindSMSWithAnotherNodesPublicURL(t *testing.T) {
	for _, text := range []string{"DB 장애: 결제 지연, 확인 중", strings.Repeat("가", twilio.MaxBodyChars)} {
		_, cfg := start(t)
		s := newSMS(t, cfg, nil)
		out := outgoing("+821012345678", "ko")
		out.ReplyCode = "KP47"
		out.Message.Text = text
		out.Link = "http://127.0.0.1:41871/l/tokenFromNodeC.sigC"
		rc, err := s.Send(sendCtx(t), out)
		if err != nil {
			t.Fatal(err)
		}
		taken := *out
		taken.Link = "https://relay-busan-backup.example.net/l/tokenFromNodeB.sigB"
		r, found, err := s.Find(sendCtx(t), &taken, time.Time{})
		if err != nil || !found || r.ProviderID != rc.ProviderID {
			t.Errorf("find (text of %d characters): %+v, %v, %v; want the SMS sent", len([]rune(text)), r, found, err)
		}
		other := taken
		other.Message = &relay.Message{Text: "다른 메시지", Severity: out.Message.Severity, Incident: out.Message.Incident}
		if _, found, _ := s.Find(sendCtx(t), &other, time.Time{}); found {
			t.Error("an SMS with another text was taken for this one")
		}
	}
}
