package emulator_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"sync"
	"testing"

	"github.com/twilio/twilio-go/client"
	openapi "github.com/twilio/twilio-go/rest/api/v2010"

	"github.com/oob-relay/relay/channels/twilio/emulator"
	"github.com/oob-relay/relay/channels/twilio/emulator/emulatortest"
)

// TestAutoRespondingPhone sends a message to a phone that answers every
// message by itself. Its answer reaches the number's messaging webhook,
// signed; the webhook's TwiML answer is texted to the phone, which
// answers that too; the webhook answers the second time with nothing, and
// the emulator is idle.
func TestAutoRespondingPhone(t *testing.T) {
	const number, phone, quiet = "+15005550006", "+821011110001", "+821011110002"
	validate := client.NewRequestValidator(emulatortest.AuthToken)
	var mu sync.Mutex
	var got []url.Values
	app := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		form, _ := url.ParseQuery(string(body))
		if !validate.ValidateBody("http://"+r.Host+r.URL.RequestURI(), body, r.Header.Get("X-Twilio-Signature")) {
			t.Errorf("an auto-responder's message is not signed: %v", form)
		}
		mu.Lock()
		got = append(got, form)
		first := len(got) == 1
		mu.Unlock()
		w.Header().Set("Content-Type", "text/xml")
		if first {
			io.WriteString(w, `<?xml version="1.0" encoding="UTF-8"?><Response><Message>relay: 받았습니다</Message></Response>`)
			return
		}
		io.WriteString(w, `<?xml version="1.0" encoding="UTF-8"?><Response/>`)
	}))
	t.Cleanup(app.Close)

	em := emulatortest.Start(t, fastOptions())
	em.SetMessagingWebhook(number, app.URL+"/sms", "")
	em.AutoRespond(phone, "운전 중입니다")
	for _, to := range []string{phone, quiet} {
		if _, err := testAPI(t, em).CreateMessage((&openapi.CreateMessageParams{}).SetTo(to).SetFrom(number).SetBody("서울 IDC 화재")); err != nil {
			t.Fatal(err)
		}
	}
	if err := em.WaitIdle(ctx(t)); err != nil {
		t.Fatal(err)
	}

	mu.Lock()
	defer mu.Unlock()
	if len(got) != 2 {
		t.Fatalf("the webhook got %d messages, want the phone's answer to the alert and to relay's TwiML answer", len(got))
	}
	for _, f := range got {
		if f.Get("From") != phone || f.Get("To") != number || f.Get("Body") != "운전 중입니다" || f.Get("AccountSid") != emulatortest.AccountSID {
			t.Errorf("the auto-responder's message: %v", f)
		}
	}
	rs := em.AutoResponses()
	if len(rs) != 2 || rs[0].Status != http.StatusOK || !slices.Equal(rs[0].Replies, []string{"relay: 받았습니다"}) ||
		len(rs[1].Replies) != 0 || rs[0].MessageSID != got[0].Get("MessageSid") {
		t.Errorf("auto-responses %+v", rs)
	}
	ms := em.Messages()
	if len(ms) != 3 {
		t.Fatalf("%d messages, want the two alerts and the TwiML answer", len(ms))
	}
	if m := ms[2]; m.Direction != emulator.DirectionReply || m.To != phone || m.From != number || m.Body != "relay: 받았습니다" ||
		m.Status != "delivered" {
		t.Errorf("the TwiML answer: %+v", m)
	}
	if ms[0].Direction != emulator.DirectionAPI {
		t.Errorf("an API message's direction is %q", ms[0].Direction)
	}
	// The list shows the answer as Twilio does.
	list, err := testAPI(t, em).ListMessage((&openapi.ListMessageParams{}).SetTo(phone))
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 2 || list[0].Direction == nil || *list[0].Direction != emulator.DirectionReply {
		t.Errorf("messages to the phone listed as %+v", list)
	}

	// Switched off, the phone answers no more.
	em.AutoRespond(phone, "")
	if _, err := testAPI(t, em).CreateMessage((&openapi.CreateMessageParams{}).SetTo(phone).SetFrom(number).SetBody("2차 공지")); err != nil {
		t.Fatal(err)
	}
	if err := em.WaitIdle(ctx(t)); err != nil {
		t.Fatal(err)
	}
	if n := len(em.AutoResponses()); n != 2 {
		t.Errorf("%d auto-responses after the phone's was switched off", n)
	}
}

// TestAutoRespondingPhoneWithoutWebhook answers a number that has no
// messaging webhook: the answer is recorded as lost and nothing else
// happens.
func TestAutoRespondingPhoneWithoutWebhook(t *testing.T) {
	em := emulatortest.Start(t, fastOptions())
	em.AutoRespond("+821011110001", "I'm driving")
	if _, err := testAPI(t, em).CreateMessage((&openapi.CreateMessageParams{}).SetTo("+821011110001").SetFrom("+15005550006").SetBody("alert")); err != nil {
		t.Fatal(err)
	}
	if err := em.WaitIdle(ctx(t)); err != nil {
		t.Fatal(err)
	}
	rs := em.AutoResponses()
	if len(rs) != 1 || rs[0].Status != 0 || rs[0].Err == "" {
		t.Errorf("auto-responses %+v", rs)
	}
}
