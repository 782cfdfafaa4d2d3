package node_test

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/hashicorp/memberlist"

	"github.com/oob-relay/relay/internal/testkit"
	"github.com/oob-relay/relay/relay"
	"github.com/oob-relay/relay/relay/delivery"
	"github.com/oob-relay/relay/relay/node"
)

// BenchmarkAcceptAcrossRegions measures how long Post takes to accept a
// message with one peer copy on three nodes in one process, whose links
// take delay_ms each way (0: loopback; 10: a 20 ms round trip, as Seoul
// to Tokyo; 50: a 100 ms one, as Seoul to Singapore). Each iteration posts 50 messages to one person, one after
// another; it reports the median and 99th percentile.
//
//	go test -run '^$' -bench AcceptAcrossRegions -benchtime 3x ./relay/node/
func BenchmarkAcceptAcrossRegions(b *testing.B) {
	for _, delay := range []time.Duration{0, 10 * time.Millisecond, 50 * time.Millisecond} {
		b.Run(fmt.Sprintf("delay_ms=%d", delay.Milliseconds()), func(b *testing.B) {
			roster := people(50)
			wrap := func(inner memberlist.NodeAwareTransport) memberlist.NodeAwareTransport {
				if delay == 0 {
					return inner
				}
				return testkit.NewFarNet(delay, 0, 1).Wrap(inner)
			}
			start := func(name, seed string) *member {
				return startMemberWith(b, name, seed, wrap, node.Options{
					Providers: []delivery.Provider{{Name: "sms-" + name, Channel: relay.ChannelSMS,
						Sender: &testkit.Sender{}}},
					Deadline: func(relay.Severity) time.Duration { return time.Minute },
					Roster:   roster, Lease: 2 * time.Second,
				})
			}
			a := start("node-a", "")
			seed := a.ms.LocalAddr()
			ms := []*member{a, start("node-b", seed), start("node-c", seed)}
			settleMembership(b, ms...)
			var took []time.Duration
			b.ResetTimer()
			for i := range b.N {
				for k := range 50 {
					t0 := time.Now()
					acc, err := a.n.Post(b.Context(), &relay.Post{Incident: fmt.Sprintf("copy-%d-%d", i, k), Text: "복제 시험",
						To: []string{fmt.Sprintf("person:p%04d", k)}, Severity: relay.SeverityCritical}, node.Author{Name: "bot"}, "")
					if err != nil {
						b.Fatal(err)
					}
					if acc.OnlyCopy {
						b.Fatalf("post %d accepted without a peer copy", k)
					}
					took = append(took, time.Since(t0))
				}
			}
			b.StopTimer()
			slices.Sort(took)
			ms50 := float64(took[len(took)/2].Microseconds()) / 1000
			ms99 := float64(took[min(len(took)-1, len(took)*99/100)].Microseconds()) / 1000
			b.ReportMetric(ms50, "p50_ms")
			b.ReportMetric(ms99, "p99_ms")
		})
	}
}
