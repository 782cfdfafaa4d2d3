package gossip

import (
	"fmt"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/oob-relay/relay/internal/testkit"
)

// BenchmarkWANDetection runs the wan preset over links that take 125 ms
// each way (a 250 ms round trip, as Seoul to Frankfurt) and lose 3% of
// the UDP packets. It keeps three members up for 20 s and counts the
// suspicions they raise of each other (all false: nobody failed), then
// stops one abruptly and measures how long the two others take to
// declare it dead. It reports false_suspicions, ms/detect and max-ms.
//
//	go test -run '^$' -bench WANDetection -benchtime 3x ./gossip/
func BenchmarkWANDetection(b *testing.B) {
	const size = 3
	var total, slowest time.Duration
	var suspicions float64
	for i := 0; b.Loop(); i++ {
		b.StopTimer()
		net := testkit.NewFarNet(125*time.Millisecond, 0.03, uint64(i))
		wan := func(o *Options) {
			o.Config.Preset = PresetWAN
			o.WrapTransport = net.Wrap
		}
		nodes := make([]*node, size)
		for j := range nodes {
			name := fmt.Sprintf("w%d-%d", i, j)
			if j == 0 {
				nodes[j] = startNode(b, name, wan)
			} else {
				nodes[j] = startNode(b, name, func(o *Options) { wan(o); seededBy(nodes[0])(o) })
			}
		}
		for _, n := range nodes {
			testkit.Eventually(b, 30*time.Second, "cluster forms", func() bool { return len(n.Alive()) == size })
		}
		before := 0.0
		for _, n := range nodes {
			before += testutil.ToFloat64(n.metrics.suspicions)
		}
		time.Sleep(20 * time.Second)
		for _, n := range nodes {
			suspicions += testutil.ToFloat64(n.metrics.suspicions)
		}
		suspicions -= before
		victim, survivors := nodes[size-1], nodes[:size-1]
		b.StartTimer()
		start := time.Now()
		if err := victim.Shutdown(); err != nil {
			b.Fatal(err)
		}
		for _, n := range survivors {
			testkit.Eventually(b, time.Minute, "victim declared dead", func() bool {
				m, ok := memberOf(n, victim.LocalNode())
				return ok && m.State == StateDead
			})
		}
		took := time.Since(start)
		total += took
		slowest = max(slowest, took)
		b.StopTimer()
		for _, n := range survivors {
			_ = n.Shutdown()
		}
		b.StartTimer()
	}
	// memberlist's Shutdown does not wait for a probe in flight, which
	// ends when its probe interval does.
	b.StopTimer()
	time.Sleep(2 * presets[PresetWAN].probeInterval)
	b.ReportMetric(suspicions/float64(b.N), "false_suspicions")
	b.ReportMetric(float64(total.Milliseconds())/float64(b.N), "ms/detect")
	b.ReportMetric(float64(slowest.Milliseconds()), "max-ms")
}
