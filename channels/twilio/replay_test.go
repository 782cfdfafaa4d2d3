package twilio_test

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/oob-relay/relay/channels/twilio"
	"github.com/oob-relay/relay/channels/twilio/emulator"
	"github.com/oob-relay/relay/internal/testkit"
	"github.com/oob-relay/relay/relay"
	relaynode "github.com/oob-relay/relay/relay/node"
	"github.com/oob-relay/relay/relay/secret"
)

// countedHooks serves the webhooks of n with its metrics in reg, and the
// clock now (time.Now when nil).
func countedHooks(t *testing.T, n *relaynode.Node, reg *prometheus.Registry, now func() time.Time) http.Handler {
	t.Helper()
	h, err := twilio.NewHooks(twilio.HookOptions{Node: hooksNode{n}, PublicURL: hooksURL,
		AuthTokens: []secret.String{secret.New(hooksToken)}, Registerer: reg, Now: now})
	if err != nil {
		t.Fatal(err)
	}
	return h
}

// handled reads relay_webhook_handled_total for kind and outcome.
func handled(t *testing.T, reg *prometheus.Registry, kind, outcome string) int {
	t.Helper()
	return int(testkit.Metric(t, reg, "relay_webhook_handled_total", "kind", kind, "outcome", outcome))
}

// postToKim posts a message to kim on n and waits until its delivery on
// channel ch is sent.
func postToKim(t *testing.T, n *relaynode.Node, ch, text string) *relay.Delivery {
	t.Helper()
	acc, err := n.Post(t.Context(), &relay.Post{Incident: "fire", Text: text, To: []string{"person:kim"},
		Severity: relay.SeverityCritical}, relaynode.Author{Name: "bot"}, "")
	if err != nil {
		t.Fatal(err)
	}
	id := relay.DeliveryID(acc.Message.ID, ch, "kim")
	var d *relay.Delivery
	testkit.EventuallyNil(t, 5*time.Second, func() error {
		var err error
		d, err = n.Store().Delivery(id)
		if err == nil && d.Status != relay.StatusSent {
			err = fmt.Errorf("delivery not sent: %+v", d)
		}
		return err
	})
	return d
}

// An SMS that acknowledged, replayed to a node restarted on its data
// dir, acknowledges nothing of what was posted since; a receipt Twilio
// posts again is a duplicate answered 204.
func TestHooksReplayAfterRestart(t *testing.T) {
	dir := t.TempDir()
	sms := &testkit.Sender{ProviderID: func(*relay.Outgoing) string { return "SM" + strings.Repeat("0", 31) + "1" }}
	n := openHooksNodeAt(t, dir, relay.ChannelSMS, sms, relaynode.Calls{})
	h := countedHooks(t, n, prometheus.NewRegistry(), nil)
	first := postToKim(t, n, relay.ChannelSMS, "1차 경보")

	full := hooksURL + twilio.InboundSMSPath
	ack := smsForm("SM"+strings.Repeat("a", 32), "+821012345678", "1")
	ackSig := emulator.Sign(hooksToken, full, ack)
	if w := postHook(h, twilio.InboundSMSPath, ack, ackSig); w.Code != http.StatusOK || twimlMessage(t, w.Body.String()) == "" {
		t.Fatalf("the ACK: %d %s", w.Code, w.Body)
	}
	receiptPath := relay.WebhookPrefix + first.ID + "/status"
	receipt := url.Values{"MessageSid": {first.ProviderID}, "MessageStatus": {"delivered"}}
	receiptSig := emulator.Sign(hooksToken, hooksURL+receiptPath, receipt)
	if w := postHook(h, receiptPath, receipt, receiptSig); w.Code != http.StatusNoContent {
		t.Fatalf("the receipt: %d %s", w.Code, w.Body)
	}
	if err := n.Close(t.Context()); err != nil {
		t.Fatal(err)
	}

	n = openHooksNodeAt(t, dir, relay.ChannelSMS, sms, relaynode.Calls{})
	reg := prometheus.NewRegistry()
	h = countedHooks(t, n, reg, nil)
	second := postToKim(t, n, relay.ChannelSMS, "2차 경보")
	if w := postHook(h, twilio.InboundSMSPath, ack, ackSig); w.Code != http.StatusOK || twimlMessage(t, w.Body.String()) != "" {
		t.Fatalf("the ACK replayed after the restart: %d %s, want 200 and no answer", w.Code, w.Body)
	}
	if acked, err := n.Store().Acked(second.MessageID, "kim"); err != nil || acked {
		t.Fatalf("the ACK replayed after the restart acknowledged the message posted since (%v)", err)
	}
	if w := postHook(h, receiptPath, receipt, receiptSig); w.Code != http.StatusNoContent {
		t.Fatalf("the receipt again after the restart: %d %s, want 204", w.Code, w.Body)
	}
	if sms, status := handled(t, reg, "sms", "duplicate"), handled(t, reg, "status", "duplicate"); sms != 1 || status != 1 {
		t.Fatalf("duplicates counted after the restart: %d SMS and %d receipts, want one of each", sms, status)
	}
}

// A Gather that acknowledges, sent many times at once, as a replay racing
// Twilio's own request, acknowledges once; every copy gets the spoken
// answer.
func TestHooksGatherTakenOnce(t *testing.T) {
	var sids sync.Mutex
	next := 0
	calls := &testkit.Sender{ProviderID: func(*relay.Outgoing) string {
		sids.Lock()
		defer sids.Unlock()
		next++
		return fmt.Sprintf("CA%032x", next)
	}}
	n := openHooksNode(t, relay.ChannelVoice, calls, relaynode.Calls{})
	reg := prometheus.NewRegistry()
	h := countedHooks(t, n, reg, nil)
	d := postToKim(t, n, relay.ChannelVoice, "대피")

	path := relay.WebhookPrefix + d.ID + "/gather"
	form := url.Values{"CallSid": {d.ProviderID}, "Digits": {"1"}, "CallStatus": {"in-progress"}}
	sig := emulator.Sign(hooksToken, hooksURL+path, form)
	const copies = 8
	var wg sync.WaitGroup
	codes := make([]int, copies)
	bodies := make([]string, copies)
	for i := range copies {
		wg.Go(func() {
			w := postHook(h, path, form, sig)
			codes[i], bodies[i] = w.Code, w.Body.String()
		})
	}
	wg.Wait()
	for i := range copies {
		if codes[i] != http.StatusOK || bodies[i] != bodies[0] {
			t.Fatalf("copy %d: %d %s; the first: %d %s", i, codes[i], bodies[i], codes[0], bodies[0])
		}
	}
	if taken, dup := handled(t, reg, "gather", "true"), handled(t, reg, "gather", "duplicate"); taken != 1 || dup != copies-1 {
		t.Fatalf("%d Gathers taken and %d duplicates, want 1 and %d", taken, dup, copies-1)
	}
	if acked, err := n.Store().Acked(d.MessageID, "kim"); err != nil || !acked {
		t.Fatalf("the Gather did not acknowledge (%v)", err)
	}
}

// A status callback or Gather about a delivery whose deadline passed more
// than CallbackWindow ago is refused and changes nothing; just inside the
// window it is taken.
func TestHooksRefuseStaleCallbacks(t *testing.T) {
	n, _, d := hooksSetup(t)
	if d.Deadline.IsZero() {
		t.Fatal("the delivery has no deadline")
	}
	status := relay.WebhookPrefix + d.ID + "/status"
	receipt := url.Values{"MessageSid": {d.ProviderID}, "MessageStatus": {"delivered"}}
	gather := relay.WebhookPrefix + d.ID + "/gather"
	digits := url.Values{"CallSid": {"CA" + strings.Repeat("e", 32)}, "Digits": {"1"}}

	late := prometheus.NewRegistry()
	h := countedHooks(t, n, late, func() time.Time { return d.Deadline.Add(twilio.CallbackWindow + time.Second) })
	if w := postHook(h, status, receipt, emulator.Sign(hooksToken, hooksURL+status, receipt)); w.Code != http.StatusForbidden {
		t.Errorf("a late receipt: %d %s, want 403", w.Code, w.Body)
	}
	if w := postHook(h, gather, digits, emulator.Sign(hooksToken, hooksURL+gather, digits)); w.Code != http.StatusForbidden {
		t.Errorf("a late Gather: %d %s, want 403", w.Code, w.Body)
	}
	if got := testkit.Metric(t, late, "relay_webhook_refused_total", "reason", "stale"); got != 2 {
		t.Errorf("%v refused as stale, want 2", got)
	}
	got, err := n.Store().Delivery(d.ID)
	if err != nil || got.Status != relay.StatusSent {
		t.Fatalf("a late receipt changed the delivery: %+v, %v", got, err)
	}
	if acked, _ := n.Store().Acked(d.MessageID, "kim"); acked {
		t.Fatal("a late Gather acknowledged")
	}

	h = countedHooks(t, n, prometheus.NewRegistry(), func() time.Time { return d.Deadline.Add(twilio.CallbackWindow) })
	if w := postHook(h, status, receipt, emulator.Sign(hooksToken, hooksURL+status, receipt)); w.Code != http.StatusNoContent {
		t.Fatalf("a receipt at the window's end: %d %s, want 204", w.Code, w.Body)
	}
	if got, _ := n.Store().Delivery(d.ID); got.Status != relay.StatusDelivered {
		t.Fatalf("a receipt at the window's end was not recorded: %+v", got)
	}
}

// Once an attempt has its outcome, no receipt for it changes anything:
// the same status again, another final status (a captured "undelivered"
// replayed after "delivered"), or the busy receipt of a call reopened for
// another call, which would otherwise use up the calls left.
func TestHooksReceiptOncePerAttempt(t *testing.T) {
	n, _, d := hooksSetup(t)
	reg := prometheus.NewRegistry()
	h := countedHooks(t, n, reg, nil)
	path := relay.WebhookPrefix + d.ID + "/status"
	post := func(status string) {
		t.Helper()
		form := url.Values{"MessageSid": {d.ProviderID}, "MessageStatus": {status}}
		if w := postHook(h, path, form, emulator.Sign(hooksToken, hooksURL+path, form)); w.Code != http.StatusNoContent {
			t.Fatalf("%s receipt: %d %s", status, w.Code, w.Body)
		}
	}
	post("delivered")
	taken, err := n.Store().Delivery(d.ID)
	if err != nil || taken.Status != relay.StatusDelivered {
		t.Fatalf("after the delivered receipt: %+v, %v", taken, err)
	}
	post("delivered")
	post("undelivered")
	if got, _ := n.Store().Delivery(d.ID); got.Status != relay.StatusDelivered || got.UpdatedAt != taken.UpdatedAt {
		t.Fatalf("receipts after the first changed the delivery: %+v, was %+v", got, taken)
	}
	if dup := handled(t, reg, "status", "duplicate"); dup != 2 {
		t.Fatalf("%d duplicates, want 2", dup)
	}

	var sids sync.Mutex
	next := 0
	calls := &testkit.Sender{ProviderID: func(*relay.Outgoing) string {
		sids.Lock()
		defer sids.Unlock()
		next++
		return fmt.Sprintf("CA%032x", next)
	}}
	voice := openHooksNode(t, relay.ChannelVoice, calls, relaynode.Calls{Retries: 2, RetryAfter: time.Hour / 2})
	h = countedHooks(t, voice, prometheus.NewRegistry(), nil)
	call := postToKim(t, voice, relay.ChannelVoice, "대피")
	path = relay.WebhookPrefix + call.ID + "/status"
	busy := url.Values{"CallSid": {call.ProviderID}, "CallStatus": {"busy"}}
	sig := emulator.Sign(hooksToken, hooksURL+path, busy)
	for range 3 {
		if w := postHook(h, path, busy, sig); w.Code != http.StatusNoContent {
			t.Fatalf("busy receipt: %d %s", w.Code, w.Body)
		}
	}
	got, err := voice.Store().Delivery(call.ID)
	if err != nil || got.Status != relay.StatusPending || got.Round != 1 {
		t.Fatalf("after a busy receipt and two copies: %+v, %v; want pending in round 1", got, err)
	}
}
