package twilio_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twilio/twilio-go/client"

	"github.com/oob-relay/relay/channels/twilio"
	"github.com/oob-relay/relay/channels/twilio/emulator"
	"github.com/oob-relay/relay/relay"
)

const (
	hookToken = "0123456789abcdef0123456789abcdef"
	smSID     = "SM0123456789abcdef0123456789abcdef"
	caSID     = "CA0123456789abcdef0123456789abcdef"
)

func TestValidSignature(t *testing.T) {
	const target = "https://relay.example.com/twilio/d/m1.voice.kim/status?node=a"
	form := url.Values{"CallSid": {caSID}, "CallStatus": {"completed"}, "To": {"+821012345678"},
		"Caller": {"+15005550006"}, "Body": {"안전합니다 1 & <ok>"}}
	sig := emulator.Sign(hookToken, target, form)

	if !twilio.ValidSignature(hookToken, target, form, sig) {
		t.Fatal("the emulator's signature does not validate")
	}
	// twilio-go's own validator agrees on the same request.
	v := client.NewRequestValidator(hookToken)
	if !v.ValidateBody(target, []byte(form.Encode()), sig) {
		t.Fatal("twilio-go refuses the emulator's signature, so the emulator does not sign as Twilio does")
	}
	// Twilio's security guide signs this request with the token 12345.
	doc := url.Values{"CallSid": {"CA1234567890ABCDE"}, "Caller": {"+12349013030"}, "Digits": {"1234"},
		"From": {"+12349013030"}, "To": {"+18005551212"}}
	if !twilio.ValidSignature("12345", "https://mycompany.com/myapp.php?foo=1&bar=2", doc, "0/KCTR6DLpKmkAf8muzZqo1nDgQ=") {
		t.Error("Twilio's documented example does not validate")
	}

	tampered := url.Values{}
	for k, vs := range form {
		tampered[k] = slices.Clone(vs)
	}
	tampered.Set("CallStatus", "busy")
	extra := url.Values{}
	for k, vs := range form {
		extra[k] = slices.Clone(vs)
	}
	extra.Set("Digits", "1")
	repeated := url.Values{}
	for k, vs := range form {
		repeated[k] = slices.Clone(vs)
	}
	repeated.Add("CallStatus", "busy")

	for _, tt := range []struct {
		name   string
		token  string
		url    string
		form   url.Values
		sig    string
		wanted bool
	}{
		{"other token", "someothertoken0123456789abcdef01", target, form, sig, false},
		{"empty token", "", target, form, emulator.Sign("", target, form), false},
		{"missing signature", hookToken, target, form, "", false},
		{"garbage signature", hookToken, target, form, "not-base64!", false},
		{"other path", hookToken, "https://relay.example.com/twilio/d/m2.voice.kim/status?node=a", form, sig, false},
		{"other query", hookToken, "https://relay.example.com/twilio/d/m1.voice.kim/status?node=b", form, sig, false},
		{"other host", hookToken, "https://evil.example.com/twilio/d/m1.voice.kim/status?node=a", form, sig, false},
		{"http instead of https", hookToken, "http://relay.example.com/twilio/d/m1.voice.kim/status?node=a", form, sig, false},
		{"tampered value", hookToken, target, tampered, sig, false},
		{"added parameter", hookToken, target, extra, sig, false},
		// The signed value first, a second one appended: twilio-go would
		// check the first alone.
		{"repeated parameter", hookToken, target, repeated, sig, false},
		{"repeated parameter signed with both", hookToken, target, repeated, emulator.Sign(hookToken, target, repeated), false},
		// Twilio signs with or without the default port; both validate.
		{"signed with :443", hookToken, target, form,
			emulator.Sign(hookToken, "https://relay.example.com:443/twilio/d/m1.voice.kim/status?node=a", form), true},
		{"signed without port, checked with", hookToken, "https://relay.example.com:443/twilio/d/m1.voice.kim/status?node=a", form, sig, true},
		{"signed with another port", hookToken, target, form,
			emulator.Sign(hookToken, "https://relay.example.com:8443/twilio/d/m1.voice.kim/status?node=a", form), false},
		{"empty form", hookToken, target, url.Values{}, emulator.Sign(hookToken, target, nil), true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if got := twilio.ValidSignature(tt.token, tt.url, tt.form, tt.sig); got != tt.wanted {
				t.Errorf("ValidSignature = %v, want %v", got, tt.wanted)
			}
		})
	}
}

func TestParseStatusMessages(t *testing.T) {
	tests := []struct {
		status, code string
		want         relay.Status
		reason       relay.Reason
		temporary    bool
		errText      string
	}{
		{status: "accepted"},
		{status: "scheduled"},
		{status: "queued"},
		{status: "sending"},
		{status: "sent", want: relay.StatusSent},
		{status: "delivered", want: relay.StatusDelivered},
		{status: "read", want: relay.StatusDelivered},
		{"undelivered", "30003", relay.StatusFailed, relay.ReasonRecipient, true, "message undelivered: unreachable handset (Twilio error 30003)"},
		{"undelivered", "30005", relay.StatusFailed, relay.ReasonRecipient, false, "message undelivered: unknown handset (Twilio error 30005)"},
		{"undelivered", "30006", relay.StatusFailed, relay.ReasonRecipient, false, "message undelivered: landline or unreachable carrier (Twilio error 30006)"},
		{"undelivered", "30004", relay.StatusFailed, relay.ReasonUnsubscribe, false, "message undelivered: message blocked (Twilio error 30004)"},
		{"undelivered", "30007", relay.StatusFailed, relay.ReasonRejected, false, "message undelivered: filtered by the carrier (Twilio error 30007)"},
		{"undelivered", "30008", relay.StatusFailed, relay.ReasonProvider, true, "message undelivered: unknown error (Twilio error 30008)"},
		{"failed", "21610", relay.StatusFailed, relay.ReasonUnsubscribe, false, "message failed: unsubscribed recipient (Twilio error 21610)"},
		{"failed", "30001", relay.StatusFailed, relay.ReasonRateLimited, true, "message failed: queue overflow (Twilio error 30001)"},
		{"failed", "30002", relay.StatusFailed, relay.ReasonAuth, false, "message failed: account suspended (Twilio error 30002)"},
		{"failed", "21211", relay.StatusFailed, relay.ReasonRecipient, false, "message failed (Twilio error 21211)"},
		{"failed", "99999", relay.StatusFailed, relay.ReasonUnknown, false, "message failed (Twilio error 99999)"},
		{"failed", "", relay.StatusFailed, relay.ReasonUnknown, false, "message failed"},
		{"canceled", "", relay.StatusFailed, relay.ReasonUnknown, false, "message canceled"},
	}
	for _, tt := range tests {
		t.Run(tt.status+"/"+tt.code, func(t *testing.T) {
			form := url.Values{"MessageSid": {smSID}, "SmsSid": {smSID}, "MessageStatus": {tt.status},
				"SmsStatus": {tt.status}, "AccountSid": {"AC0123456789abcdef0123456789abcdef"}}
			if tt.code != "" {
				form.Set("ErrorCode", tt.code)
			}
			r, err := twilio.ParseStatus(form)
			if err != nil {
				t.Fatal(err)
			}
			want := twilio.Report{SID: smSID, Kind: twilio.KindMessage, TwilioStatus: tt.status, Status: tt.want,
				Reason: tt.reason, Temporary: tt.temporary, Final: tt.want.Final(), Error: tt.errText}
			if tt.want == relay.StatusFailed {
				want.Code = tt.code
			}
			if r != want {
				t.Errorf("report\n %+v, want\n %+v", r, want)
			}
		})
	}
}

func TestParseStatusCalls(t *testing.T) {
	tests := []struct {
		status, code string
		want         relay.Status
		reason       relay.Reason
		temporary    bool
		errText      string
	}{
		{status: "queued"},
		{status: "initiated"},
		{status: "ringing"},
		{status: "in-progress"},
		// Answered, not acknowledged: the ack comes through the Gather.
		{status: "completed", want: relay.StatusSent},
		{"busy", "", relay.StatusFailed, relay.ReasonRecipient, true, "call busy"},
		{"no-answer", "", relay.StatusFailed, relay.ReasonRecipient, true, "call no-answer"},
		{"failed", "", relay.StatusFailed, relay.ReasonRecipient, false, "call failed"},
		{"failed", "21215", relay.StatusFailed, relay.ReasonPermission, false, "call failed (Twilio error 21215)"},
		{"canceled", "", relay.StatusFailed, relay.ReasonUnknown, false, "call canceled"},
	}
	for _, tt := range tests {
		t.Run(tt.status+"/"+tt.code, func(t *testing.T) {
			form := url.Values{"CallSid": {caSID}, "CallStatus": {tt.status}, "To": {"+821012345678"},
				"SequenceNumber": {"0"}, "CallbackSource": {"call-progress-events"}}
			if tt.code != "" {
				form.Set("ErrorCode", tt.code)
			}
			r, err := twilio.ParseStatus(form)
			if err != nil {
				t.Fatal(err)
			}
			want := twilio.Report{SID: caSID, Kind: twilio.KindCall, TwilioStatus: tt.status, Status: tt.want,
				Reason: tt.reason, Code: tt.code, Temporary: tt.temporary, Final: tt.want.Final(), Error: tt.errText}
			if r != want {
				t.Errorf("report\n %+v, want\n %+v", r, want)
			}
		})
	}
	r, err := twilio.ParseStatus(url.Values{"CallSid": {caSID}, "CallStatus": {"in-progress"}, "Digits": {"1"}})
	if err != nil || r.Digits != "1" {
		t.Errorf("digits in a call callback: %+v %v", r, err)
	}
}

func TestParseStatusErrorsNameTheField(t *testing.T) {
	for _, tt := range []struct {
		form  url.Values
		field string
	}{
		{url.Values{}, "MessageSid: missing"},
		{url.Values{"MessageStatus": {"sent"}}, "MessageSid: missing"},
		{url.Values{"MessageSid": {smSID}}, "MessageStatus: missing"},
		{url.Values{"MessageSid": {smSID}, "MessageStatus": {""}}, "MessageStatus: missing"},
		{url.Values{"MessageSid": {"SM123"}, "MessageStatus": {"sent"}}, `MessageSid: "SM123" is not a message SID`},
		{url.Values{"MessageSid": {caSID}, "MessageStatus": {"sent"}}, "MessageSid:"},
		{url.Values{"MessageSid": {smSID}, "MessageStatus": {"received"}}, `MessageStatus: "received" is not a status of an outbound message`},
		{url.Values{"MessageSid": {smSID}, "MessageStatus": {"Delivered"}}, "MessageStatus:"},
		{url.Values{"MessageSid": {smSID}, "MessageStatus": {"sent", "delivered"}}, "MessageStatus: given 2 times"},
		{url.Values{"MessageSid": {smSID}, "MessageStatus": {"failed"}, "ErrorCode": {"30x"}}, `ErrorCode: "30x" is not a Twilio error code`},
		{url.Values{"CallSid": {""}, "CallStatus": {"busy"}}, "CallSid: missing"},
		{url.Values{"CallSid": {smSID}, "CallStatus": {"busy"}}, "CallSid:"},
		{url.Values{"CallSid": {caSID}}, "CallStatus: missing"},
		{url.Values{"CallSid": {caSID}, "CallStatus": {"sent"}}, `CallStatus: "sent" is not a status of an outbound call`},
		{url.Values{"CallSid": {caSID}, "CallStatus": {"ringing"}, "Digits": {"1; drop"}}, "Digits:"},
		{url.Values{"CallSid": {caSID, caSID}, "CallStatus": {"busy"}}, "CallSid: given 2 times"},
		{url.Values{"CallSid": {caSID}, "CallStatus": {strings.Repeat("x", 500)}}, "CallStatus:"},
	} {
		r, err := twilio.ParseStatus(tt.form)
		if err == nil {
			t.Errorf("%v: no error, report %+v", tt.form, r)
			continue
		}
		if !strings.HasPrefix(err.Error(), tt.field) {
			t.Errorf("%v: error %q, want it to start with %q", tt.form, err, tt.field)
		}
		if len(err.Error()) > 200 {
			t.Errorf("error of %d bytes echoes too much input", len(err.Error()))
		}
	}
}

func TestParseGather(t *testing.T) {
	sid, digits, err := twilio.ParseGather(url.Values{"CallSid": {caSID}, "Digits": {"1"}, "CallStatus": {"in-progress"},
		"FinishedOnKey": {""}, "msg": {"Gather End"}})
	if err != nil || sid != caSID || digits != "1" {
		t.Errorf("ParseGather = %q %q %v", sid, digits, err)
	}
	if _, digits, err := twilio.ParseGather(url.Values{"CallSid": {caSID}, "Digits": {""}}); err != nil || digits != "" {
		t.Errorf("empty digits: %q %v", digits, err)
	}
	for _, tt := range []struct {
		form  url.Values
		field string
	}{
		{url.Values{"Digits": {"1"}}, "CallSid: missing"},
		{url.Values{"CallSid": {"CA1"}, "Digits": {"1"}}, "CallSid:"},
		{url.Values{"CallSid": {caSID}}, "Digits: missing"},
		{url.Values{"CallSid": {caSID}, "Digits": {"1", "2"}}, "Digits: given 2 times"},
		{url.Values{"CallSid": {caSID}, "Digits": {"one"}}, `Digits: "one" are not phone keys`},
	} {
		if _, _, err := twilio.ParseGather(tt.form); err == nil || !strings.HasPrefix(err.Error(), tt.field) {
			t.Errorf("%v: error %v, want it to start with %q", tt.form, err, tt.field)
		}
	}
}

// FuzzParseWebhook feeds arbitrary form bodies to the webhook parsers:
// they never panic, and what they accept is a consistent report.
func FuzzParseWebhook(f *testing.F) {
	f.Add("MessageSid=" + smSID + "&MessageStatus=undelivered&ErrorCode=30003")
	f.Add("CallSid=" + caSID + "&CallStatus=busy&Digits=1")
	f.Add("CallSid=" + caSID + "&Digits=%23")
	f.Add("CallSid=x&CallSid=y&MessageStatus=read&ErrorCode=")
	f.Add("%zz&Digits=1*#")
	f.Fuzz(func(t *testing.T, body string) {
		form, _ := url.ParseQuery(body) // a partial form is still input
		if r, err := twilio.ParseStatus(form); err == nil {
			checkReport(t, r)
		} else if err.Error() == "" {
			t.Fatal("empty error")
		}
		if sid, digits, err := twilio.ParseGather(form); err == nil {
			if !strings.HasPrefix(sid, "CA") || len(sid) != 34 || strings.Trim(digits, "0123456789*#") != "" {
				t.Fatalf("ParseGather accepted sid %q digits %q", sid, digits)
			}
		}
	})
}

func checkReport(t *testing.T, r twilio.Report) {
	t.Helper()
	if r.Status != "" && !slices.Contains(relay.Statuses, r.Status) {
		t.Fatalf("status %q is not a relay status", r.Status)
	}
	if r.Status == relay.StatusPending || r.Status == relay.StatusSending {
		t.Fatalf("a receipt reports %q", r.Status)
	}
	if r.Final != r.Status.Final() {
		t.Fatalf("Final %v for status %q", r.Final, r.Status)
	}
	failed := r.Status == relay.StatusFailed
	if failed != (r.Reason != "") || failed != (r.Error != "") || (!failed && (r.Temporary || r.Code != "")) {
		t.Fatalf("reason, error and temporary must go with failed: %+v", r)
	}
	if r.Reason != "" && !slices.Contains(relay.Reasons, r.Reason) {
		t.Fatalf("reason %q is not a relay reason", r.Reason)
	}
	switch r.Kind {
	case twilio.KindMessage:
		if !strings.HasPrefix(r.SID, "SM") && !strings.HasPrefix(r.SID, "MM") {
			t.Fatalf("message SID %q", r.SID)
		}
	case twilio.KindCall:
		if !strings.HasPrefix(r.SID, "CA") {
			t.Fatalf("call SID %q", r.SID)
		}
	default:
		t.Fatalf("kind %q", r.Kind)
	}
	if len(r.SID) != 34 || r.TwilioStatus == "" {
		t.Fatalf("report %+v", r)
	}
}

// node stands in for a relay node at deliveries' CallbackBase: it records
// every status callback and Gather post, checks its signature with
// ValidSignature, refuses unsigned ones, and answers a Gather with
// RenderGatherReply.
type node struct {
	t     *testing.T
	srv   *httptest.Server
	token string
	lang  string

	mu      sync.Mutex
	got     []hit
	changed chan struct{}
}

// hit is one webhook request the node received.
type hit struct {
	kind   string // relay.CallbackStatus or relay.CallbackGather
	form   url.Values
	signed bool
}

// newNode starts a node. Start it before the emulator, so that it closes
// after the emulator stops posting.
func newNode(t *testing.T, token, lang string) *node {
	n := &node{t: t, token: token, lang: lang, changed: make(chan struct{})}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /d/{delivery}/{kind}", n.serve)
	n.srv = httptest.NewServer(mux)
	t.Cleanup(n.srv.Close)
	return n
}

func (n *node) serve(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		return
	}
	form, err := url.ParseQuery(string(body))
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	full := "http://" + r.Host + r.URL.RequestURI()
	h := hit{kind: r.PathValue("kind"), form: form,
		signed: twilio.ValidSignature(n.token, full, form, r.Header.Get("X-Twilio-Signature"))}
	n.mu.Lock()
	n.got = append(n.got, h)
	close(n.changed)
	n.changed = make(chan struct{})
	n.mu.Unlock()
	switch {
	case !h.signed:
		http.Error(w, "bad signature", http.StatusForbidden)
	case h.kind == relay.CallbackGather:
		_, digits, err := twilio.ParseGather(form)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		w.Header().Set("Content-Type", "text/xml")
		_, _ = io.WriteString(w, twilio.RenderGatherReply(n.lang, digits == "1"))
	default:
		w.WriteHeader(http.StatusNoContent)
	}
}

// base returns the CallbackBase of a delivery.
func (n *node) base(delivery string) string { return n.srv.URL + "/d/" + delivery }

// wait returns the hits of kind for the call sid once there are at least
// count of them, failing the test after a deadline.
func (n *node) wait(kind, sid string, count int) []hit {
	n.t.Helper()
	deadline := time.After(5 * time.Second)
	for {
		n.mu.Lock()
		var got []hit
		for _, h := range n.got {
			if h.kind == kind && h.form.Get("CallSid") == sid {
				got = append(got, h)
			}
		}
		changed := n.changed
		n.mu.Unlock()
		if len(got) >= count {
			return got
		}
		select {
		case <-changed:
		case <-deadline:
			n.t.Fatalf("node received %d %s webhooks for %s, want %d", len(got), kind, sid, count)
		}
	}
}

// hits counts the webhooks of kind received.
func (n *node) hits(kind string) int {
	n.mu.Lock()
	defer n.mu.Unlock()
	c := 0
	for _, h := range n.got {
		if h.kind == kind {
			c++
		}
	}
	return c
}
