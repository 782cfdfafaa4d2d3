package hooks_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/oob-relay/relay/channels/twilio/emulator"
	"github.com/oob-relay/relay/relay"
	"github.com/oob-relay/relay/relay/delivery"
	"github.com/oob-relay/relay/relay/hooks"
	"github.com/oob-relay/relay/relay/node"
	"github.com/oob-relay/relay/relay/secret"
)

const (
	token     = "0123456789abcdef0123456789abcdef"
	publicURL = "https://relay-1.example.com"
)

// accepting answers every attempt with a Twilio-like message SID.
type accepting struct{}

func (accepting) Send(_ context.Context, out *relay.Outgoing) (relay.Receipt, error) {
	return relay.Receipt{ProviderID: "SM" + strings.Repeat("0", 31) + "1"}, nil
}

func setup(t *testing.T) (*node.Node, http.Handler, *relay.Delivery) {
	t.Helper()
	n, err := node.Open(node.Options{
		Name: "seoul-1", DataDir: t.TempDir(), PublicURL: publicURL,
		Providers: []delivery.Provider{{Name: "tw", Channel: relay.ChannelSMS, Sender: accepting{}}},
		Deadline:  func(relay.Severity) time.Duration { return time.Hour },
		Roster:    &relay.Roster{People: []relay.Person{{ID: "kim", Phone: "+821012345678"}}},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { n.Close(context.Background()) })
	if err := n.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	h, err := hooks.New(hooks.Options{Node: n, PublicURL: publicURL, AuthTokens: []secret.String{secret.New(token)}})
	if err != nil {
		t.Fatal(err)
	}
	acc, err := n.Post(t.Context(), &relay.Post{Incident: "fire", Text: "대피", To: []string{"person:kim"}}, node.Author{Name: "bot"}, "")
	if err != nil {
		t.Fatal(err)
	}
	id := relay.DeliveryID(acc.Message.ID, relay.ChannelSMS, "kim")
	deadline := time.Now().Add(5 * time.Second)
	for {
		d, err := n.Store().Delivery(id)
		if err == nil && d.Status == relay.StatusSent {
			return n, h, d
		}
		if time.Now().After(deadline) {
			t.Fatalf("delivery not sent: %+v %v", d, err)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func post(h http.Handler, path string, form url.Values, sig string) *httptest.ResponseRecorder {
	r := httptest.NewRequest(http.MethodPost, path, strings.NewReader(form.Encode()))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if sig != "" {
		r.Header.Set("X-Twilio-Signature", sig)
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w
}

func TestReceipts(t *testing.T) {
	n, h, d := setup(t)
	path := node.WebhookPrefix + d.ID + "/status"
	form := url.Values{"MessageSid": {d.ProviderID}, "MessageStatus": {"undelivered"}, "ErrorCode": {"30005"},
		"AccountSid": {"AC0123456789abcdef0123456789abcdef"}}
	good := emulator.Sign(token, publicURL+path, form)

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
		{"forged", form, emulator.Sign("ffffffffffffffffffffffffffffffff", publicURL+path, form)},
		{"signed for another delivery", form, emulator.Sign(token, publicURL+node.WebhookPrefix+"other.sms.lee/status", form)},
		{"tampered", url.Values{"MessageSid": {d.ProviderID}, "MessageStatus": {"delivered"},
			"AccountSid": form["AccountSid"]}, good},
	} {
		if w := post(h, path, tc.form, tc.sig); w.Code != http.StatusForbidden {
			t.Errorf("%s: %d %s, want 403", tc.name, w.Code, w.Body)
		}
		if s := status(); s != relay.StatusSent {
			t.Fatalf("%s changed the delivery to %s", tc.name, s)
		}
	}

	if w := post(h, path, form, good); w.Code != http.StatusNoContent {
		t.Fatalf("signed receipt: %d %s", w.Code, w.Body)
	}
	got, _ := n.Store().Delivery(d.ID)
	if got.Status != relay.StatusFailed || got.Code != "30005" || got.Provider != "tw" || got.ProviderID != d.ProviderID {
		t.Fatalf("after the receipt: %+v", got)
	}
	if w := post(h, path, form, good); w.Code != http.StatusForbidden {
		t.Fatalf("replayed receipt: %d, want 403", w.Code)
	}
}

func TestDeliveredReceiptAndStale(t *testing.T) {
	n, h, d := setup(t)
	path := node.WebhookPrefix + d.ID + "/status"
	stale := url.Values{"MessageSid": {"SM" + strings.Repeat("9", 32)}, "MessageStatus": {"failed"}, "ErrorCode": {"30003"}}
	if w := post(h, path, stale, emulator.Sign(token, publicURL+path, stale)); w.Code != http.StatusNoContent {
		t.Fatalf("stale receipt: %d", w.Code)
	}
	if got, _ := n.Store().Delivery(d.ID); got.Status != relay.StatusSent {
		t.Fatalf("a receipt for another attempt changed the delivery: %+v", got)
	}
	ok := url.Values{"MessageSid": {d.ProviderID}, "MessageStatus": {"delivered"}}
	if w := post(h, path, ok, emulator.Sign(token, publicURL+path, ok)); w.Code != http.StatusNoContent {
		t.Fatalf("delivered receipt: %d %s", w.Code, w.Body)
	}
	if got, _ := n.Store().Delivery(d.ID); got.Status != relay.StatusDelivered {
		t.Fatalf("after delivered: %+v", got)
	}
	if w := post(h, node.WebhookPrefix+"nope.sms.kim/status", ok, emulator.Sign(token, publicURL+node.WebhookPrefix+"nope.sms.kim/status", ok)); w.Code != http.StatusNotFound {
		t.Fatalf("unknown delivery: %d", w.Code)
	}
}
