package main

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/oob-relay/relay/channels/twilio/emulator"
	"github.com/oob-relay/relay/internal/testkit"
	"github.com/oob-relay/relay/relay"
	"github.com/oob-relay/relay/relay/api"
)

// TestWebhookReplay replays signed Twilio webhooks to a cluster of two
// relay serve processes, as someone who read them on their way could: a
// person's SMS acknowledging an incident, the status callback of their
// busy call, and the one of their delivered SMS. Each is replayed to the
// node that did not take it, then to the node that took it after both
// restarted on their data dirs. Each is taken once: the replayed ACK
// acknowledges none of the messages posted since, the replayed busy
// callback neither fails nor reopens the call that is due again, and a
// receipt posted again, as Twilio does when it retries, is answered 204
// and changes nothing.
func TestWebhookReplay(t *testing.T) {
	testkit.NoLeaks(t)
	cl := startCluster(t, clusterSpec{nodes: 2, people: 2, replies: true, receipts: true, voice: true, capture: true})
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	a := cl.nodes[0]
	const incident = "replay-probe"
	person := personID(1)

	// 1. A critical alert reaches person 1 by SMS and by a call, which is
	// busy: the call is due again in half an hour.
	cl.s.emu.SetCallOutcome(phone(1), emulator.CallBusy)
	first, err := a.c.Post(ctx, &relay.Post{Incident: incident, Text: "1차 경보: 전산실 화재", To: []string{"person:" + person},
		Severity: relay.SeverityCritical}, "")
	if err != nil {
		t.Fatal(err)
	}
	call := relay.DeliveryID(first.ID, relay.ChannelVoice, person)
	sms := relay.DeliveryID(first.ID, relay.ChannelSMS, person)
	for _, n := range cl.nodes {
		testkit.Eventually(t, 30*time.Second, "the call reopened and the SMS delivered on "+n.name, func() bool {
			ds := deliveryViews(ctx, n, first.ID)
			return ds[call].Status == relay.StatusPending && ds[call].Round == 1 && ds[sms].Status == relay.StatusDelivered
		})
	}

	// 2. Person 1 acknowledges by SMS through node A; then a second
	// message to them, which they have not acknowledged.
	from := smsTo(cl, "1차 경보")[phone(1)].From
	ack := incomingSMS(t, a, phone(1), from, "1")
	if status, text := cl.deliver(t, ctx, a, ack); status != http.StatusOK || !strings.Contains(text, incident) {
		t.Fatalf("person 1's ACK: HTTP %d, TwiML message %q", status, text)
	}
	second, err := a.c.Post(ctx, &relay.Post{Incident: incident, Text: "2차 경보: 3층 대피", To: []string{"person:" + person},
		Severity: relay.SeverityWarning}, "")
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range cl.nodes {
		testkit.Eventually(t, 30*time.Second, "the ACK and the second message delivered on "+n.name, func() bool {
			m1, err1 := n.c.Message(ctx, first.ID)
			m2, err2 := n.c.Message(ctx, second.ID)
			return err1 == nil && err2 == nil && len(m1.Acks) == 1 && m2.Summary[relay.StatusDelivered] == 1
		})
	}

	// What was captured on its way to the cluster: the busy call's
	// status callback and the SMS's delivered receipt.
	busy := cl.hooks(func(h capturedHook) bool { return h.form.Get("CallStatus") == "busy" })
	delivered := cl.hooks(func(h capturedHook) bool {
		return strings.Contains(h.path, sms) && h.form.Get("MessageStatus") == "delivered"
	})
	if len(busy) != 1 || len(delivered) != 1 || busy[0].status != http.StatusNoContent || delivered[0].status != http.StatusNoContent {
		t.Fatalf("captured %d busy callbacks and %d delivered receipts (%+v, %+v), want one of each taken with 204",
			len(busy), len(delivered), busy, delivered)
	}
	before := replayState(t, ctx, cl, first.ID, second.ID)
	waitSeenEverywhere(t, cl)

	// 3. Every request to the node that did not take it, and the receipt
	// to the node that did too, as Twilio's retry: each a duplicate.
	other := func(name string) *clusterNode {
		if cl.nodes[0].name == name {
			return cl.nodes[1]
		}
		return cl.nodes[0]
	}
	byName := func(name string) *clusterNode {
		if cl.nodes[0].name == name {
			return cl.nodes[0]
		}
		return cl.nodes[1]
	}
	check := func(when string) {
		t.Helper()
		if after := replayState(t, ctx, cl, first.ID, second.ID); after != before {
			t.Fatalf("%s the state changed:\n%s\nwas:\n%s", when, after, before)
		}
	}
	b := other(a.name)
	if status, text := cl.deliver(t, ctx, b, ack.to(t, b)); status != http.StatusOK || text != "" {
		t.Errorf("the ACK replayed to %s: HTTP %d, TwiML message %q; want 200 and no answer", b.name, status, text)
	}
	for _, to := range []*clusterNode{other(busy[0].node)} {
		if got := cl.replay(t, ctx, to, busy[0]); got != http.StatusNoContent {
			t.Errorf("the busy callback replayed to %s: HTTP %d, want 204", to.name, got)
		}
	}
	for _, to := range []*clusterNode{byName(delivered[0].node), other(delivered[0].node)} {
		if got := cl.replay(t, ctx, to, delivered[0]); got != http.StatusNoContent {
			t.Errorf("the delivered receipt again to %s: HTTP %d, want 204", to.name, got)
		}
	}
	check("after the replays to the other node")

	// 4. Both nodes restart on their data dirs; every request again to
	// the node that took it.
	for i := range cl.nodes {
		cl.stop(i)
		cl.start(i)
	}
	cl.waitWhole()
	if status, text := cl.deliver(t, ctx, a, ack); status != http.StatusOK || text != "" {
		t.Errorf("the ACK replayed to %s after its restart: HTTP %d, TwiML message %q; want 200 and no answer", a.name, status, text)
	}
	if got := cl.replay(t, ctx, byName(busy[0].node), busy[0]); got != http.StatusNoContent {
		t.Errorf("the busy callback replayed to %s after its restart: HTTP %d, want 204", busy[0].node, got)
	}
	if got := cl.replay(t, ctx, byName(delivered[0].node), delivered[0]); got != http.StatusNoContent {
		t.Errorf("the delivered receipt again to %s after its restart: HTTP %d, want 204", delivered[0].node, got)
	}
	check("after the replays to the restarted nodes")

	if calls := len(cl.s.emu.Calls()); calls != 1 {
		t.Errorf("person 1 was called %d times, want once", calls)
	}
	duplicates := 0.0
	for i := range cl.nodes {
		m := cl.metrics(i)
		for _, kind := range []string{"sms", "status"} {
			duplicates += m[fmt.Sprintf(`relay_webhook_handled_total{kind=%q,outcome="duplicate"}`, kind)]
		}
	}
	if duplicates != 3 {
		// Counters start again at a restart: the three of step 4.
		t.Errorf("the nodes count %v duplicates since their restart, want 3", duplicates)
	}
}

// replay posts a captured webhook to node n, signature and all, and
// returns the HTTP status.
func (cl *testCluster) replay(tb testing.TB, ctx context.Context, n *clusterNode, h capturedHook) int {
	tb.Helper()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, n.api+h.path, strings.NewReader(h.form.Encode()))
	if err != nil {
		tb.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("X-Twilio-Signature", h.header.Get("X-Twilio-Signature"))
	resp, err := cl.http.Do(req)
	if err != nil {
		tb.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// deliveryViews returns message id's deliveries as node n shows them now,
// by id; none when n does not answer.
func deliveryViews(ctx context.Context, n *clusterNode, id string) map[string]api.DeliveryView {
	out := map[string]api.DeliveryView{}
	m, err := n.c.Message(ctx, id)
	if err != nil {
		return out
	}
	for _, d := range m.Deliveries {
		out[d.ID] = d
	}
	return out
}

// replayState describes what a replay could change, as every node shows
// it: each delivery of the messages and who acknowledged them.
func replayState(tb testing.TB, ctx context.Context, cl *testCluster, ids ...string) string {
	tb.Helper()
	var b strings.Builder
	for _, n := range cl.nodes {
		for _, id := range ids {
			m, err := n.c.Message(ctx, id)
			if err != nil {
				tb.Fatal(err)
			}
			for _, d := range m.Deliveries {
				fmt.Fprintf(&b, "%s %s: %s round %d, %d attempts, %s %q, updated %s\n", n.name, d.ID, d.Status, d.Round, d.Attempts,
					d.ProviderID, d.Error, d.UpdatedAt.Format(time.RFC3339Nano))
			}
			for _, ack := range m.Acks {
				fmt.Fprintf(&b, "%s %s: acknowledged by %s on %s at %s\n", n.name, id, ack.Person, ack.Channel, ack.At.Format(time.RFC3339Nano))
			}
		}
	}
	return b.String()
}

// waitSeenEverywhere waits until every node holds the record of every
// request another node took.
func waitSeenEverywhere(tb testing.TB, cl *testCluster) {
	tb.Helper()
	testkit.Eventually(tb, 15*time.Second, "every node holding every other's records of requests taken", func() bool {
		local, remote := make([]float64, len(cl.nodes)), make([]float64, len(cl.nodes))
		total := 0.0
		for i := range cl.nodes {
			m := cl.metrics(i)
			local[i] = m[`relay_store_events_total{kind="seen",source="local"}`]
			remote[i] = m[`relay_store_events_total{kind="seen",source="remote"}`]
			total += local[i]
		}
		for i := range cl.nodes {
			if remote[i] != total-local[i] {
				return false
			}
		}
		return true
	})
}
