package emulator_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/twilio/twilio-go/client"
	openapi "github.com/twilio/twilio-go/rest/api/v2010"
	"go.uber.org/goleak"

	"github.com/oob-relay/relay/channels/twilio/emulator"
	"github.com/oob-relay/relay/channels/twilio/emulator/emulatortest"
)

func TestSignMatchesTwilioValidator(t *testing.T) {
	v := client.NewRequestValidator(emulatortest.AuthToken)
	for _, tt := range []struct {
		url    string
		params url.Values
	}{
		{"https://relay.example.com/twilio/status", url.Values{"MessageSid": {"SM1"}, "MessageStatus": {"delivered"}}},
		{"http://127.0.0.1:8080/twilio/sms?node=a", url.Values{"Body": {"안전합니다 1"}, "From": {"+821012345678"}}},
		{"https://relay.example.com/empty", url.Values{}},
	} {
		sig := emulator.Sign(emulatortest.AuthToken, tt.url, tt.params)
		body := []byte(tt.params.Encode())
		if !v.ValidateBody(tt.url, body, sig) {
			t.Errorf("%s %v: twilio-go rejects signature %s", tt.url, tt.params, sig)
		}
		other := client.NewRequestValidator("someothertoken0")
		if other.ValidateBody(tt.url, body, sig) {
			t.Errorf("%s: signature validates with another token", tt.url)
		}
	}
	// A documented example: Twilio's security guide signs this request
	// with the token 12345 as 0/KCTR6DLpKmkAf8muzZqo1nDgQ=.
	params := url.Values{"CallSid": {"CA1234567890ABCDE"}, "Caller": {"+12349013030"}, "Digits": {"1234"},
		"From": {"+12349013030"}, "To": {"+18005551212"}}
	if got := emulator.Sign("12345", "https://mycompany.com/myapp.php?foo=1&bar=2", params); got != "0/KCTR6DLpKmkAf8muzZqo1nDgQ=" {
		t.Errorf("documented example signed as %s", got)
	}
}

func TestSendInbound(t *testing.T) {
	app := newHook(t, `<?xml version="1.0" encoding="UTF-8"?><Response><Message>확인했습니다</Message></Response>`)
	em := emulatortest.Start(t, fastOptions())
	reply, err := em.SendInbound(ctx(t), emulator.Inbound{
		URL: app.url("/twilio/sms"), From: "+821012345678", To: "+15005550006", Body: "안전합니다 1",
	})
	if err != nil {
		t.Fatal(err)
	}
	if reply.Status != http.StatusOK || !strings.Contains(reply.Body, "확인했습니다") || reply.ContentType != "text/xml" {
		t.Errorf("reply %+v", reply)
	}
	got := app.wait(1)[0]
	if !got.Signed {
		t.Error("inbound webhook signature does not validate")
	}
	want := map[string]string{
		"AccountSid": emulatortest.AccountSID, "ApiVersion": "2010-04-01", "Body": "안전합니다 1",
		"From": "+821012345678", "To": "+15005550006", "MessageSid": reply.MessageSID,
		"SmsMessageSid": reply.MessageSID, "SmsSid": reply.MessageSID, "SmsStatus": "received",
		"NumMedia": "0", "NumSegments": "1",
	}
	for k, v := range want {
		if got.Form.Get(k) != v {
			t.Errorf("%s = %q, want %q", k, got.Form.Get(k), v)
		}
	}
	if !strings.HasPrefix(reply.MessageSID, "SM") || len(reply.MessageSID) != 34 {
		t.Errorf("MessageSid %q", reply.MessageSID)
	}
}

func TestNewRejectsBadOptions(t *testing.T) {
	for name, opts := range map[string]emulator.Options{
		"no accounts":    {},
		"bad SID":        {Accounts: map[string]string{"AC12": "token"}},
		"symbolic token": {Accounts: map[string]string{emulatortest.AccountSID: "tok-en"}},
	} {
		if _, err := emulator.New(opts); err == nil {
			t.Errorf("%s: New accepted %+v", name, opts)
		}
	}
}

// TestCloseStopsEverything closes an emulator with a hanging request, a
// slow one and callbacks still pending, and checks no goroutine is left.
func TestCloseStopsEverything(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	h := newHook(t, "")
	em, err := emulator.New(emulator.Options{
		Accounts:      map[string]string{emulatortest.AccountSID: emulatortest.AuthToken},
		CallbackDelay: time.Hour, // callbacks stay pending until Close
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := em.Start("127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	svc := testAPI(t, em)
	if _, err := svc.CreateMessage((&openapi.CreateMessageParams{}).SetTo("+821012345678").SetFrom("+15005550006").
		SetBody("x").SetStatusCallback(h.url("/s"))); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.CreateCall((&openapi.CreateCallParams{}).SetTo("+821012345678").SetFrom("+15005550006").
		SetTwiml(sayTwiml)); err != nil {
		t.Fatal(err)
	}
	em.HangNext(1)
	em.SlowNext(1, time.Hour)
	errs := make(chan error, 2)
	for range 2 {
		go func() {
			_, err := svc.CreateMessage((&openapi.CreateMessageParams{}).SetTo("+821012345678").SetFrom("+15005550006").SetBody("x"))
			errs <- err
		}()
	}
	if err := em.WaitRequests(ctx(t), 4); err != nil {
		t.Fatal(err)
	}
	closed := make(chan error)
	go func() { closed <- em.Close() }()
	select {
	case err := <-closed:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Close blocked")
	}
	for range 2 {
		if err := <-errs; err == nil {
			t.Error("a hanging request succeeded")
		}
	}
	if n := len(h.received()); n != 0 {
		t.Errorf("%d callbacks posted, want none", n)
	}
	h.srv.Close()
}
