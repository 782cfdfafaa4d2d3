package twilio_test

import (
	"context"
	"encoding/xml"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twilio/twilio-go/client"

	"github.com/oob-relay/relay/channels/twilio"
	"github.com/oob-relay/relay/channels/twilio/emulator"
	"github.com/oob-relay/relay/internal/testkit"
	"github.com/oob-relay/relay/relay"
	"github.com/oob-relay/relay/relay/delivery"
	// The package has a node of its own: webhook_test.go's fake.
	relaynode "github.com/oob-relay/relay/relay/node"
	"github.com/oob-relay/relay/relay/secret"
)

const (
	hooksToken = "0123456789abcdef0123456789abcdef"
	hooksURL   = "https://relay-1.example.com"
)

// hooksNode is a node as the webhooks see it.
type hooksNode struct{ *relaynode.Node }

func (n hooksNode) Delivery(id string) (*relay.Delivery, error) { return n.Store().Delivery(id) }
func (n hooksNode) Message(id string) (*relay.Message, error)   { return n.Store().Message(id) }

var _ twilio.Node = hooksNode{}

// newHooks serves the webhooks of n.
func newHooks(t *testing.T, n *relaynode.Node, own ...string) http.Handler {
	t.Helper()
	h, err := twilio.NewHooks(twilio.HookOptions{Node: hooksNode{n}, PublicURL: hooksURL,
		AuthTokens: []secret.String{secret.New(hooksToken)}, OwnNumbers: own})
	if err != nil {
		t.Fatal(err)
	}
	return h
}

// openHooksNode opens and starts a node that sends through s and knows
// kim, person of the given channels.
func openHooksNode(t *testing.T, ch string, s relay.Sender, calls relaynode.Calls) *relaynode.Node {
	t.Helper()
	return openHooksNodeAt(t, t.TempDir(), ch, s, calls)
}

// openHooksNodeAt is openHooksNode on the data dir dir, which a node
// opened there before may have left.
func openHooksNodeAt(t *testing.T, dir, ch string, s relay.Sender, calls relaynode.Calls) *relaynode.Node {
	t.Helper()
	kim := relay.Person{ID: "kim", Phone: "+821012345678"}
	if ch == relay.ChannelVoice {
		kim.Channels = []string{relay.ChannelVoice}
	}
	n, err := relaynode.Open(relaynode.Options{
		Name: "seoul-1", DataDir: dir, PublicURL: hooksURL,
		Providers: []delivery.Provider{{Name: "tw", Channel: ch, Sender: s}},
		Deadline:  func(relay.Severity) time.Duration { return time.Hour },
		Calls:     calls,
		Roster:    &relay.Roster{People: []relay.Person{kim}},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { n.Close(context.Background()) })
	if err := n.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	return n
}

// hooksSetup starts a node whose SMS provider answers every attempt with
// a Twilio-like message SID, posts one message to kim and waits until it
// is sent.
func hooksSetup(t *testing.T) (*relaynode.Node, http.Handler, *relay.Delivery) {
	t.Helper()
	sms := &testkit.Sender{ProviderID: func(*relay.Outgoing) string { return "SM" + strings.Repeat("0", 31) + "1" }}
	n := openHooksNode(t, relay.ChannelSMS, sms, relaynode.Calls{})
	h := newHooks(t, n)
	acc, err := n.Post(t.Context(), &relay.Post{Incident: "fire", Text: "대피", To: []string{"person:kim"}}, relaynode.Author{Name: "bot"}, "")
	if err != nil {
		t.Fatal(err)
	}
	id := relay.DeliveryID(acc.Message.ID, relay.ChannelSMS, "kim")
	var d *relay.Delivery
	testkit.EventuallyNil(t, 5*time.Second, func() error {
		var err error
		d, err = n.Store().Delivery(id)
		if err == nil && d.Status != relay.StatusSent {
			err = fmt.Errorf("delivery not sent: %+v", d)
		}
		return err
	})
	return n, h, d
}

func postHook(h http.Handler, path string, form url.Values, sig string) *httptest.ResponseRecorder {
	r := httptest.NewRequest(http.MethodPost, path, strings.NewReader(form.Encode()))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if sig != "" {
		r.Header.Set("X-Twilio-Signature", sig)
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w
}

func TestHooksReceipts(t *testing.T) {
	n, h, d := hooksSetup(t)
	path := relay.WebhookPrefix + d.ID + "/status"
	form := url.Values{"MessageSid": {d.ProviderID}, "MessageStatus": {"undelivered"}, "ErrorCode": {"30005"},
		"AccountSid": {"AC0123456789abcdef0123456789abcdef"}}
	good := emulator.Sign(hooksToken, hooksURL+path, form)

	status := func() relay.Status {
		got, err := n.Store().Delivery(d.ID)
		if err != nil {
			t.Fatal(err)
		}
		return got.Status
	}
	for _, tc := range []struct {
		name string
		form url.Values
		sig  string
	}{
		{"unsigned", form, ""},
		{"forged", form, emulator.Sign("ffffffffffffffffffffffffffffffff", hooksURL+path, form)},
		{"signed for another delivery", form, emulator.Sign(hooksToken, hooksURL+relay.WebhookPrefix+"other.sms.lee/status", form)},
		{"tampered", url.Values{"MessageSid": {d.ProviderID}, "MessageStatus": {"delivered"},
			"AccountSid": form["AccountSid"]}, good},
	} {
		if w := postHook(h, path, tc.form, tc.sig); w.Code != http.StatusForbidden {
			t.Errorf("%s: %d %s, want 403", tc.name, w.Code, w.Body)
		}
		if s := status(); s != relay.StatusSent {
			t.Fatalf("%s changed the delivery to %s", tc.name, s)
		}
	}

	if w := postHook(h, path, form, good); w.Code != http.StatusNoContent {
		t.Fatalf("signed receipt: %d %s", w.Code, w.Body)
	}
	got, _ := n.Store().Delivery(d.ID)
	if got.Status != relay.StatusFailed || got.Code != "30005" || got.Provider != "tw" || got.ProviderID != d.ProviderID {
		t.Fatalf("after the receipt: %+v", got)
	}
	// The same receipt again, Twilio's retry or a replay: a duplicate,
	// answered as the first and changing nothing.
	if w := postHook(h, path, form, good); w.Code != http.StatusNoContent {
		t.Fatalf("replayed receipt: %d %s, want 204", w.Code, w.Body)
	}
	if again, _ := n.Store().Delivery(d.ID); again.UpdatedAt != got.UpdatedAt || again.Status != got.Status {
		t.Fatalf("the replayed receipt changed the delivery: %+v, was %+v", again, got)
	}
}

func TestHooksDeliveredReceiptAndStale(t *testing.T) {
	n, h, d := hooksSetup(t)
	path := relay.WebhookPrefix + d.ID + "/status"
	stale := url.Values{"MessageSid": {"SM" + strings.Repeat("9", 32)}, "MessageStatus": {"failed"}, "ErrorCode": {"30003"}}
	if w := postHook(h, path, stale, emulator.Sign(hooksToken, hooksURL+path, stale)); w.Code != http.StatusNoContent {
		t.Fatalf("stale receipt: %d", w.Code)
	}
	if got, _ := n.Store().Delivery(d.ID); got.Status != relay.StatusSent {
		t.Fatalf("a receipt for another attempt changed the delivery: %+v", got)
	}
	ok := url.Values{"MessageSid": {d.ProviderID}, "MessageStatus": {"delivered"}}
	if w := postHook(h, path, ok, emulator.Sign(hooksToken, hooksURL+path, ok)); w.Code != http.StatusNoContent {
		t.Fatalf("delivered receipt: %d %s", w.Code, w.Body)
	}
	if got, _ := n.Store().Delivery(d.ID); got.Status != relay.StatusDelivered {
		t.Fatalf("after delivered: %+v", got)
	}
	if w := postHook(h, relay.WebhookPrefix+"nope.sms.kim/status", ok, emulator.Sign(hooksToken, hooksURL+relay.WebhookPrefix+"nope.sms.kim/status", ok)); w.Code != http.StatusNotFound {
		t.Fatalf("unknown delivery: %d", w.Code)
	}
}

// A busy call is called again after Calls.RetryAfter, as often as
// Calls.Retries allows; then the call fails with Twilio's status.
func TestHooksBusyCallIsCalledAgain(t *testing.T) {
	var sids atomic.Int32
	calls := &testkit.Sender{ProviderID: func(*relay.Outgoing) string { return fmt.Sprintf("CA%032x", sids.Add(1)) }}
	n := openHooksNode(t, relay.ChannelVoice, calls, relaynode.Calls{Retries: 1, RetryAfter: 20 * time.Millisecond})
	h := newHooks(t, n)
	acc, err := n.Post(t.Context(), &relay.Post{Incident: "fire", Text: "대피", To: []string{"person:kim"},
		Severity: relay.SeverityCritical}, relaynode.Author{Name: "bot"}, "")
	if err != nil {
		t.Fatal(err)
	}
	id := relay.DeliveryID(acc.Message.ID, relay.ChannelVoice, "kim")
	waitFor := func(what string, ok func(*relay.Delivery) bool) *relay.Delivery {
		t.Helper()
		var d *relay.Delivery
		testkit.EventuallyNil(t, 5*time.Second, func() error {
			var err error
			d, err = n.Store().Delivery(id)
			if err == nil && !ok(d) {
				err = fmt.Errorf("call never %s: %+v", what, d)
			}
			return err
		})
		return d
	}
	busy := func(d *relay.Delivery) {
		t.Helper()
		path := relay.WebhookPrefix + id + "/status"
		form := url.Values{"CallSid": {d.ProviderID}, "CallStatus": {"busy"}, "AccountSid": {"AC0123456789abcdef0123456789abcdef"}}
		if w := postHook(h, path, form, emulator.Sign(hooksToken, hooksURL+path, form)); w.Code != http.StatusNoContent {
			t.Fatalf("busy receipt: %d %s", w.Code, w.Body)
		}
	}
	first := waitFor("placed", func(d *relay.Delivery) bool { return d.Status == relay.StatusSent })
	busy(first)
	second := waitFor("placed again", func(d *relay.Delivery) bool { return d.Status == relay.StatusSent && d.Attempts == 2 })
	if second.Round != 1 || second.ProviderID == first.ProviderID {
		t.Fatalf("second call: %+v", second)
	}
	busy(second)
	last := waitFor("given up", func(d *relay.Delivery) bool { return d.Status == relay.StatusFailed })
	if last.Attempts != 2 || last.Reason != relay.ReasonRecipient || !strings.Contains(last.Error, "busy") {
		t.Fatalf("after the retries: %+v", last)
	}
	if got := calls.Count(); got != 2 {
		t.Fatalf("%d calls, want 2", got)
	}
}

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

func TestHooksIncomingSMS(t *testing.T) {
	n, _, d := hooksSetup(t)
	h := newHooks(t, n, "+15005550006")
	full := hooksURL + twilio.InboundSMSPath
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
		"other address": emulator.Sign(hooksToken, "https://evil.example.com"+twilio.InboundSMSPath, ack),
	} {
		if w := postHook(h, twilio.InboundSMSPath, ack, sig); w.Code != http.StatusForbidden {
			t.Errorf("%s: %d, want 403", name, w.Code)
		}
	}
	if ok, _ := n.Store().Acked(d.MessageID, "kim"); ok {
		t.Fatal("a forged ACK was recorded")
	}

	// Signed the way Twilio signs, checked with twilio-go's own validator.
	sig := emulator.Sign(hooksToken, full, ack)
	params := map[string]string{}
	for k := range ack {
		params[k] = ack.Get(k)
	}
	validator := client.NewRequestValidator(hooksToken)
	if !validator.Validate(full, params, sig) {
		t.Fatal("twilio-go does not accept the test's signature")
	}
	w := postHook(h, twilio.InboundSMSPath, ack, sig)
	if w.Code != http.StatusOK || !strings.Contains(twimlMessage(t, w.Body.String()), "확인했습니다") {
		t.Fatalf("signed ACK: %d %s", w.Code, w.Body)
	}
	if ok, _ := n.Store().Acked(d.MessageID, "kim"); !ok {
		t.Fatal("the ACK was not recorded")
	}

	// A reply posts to the incident; Twilio's retry of it posts nothing new.
	reply := smsForm("SM"+strings.Repeat("b", 32), "+821012345678", "지금 가는 중")
	for range 2 {
		if w := postHook(h, twilio.InboundSMSPath, reply, emulator.Sign(hooksToken, full, reply)); w.Code != http.StatusOK {
			t.Fatalf("reply: %d %s", w.Code, w.Body)
		}
	}
	if got := messages(); got != 2 {
		t.Fatalf("incident holds %d messages after a reply and its retry, want 2", got)
	}

	// relay's own number and a malformed form post nothing.
	own := smsForm("SM"+strings.Repeat("c", 32), "+15005550006", "loop?")
	if w := postHook(h, twilio.InboundSMSPath, own, emulator.Sign(hooksToken, full, own)); w.Code != http.StatusOK || twimlMessage(t, w.Body.String()) != "" {
		t.Fatalf("own number: %d %s", w.Code, w.Body)
	}
	bad := smsForm("XX1", "+821012345678", "hi")
	if w := postHook(h, twilio.InboundSMSPath, bad, emulator.Sign(hooksToken, full, bad)); w.Code != http.StatusBadRequest ||
		!strings.Contains(w.Body.String(), "MessageSid") {
		t.Fatalf("malformed: %d %s", w.Code, w.Body)
	}
	if got := messages(); got != 2 {
		t.Fatalf("incident holds %d messages, want 2", got)
	}
}

// TestHooksAcceptTheClusterURL: a receipt Twilio posted to the cluster's
// callback URL (any node answers it) is signed over that URL, and is
// taken; one signed over a URL that is neither is refused.
func TestHooksAcceptTheClusterURL(t *testing.T) {
	n, _, d := hooksSetup(t)
	const clusterURL = "https://relay.example.com"
	h, err := twilio.NewHooks(twilio.HookOptions{Node: hooksNode{n}, PublicURL: hooksURL, CallbackURL: clusterURL + "/",
		AuthTokens: []secret.String{secret.New(hooksToken)}})
	if err != nil {
		t.Fatal(err)
	}
	path := relay.WebhookPrefix + d.ID + "/status"
	form := url.Values{"MessageSid": {d.ProviderID}, "MessageStatus": {"delivered"}}
	if w := postHook(h, path, form, emulator.Sign(hooksToken, "https://elsewhere.example.com"+path, form)); w.Code != http.StatusForbidden {
		t.Fatalf("signed over another URL: %d %s, want 403", w.Code, w.Body)
	}
	if w := postHook(h, path, form, emulator.Sign(hooksToken, clusterURL+path, form)); w.Code != http.StatusNoContent {
		t.Fatalf("signed over the cluster URL: %d %s, want 204", w.Code, w.Body)
	}
	if got, _ := n.Store().Delivery(d.ID); got.Status != relay.StatusDelivered {
		t.Fatalf("after the receipt: %+v", got)
	}
}
