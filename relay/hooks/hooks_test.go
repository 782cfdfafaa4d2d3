package hooks_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync/atomic"
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

// calling answers every call attempt with a new call SID.
type calling struct{ n atomic.Int32 }

func (c *calling) Send(_ context.Context, out *relay.Outgoing) (relay.Receipt, error) {
	return relay.Receipt{ProviderID: fmt.Sprintf("CA%032x", c.n.Add(1))}, nil
}

// A busy call is called again after Calls.RetryAfter, as often as
// Calls.Retries allows; then the call fails with Twilio's status.
func TestBusyCallIsCalledAgain(t *testing.T) {
	calls := &calling{}
	n, err := node.Open(node.Options{
		Name: "seoul-1", DataDir: t.TempDir(), PublicURL: publicURL,
		Providers: []delivery.Provider{{Name: "tw", Channel: relay.ChannelVoice, Sender: calls}},
		Deadline:  func(relay.Severity) time.Duration { return time.Hour },
		Calls:     node.Calls{Retries: 1, RetryAfter: 20 * time.Millisecond},
		Roster:    &relay.Roster{People: []relay.Person{{ID: "kim", Phone: "+821012345678", Channels: []string{relay.ChannelVoice}}}},
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
	acc, err := n.Post(t.Context(), &relay.Post{Incident: "fire", Text: "대피", To: []string{"person:kim"},
		Severity: relay.SeverityCritical}, node.Author{Name: "bot"}, "")
	if err != nil {
		t.Fatal(err)
	}
	id := relay.DeliveryID(acc.Message.ID, relay.ChannelVoice, "kim")
	waitFor := func(what string, ok func(*relay.Delivery) bool) *relay.Delivery {
		t.Helper()
		deadline := time.Now().Add(5 * time.Second)
		for {
			d, err := n.Store().Delivery(id)
			if err == nil && ok(d) {
				return d
			}
			if time.Now().After(deadline) {
				t.Fatalf("call never %s: %+v %v", what, d, err)
			}
			time.Sleep(2 * time.Millisecond)
		}
	}
	busy := func(d *relay.Delivery) {
		t.Helper()
		path := node.WebhookPrefix + id + "/status"
		form := url.Values{"CallSid": {d.ProviderID}, "CallStatus": {"busy"}, "AccountSid": {"AC0123456789abcdef0123456789abcdef"}}
		if w := post(h, path, form, emulator.Sign(token, publicURL+path, form)); w.Code != http.StatusNoContent {
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
	if got := calls.n.Load(); got != 2 {
		t.Fatalf("%d calls, want 2", got)
	}
}
