package main

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	natsgo "github.com/nats-io/nats.go"

	"github.com/oob-relay/relay/internal/testkit"
	"github.com/oob-relay/relay/relay"
)

// BenchmarkClusterLatency measures, on three relay serve processes with
// SMS, email and NATS providers, what a user of an alerting cluster
// feels, each against the same figure of Alertmanager HA on this machine
// (three replicas, loopback: 3.6 ms, 18 ms and 0.5 s):
//
//   - nats_first_ms: from a post on node A to the event at a NATS
//     subscriber, the median of 100 posts one after another;
//   - hundred_ms: from a post to 100 people on node A to the last of
//     their 100 SMS at the Twilio emulator, the median of 10;
//   - burst_ms and burst_p99_ms: 1,000 posts at once, each to one
//     person, spread over the three nodes: from the first post to the
//     last SMS at the emulator, and the 99th percentile of each post's
//     own time to its SMS.
//
// It fails on any repeated SMS.
func BenchmarkClusterLatency(b *testing.B) {
	testkit.NoLeaks(b)
	const people = 1000
	cl := startCluster(b, clusterSpec{nodes: 3, people: people, nats: true})
	nc, err := natsgo.Connect(cl.s.nats.ClientURL())
	if err != nil {
		b.Fatal(err)
	}
	defer nc.Close()
	arrived := make(chan string, 1024)
	sub, err := nc.Subscribe("relay.incident.*.message", func(m *natsgo.Msg) {
		select {
		case arrived <- m.Subject:
		default:
		}
	})
	if err != nil {
		b.Fatal(err)
	}
	defer sub.Unsubscribe()
	if err := nc.Flush(); err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	a := cl.nodes[0].c
	var natsFirst, hundred, burst, burstP99 []time.Duration
	b.ResetTimer()
	for i := range b.N {
		// 1. Post → the event at a NATS subscriber.
		for k := range 100 {
			incident := fmt.Sprintf("nats-%d-%d", i, k)
			t0 := time.Now()
			if _, err := a.Post(ctx, &relay.Post{Incident: incident, Text: "상황 공유", To: []string{"person:p00000"},
				Severity: relay.SeverityCritical, Channels: []string{relay.ChannelNATS}}, ""); err != nil {
				b.Fatal(err)
			}
			for subject := range arrived {
				if strings.Contains(subject, "."+incident+".") {
					break
				}
			}
			natsFirst = append(natsFirst, time.Since(t0))
		}

		// 2. One message to 100 people, by SMS.
		for k := range 10 {
			text := fmt.Sprintf("백 명 시험 %d-%d", i, k)
			to := make([]string, 100)
			for p := range to {
				to[p] = fmt.Sprintf("person:p%05d", p+100*k)
			}
			t0 := time.Now()
			if _, err := a.Post(ctx, &relay.Post{Incident: "hundred", Text: text, To: to, Severity: relay.SeverityCritical,
				Channels: []string{relay.ChannelSMS}}, ""); err != nil {
				b.Fatal(err)
			}
			testkit.WaitFor(b, ctx, "100 SMS", func() bool { return len(cl.s.smsArrivals(text)) >= 100 })
			hundred = append(hundred, lastArrival(cl.s.smsArrivals(text)).Sub(t0))
		}

		// 3. 1,000 posts at once over the three nodes.
		prefix := fmt.Sprintf("폭주 %d #", i)
		var mu sync.Mutex
		started := map[string]time.Time{}
		var wg sync.WaitGroup
		sem := make(chan struct{}, 64)
		t0 := time.Now()
		for k := range 1000 {
			wg.Add(1)
			sem <- struct{}{}
			go func() {
				defer wg.Done()
				defer func() { <-sem }()
				text := fmt.Sprintf("%s%04d", prefix, k)
				at := time.Now()
				if _, err := cl.nodes[k%3].c.Post(ctx, &relay.Post{Incident: "burst", Text: text,
					To: []string{fmt.Sprintf("person:p%05d", k%people)}, Severity: relay.SeverityCritical,
					Channels: []string{relay.ChannelSMS}}, ""); err != nil {
					b.Error(err)
					return
				}
				mu.Lock()
				started[text] = at
				mu.Unlock()
			}()
		}
		wg.Wait()
		testkit.WaitFor(b, ctx, "1,000 SMS", func() bool { return len(cl.s.smsArrivals(prefix)) >= 1000 })
		var own []time.Duration
		for _, m := range cl.s.emu.Messages() {
			if !strings.Contains(m.Body, prefix) {
				continue
			}
			for text, at := range started {
				if strings.Contains(m.Body, text) {
					own = append(own, m.Created.Sub(at))
				}
			}
		}
		burst = append(burst, lastArrival(cl.s.smsArrivals(prefix)).Sub(t0))
		slices.Sort(own)
		if len(own) > 0 {
			burstP99 = append(burstP99, own[min(len(own)-1, len(own)*99/100)])
		}
	}
	b.StopTimer()
	seen := map[string]int{}
	for _, m := range cl.s.emu.Messages() {
		seen[m.To+"|"+m.Body]++
	}
	for k, n := range seen {
		if n > 1 {
			b.Errorf("SMS sent %d times: %q", n, k)
		}
	}
	median := func(ds []time.Duration) float64 {
		slices.Sort(ds)
		return float64(ds[len(ds)/2].Microseconds()) / 1000
	}
	b.ReportMetric(median(natsFirst), "nats_first_ms")
	b.ReportMetric(median(hundred), "hundred_ms")
	b.ReportMetric(median(burst), "burst_ms")
	b.ReportMetric(median(burstP99), "burst_p99_ms")
}

// lastArrival returns when the last of as arrived.
func lastArrival(as []arrival) time.Time {
	var last time.Time
	for _, a := range as {
		if a.at.After(last) {
			last = a.at
		}
	}
	return last
}
