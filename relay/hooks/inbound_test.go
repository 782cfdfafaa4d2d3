package hooks_test

import (
	"encoding/xml"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/twilio/twilio-go/client"

	"github.com/oob-relay/relay/channels/twilio/emulator"
	"github.com/oob-relay/relay/relay/hooks"
	"github.com/oob-relay/relay/relay/secret"
)

func smsForm(sid, from, body string) url.Values {
	return url.Values{"MessageSid": {sid}, "AccountSid": {"AC" + strings.Repeat("1", 32)},
		"From": {from}, "To": {"+15005550006"}, "Body": {body}, "NumMedia": {"0"}}
}

func twimlMessage(t *testing.T, body string) string {
	t.Helper()
	var doc struct {
		Message string `xml:"Message"`
	}
	if err := xml.Unmarshal([]byte(body), &doc); err != nil {
		t.Fatalf("answer is not TwiML: %v\n%s", err, body)
	}
	return doc.Message
}

func TestIncomingSMS(t *testing.T) {
	n, _, d := setup(t)
	h, err := hooks.New(hooks.Options{Node: n, PublicURL: publicURL, AuthTokens: []secret.String{secret.New(token)},
		OwnNumbers: []string{"+15005550006"}})
	if err != nil {
		t.Fatal(err)
	}
	full := publicURL + hooks.InboundSMSPath
	messages := func() int {
		msgs, err := n.Store().IncidentMessages(d.Incident)
		if err != nil {
			t.Fatal(err)
		}
		return len(msgs)
	}

	// Forged: signed with another token, or for another URL. Nothing is
	// recorded.
	ack := smsForm("SM"+strings.Repeat("a", 32), "+821012345678", "1")
	for name, sig := range map[string]string{
		"unsigned":      "",
		"wrong token":   emulator.Sign("ffffffffffffffffffffffffffffffff", full, ack),
		"other address": emulator.Sign(token, "https://evil.example.com"+hooks.InboundSMSPath, ack),
	} {
		if w := post(h, hooks.InboundSMSPath, ack, sig); w.Code != http.StatusForbidden {
			t.Errorf("%s: %d, want 403", name, w.Code)
		}
	}
	if ok, _ := n.Store().Acked(d.MessageID, "kim"); ok {
		t.Fatal("a forged ACK was recorded")
	}

	// Signed the way Twilio signs, checked with twilio-go's own validator.
	sig := emulator.Sign(token, full, ack)
	params := map[string]string{}
	for k := range ack {
		params[k] = ack.Get(k)
	}
	validator := client.NewRequestValidator(token)
	if !validator.Validate(full, params, sig) {
		t.Fatal("twilio-go does not accept the test's signature")
	}
	w := post(h, hooks.InboundSMSPath, ack, sig)
	if w.Code != http.StatusOK || !strings.Contains(twimlMessage(t, w.Body.String()), "확인했습니다") {
		t.Fatalf("signed ACK: %d %s", w.Code, w.Body)
	}
	if ok, _ := n.Store().Acked(d.MessageID, "kim"); !ok {
		t.Fatal("the ACK was not recorded")
	}

	// A reply posts to the incident; Twilio's retry of it posts nothing new.
	reply := smsForm("SM"+strings.Repeat("b", 32), "+821012345678", "지금 가는 중")
	for range 2 {
		if w := post(h, hooks.InboundSMSPath, reply, emulator.Sign(token, full, reply)); w.Code != http.StatusOK {
			t.Fatalf("reply: %d %s", w.Code, w.Body)
		}
	}
	if got := messages(); got != 2 {
		t.Fatalf("incident holds %d messages after a reply and its retry, want 2", got)
	}

	// relay's own number and a malformed form post nothing.
	own := smsForm("SM"+strings.Repeat("c", 32), "+15005550006", "loop?")
	if w := post(h, hooks.InboundSMSPath, own, emulator.Sign(token, full, own)); w.Code != http.StatusOK || twimlMessage(t, w.Body.String()) != "" {
		t.Fatalf("own number: %d %s", w.Code, w.Body)
	}
	bad := smsForm("XX1", "+821012345678", "hi")
	if w := post(h, hooks.InboundSMSPath, bad, emulator.Sign(token, full, bad)); w.Code != http.StatusBadRequest ||
		!strings.Contains(w.Body.String(), "MessageSid") {
		t.Fatalf("malformed: %d %s", w.Code, w.Body)
	}
	if got := messages(); got != 2 {
		t.Fatalf("incident holds %d messages, want 2", got)
	}
}
