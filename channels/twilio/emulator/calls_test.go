package emulator_test

import (
	"slices"
	"strconv"
	"strings"
	"testing"

	openapi "github.com/twilio/twilio-go/rest/api/v2010"

	"github.com/oob-relay/relay/channels/twilio/emulator"
	"github.com/oob-relay/relay/channels/twilio/emulator/emulatortest"
)

const sayTwiml = `<Response><Say language="ko-KR">서버실 화재입니다.</Say></Response>`

func TestCallStatusSequences(t *testing.T) {
	h := newHook(t, "") // before the emulator, so it closes after it
	em := emulatortest.Start(t, fastOptions())
	em.SetCallOutcome("+821000000002", emulator.CallBusy)
	em.SetCallOutcome("+821000000003", emulator.CallNoAnswer)
	em.SetCallOutcome("+821000000004", emulator.CallFailed)
	all := []string{"initiated", "ringing", "answered", "completed"}
	tests := []struct {
		to       string
		events   []string
		want     []string
		final    string
		duration bool
	}{
		{"+821000000001", all, []string{"initiated", "ringing", "in-progress", "completed"}, "completed", true},
		{"+821000000002", all, []string{"initiated", "busy"}, "busy", false},
		{"+821000000003", all, []string{"initiated", "ringing", "no-answer"}, "no-answer", false},
		{"+821000000004", all, []string{"failed"}, "failed", false},
		// Without StatusCallbackEvent Twilio reports only the end.
		{"+821000000005", nil, []string{"completed"}, "completed", true},
	}
	for _, tt := range tests {
		t.Run(tt.to, func(t *testing.T) {
			params := (&openapi.CreateCallParams{}).SetTo(tt.to).SetFrom("+15005550006").
				SetTwiml(sayTwiml).SetStatusCallback(h.url("/call-status"))
			if tt.events != nil {
				params.SetStatusCallbackEvent(tt.events)
			}
			call, err := testAPI(t, em).CreateCall(params)
			if err != nil {
				t.Fatal(err)
			}
			if !strings.HasPrefix(*call.Sid, "CA") || len(*call.Sid) != 34 || *call.Status != "queued" {
				t.Errorf("answer sid %q status %q", *call.Sid, *call.Status)
			}
			got := h.waitFor(len(tt.want), func(r received) bool { return r.Form.Get("CallSid") == *call.Sid })
			if s := statuses(got, "CallStatus"); !slices.Equal(s, tt.want) {
				t.Errorf("statuses %v, want %v", s, tt.want)
			}
			for i, r := range got {
				if !r.Signed {
					t.Errorf("callback %d: X-Twilio-Signature does not validate", i)
				}
				if r.Form.Get("CallSid") != *call.Sid || r.Form.Get("SequenceNumber") != strconv.Itoa(i) ||
					r.Form.Get("To") != tt.to || r.Form.Get("AccountSid") != emulatortest.AccountSID {
					t.Errorf("callback %d: %v", i, r.Form)
				}
			}
			last := got[len(got)-1].Form
			d, err := strconv.Atoi(last.Get("CallDuration"))
			if err != nil || (tt.duration != (d > 0)) {
				t.Errorf("CallDuration %q; answered call: %v", last.Get("CallDuration"), tt.duration)
			}
			c, err := em.WaitCall(ctx(t), *call.Sid, func(c emulator.Call) bool { return emulator.Final(c.Status) })
			if err != nil {
				t.Fatal(err)
			}
			if c.Status != tt.final {
				t.Errorf("record status %q, want %q", c.Status, tt.final)
			}
			fetched, err := testAPI(t, em).FetchCall(*call.Sid, nil)
			if err != nil {
				t.Fatal(err)
			}
			if *fetched.Status != tt.final {
				t.Errorf("fetched status %q, want %q", *fetched.Status, tt.final)
			}
		})
	}
}

func TestPressDigitsWithTwiml(t *testing.T) {
	app := newHook(t, `<Response><Say>감사합니다.</Say></Response>`)
	em := emulatortest.Start(t, fastOptions())
	em.PressDigits("+821012345678", "1")
	twiml := `<Response><Gather input="dtmf" numDigits="1" action="` + app.url("/ack?delivery=m1") +
		`"><Say language="ko-KR">안전하면 1번을 누르세요.</Say></Gather></Response>`
	params := (&openapi.CreateCallParams{}).SetTo("+821012345678").SetFrom("+15005550006").SetTwiml(twiml)
	call, err := testAPI(t, em).CreateCall(params)
	if err != nil {
		t.Fatal(err)
	}
	got := app.wait(1)[0]
	if !got.Signed {
		t.Error("Gather callback signature does not validate")
	}
	if got.Method != "POST" || !strings.HasSuffix(got.URL, "/ack?delivery=m1") {
		t.Errorf("Gather callback went to %s %s", got.Method, got.URL)
	}
	for k, v := range map[string]string{"Digits": "1", "CallSid": *call.Sid, "CallStatus": "in-progress",
		"To": "+821012345678", "From": "+15005550006", "AccountSid": emulatortest.AccountSID} {
		if got.Form.Get(k) != v {
			t.Errorf("%s = %q, want %q", k, got.Form.Get(k), v)
		}
	}
	c, err := em.WaitCall(ctx(t), *call.Sid, func(c emulator.Call) bool { return c.GatherStatus != 0 })
	if err != nil {
		t.Fatal(err)
	}
	if c.Digits != "1" || c.GatherStatus != 200 || !strings.Contains(c.GatherReply, "감사합니다") {
		t.Errorf("record digits %q gather %d %q", c.Digits, c.GatherStatus, c.GatherReply)
	}
}

func TestPressDigitsWithFetchedURL(t *testing.T) {
	// The document's Gather has a relative action and GET method: it
	// resolves against the document's URL.
	app := newHook(t, `<Response><Gather numDigits="1" action="ack" method="GET"><Say>Press 1</Say></Gather></Response>`)
	em := emulatortest.Start(t, fastOptions())
	em.PressDigits("+821012345678", "1")
	params := (&openapi.CreateCallParams{}).SetTo("+821012345678").SetFrom("+15005550006").
		SetUrl(app.url("/voice/answer"))
	call, err := testAPI(t, em).CreateCall(params)
	if err != nil {
		t.Fatal(err)
	}
	got := app.wait(2)
	answer, gather := got[0], got[1]
	if answer.Method != "POST" || !strings.HasSuffix(answer.URL, "/voice/answer") || !answer.Signed ||
		answer.Form.Get("CallSid") != *call.Sid {
		t.Errorf("answer webhook %+v", answer)
	}
	if gather.Method != "GET" || !strings.Contains(gather.URL, "/voice/ack?") || !gather.Signed ||
		gather.Form.Get("Digits") != "1" {
		t.Errorf("Gather webhook %+v", gather)
	}
	c, err := em.WaitCall(ctx(t), *call.Sid, func(c emulator.Call) bool { return c.Status == "completed" })
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(c.Document, "<Gather") {
		t.Errorf("document %q", c.Document)
	}
}

func TestCallRejections(t *testing.T) {
	em := emulatortest.Start(t, fastOptions())
	em.RejectNumber("+821000000000", 21211)
	_, err := testAPI(t, em).CreateCall((&openapi.CreateCallParams{}).SetTo("+821000000000").
		SetFrom("+15005550006").SetTwiml(sayTwiml))
	if code := restCode(err); code != 21211 {
		t.Errorf("rejected number: %v", err)
	}
	_, err = testAPI(t, em).CreateCall((&openapi.CreateCallParams{}).SetTo("+821012345678").
		SetFrom("+15005550006").SetTwiml("<Response><Say>unclosed"))
	if code := restCode(err); code != 12100 {
		t.Errorf("malformed TwiML: %v", err)
	}
	if n := len(em.Calls()); n != 0 {
		t.Errorf("%d calls recorded, want 0", n)
	}
}

// TestPressAfterTheCall: Press posts a signed Gather callback with the
// digits for a call that ran its document, as a late key press; a call
// without a Gather or an unknown call is refused.
func TestPressAfterTheCall(t *testing.T) {
	app := newHook(t, `<Response><Say>감사합니다.</Say></Response>`)
	em := emulatortest.Start(t, fastOptions())
	twiml := `<Response><Gather input="dtmf" numDigits="1" action="` + app.url("/ack?delivery=m1") +
		`"><Say language="ko-KR">안전하면 1번을 누르세요.</Say></Gather></Response>`
	call, err := testAPI(t, em).CreateCall((&openapi.CreateCallParams{}).SetTo("+821012345678").SetFrom("+15005550006").SetTwiml(twiml))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := em.WaitCall(ctx(t), *call.Sid, func(c emulator.Call) bool { return c.Status == "completed" }); err != nil {
		t.Fatal(err)
	}
	reply, err := em.Press(ctx(t), *call.Sid, "2")
	if err != nil || reply.Status != 200 || !strings.Contains(reply.Body, "감사합니다") {
		t.Fatalf("Press: %+v, %v", reply, err)
	}
	got := app.wait(1)[0]
	if !got.Signed || got.Form.Get("Digits") != "2" || got.Form.Get("CallSid") != *call.Sid || !strings.HasSuffix(got.URL, "/ack?delivery=m1") {
		t.Errorf("Gather callback %+v", got)
	}
	if c, _ := em.WaitCall(ctx(t), *call.Sid, func(c emulator.Call) bool { return c.Digits == "2" }); c.GatherStatus != 200 {
		t.Errorf("record gather %d", c.GatherStatus)
	}

	plain, err := testAPI(t, em).CreateCall((&openapi.CreateCallParams{}).SetTo("+821012345678").SetFrom("+15005550006").SetTwiml(sayTwiml))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := em.Press(ctx(t), *plain.Sid, "1"); err == nil || !strings.Contains(err.Error(), "no Gather") {
		t.Errorf("Press on a call without Gather: %v", err)
	}
	if _, err := em.Press(ctx(t), "CA00000000000000000000000000000000", "1"); err == nil || !strings.Contains(err.Error(), "no call") {
		t.Errorf("Press on an unknown call: %v", err)
	}
}
