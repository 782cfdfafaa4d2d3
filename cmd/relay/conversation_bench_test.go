package main

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/oob-relay/relay/internal/testkit"
	"github.com/oob-relay/relay/relay"
)

// BenchmarkReplyLatency measures how long a reply by SMS takes to reach
// everyone in its incident, on three relay serve processes that take
// replies. A critical alert to everyone opens the incident; then, one
// after another, 20 people answer it through node B's signed Twilio
// webhook. Each reply's latency runs from the moment the webhook is
// posted until the emulator accepted the last of its SMS to the other
// people (its own record of the time, so polling adds nothing).
//
// Replies are warnings, whose default policy is fallback with SMS first:
// each goes out as one SMS per person, and email only after an SMS fails
// or stays unconfirmed for three minutes, which the emulator's receipts
// prevent. The cluster is warm when the replies start: every node has
// had a push to each peer confirmed (the alert's deliveries, spread over
// the three nodes, give each something to push), since a node right after
// its start may wait a second for a peer's answer to its hello before it
// pushes to that peer at all. No provider has a rate limit and each node has 16 workers, so
// the figure is relay's own path: webhook, store and peer copy, claims
// spread over the three nodes, one Twilio request per person. It reports
// p50_ms, p99_ms and max_ms of that, the same of the webhook's answer
// time (accept_p50_ms...), and duplicates (SMS beyond one per person and
// reply; target 0).
func BenchmarkReplyLatency(b *testing.B) {
	for _, people := range []int{20, 200} {
		b.Run(fmt.Sprintf("people=%d", people), func(b *testing.B) {
			testkit.NoLeaks(b)
			cl := startCluster(b, clusterSpec{nodes: 3, people: people, replies: true})
			var lags, accepts []time.Duration
			dups := 0
			b.ResetTimer()
			for i := range b.N {
				l, a, d := replyLatencies(b, cl, people, 20, fmt.Sprintf("incident-%d", i))
				lags, accepts, dups = append(lags, l...), append(accepts, a...), dups+d
			}
			b.StopTimer()
			reportPercentiles(b, "", lags)
			reportPercentiles(b, "accept_", accepts)
			b.ReportMetric(float64(dups), "duplicates")
		})
	}
}

// replyLatencies opens incident on cl with an alert to everyone, then
// posts replies replies by SMS to node B one after another, each waiting
// for the previous one to reach everyone.
func replyLatencies(b *testing.B, cl *testCluster, people, replies int, incident string) (lags, accepts []time.Duration, dups int) {
	b.StopTimer()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	alert := "답장 지연 측정 시작: " + incident
	if _, err := cl.nodes[0].c.Post(ctx, &relay.Post{Incident: incident, Text: alert, To: []string{"group:all"},
		Severity: relay.SeverityCritical}, ""); err != nil {
		b.Fatal(err)
	}
	testkit.WaitFor(b, ctx, "the alert at every person", func() bool {
		return len(perRecipient(cl.s.smsArrivals(alert))) == people && len(perRecipient(cl.s.mailArrivals(alert))) == people
	})
	waitReplicating(b, cl)
	got := smsTo(cl, alert)
	node := cl.nodes[1]
	for i := range replies {
		author := 1 + i%(people-1)
		text := fmt.Sprintf("%s 답장 %02d: 현장 도착", incident, i)
		sms := incomingSMS(b, node, phone(author), got[phone(author)].From, text)
		b.StartTimer()
		t0 := time.Now()
		status, answer := cl.deliver(b, ctx, node, sms)
		accepts = append(accepts, time.Since(t0))
		if status != http.StatusOK || answer != "" {
			b.Fatalf("reply %d: HTTP %d, TwiML message %q", i, status, answer)
		}
		testkit.WaitFor(b, ctx, fmt.Sprintf("reply %d at every other person", i), func() bool {
			return len(perRecipient(cl.s.smsArrivals(text))) == people-1
		})
		b.StopTimer()
		var last time.Time
		for _, m := range cl.s.emu.Messages() {
			if strings.Contains(m.Body, text) && m.Created.After(last) {
				last = m.Created
			}
		}
		lags = append(lags, last.Sub(t0))
		if n := perRecipient(cl.s.smsArrivals(text))[phone(author)]; n != 0 {
			b.Fatalf("reply %d reached its author %d times", i, n)
		}
		dups += duplicates(cl.s.smsArrivals(text))
	}
	return lags, accepts, dups
}

// waitReplicating waits until every node has had a push confirmed by
// every peer and no peer lacks any of its events: the pushes between all
// of them flow. A node that had nothing to push since it met a peer never
// gets such a confirmation.
func waitReplicating(tb testing.TB, cl *testCluster) {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	testkit.WaitFor(tb, ctx, "every node's events confirmed by every peer", func() bool {
		for _, n := range cl.nodes {
			v, err := n.c.Cluster(ctx)
			if err != nil || len(v.Members) != len(cl.nodes) {
				return false
			}
			for _, m := range v.Members {
				if !m.Self && (m.AckedAt == nil || m.BehindEvents != 0) {
					return false
				}
			}
		}
		return true
	})
}
