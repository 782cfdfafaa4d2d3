package gossip

import (
	"fmt"
	"testing"
	"time"

	"github.com/oob-relay/relay/internal/testkit"
)

// BenchmarkDeadDetection measures how long the LAN preset takes to declare
// a member dead after it stops abruptly (Shutdown without Leave, as a
// SIGKILL would), on loopback: from the stop until every survivor sees it
// dead. It reports the mean as ms/detect and the slowest as max-ms.
//
//	go test -run '^$' -bench DeadDetection -benchtime 10x ./gossip/
func BenchmarkDeadDetection(b *testing.B) {
	for _, size := range []int{2, 3, 5} {
		b.Run(fmt.Sprintf("members=%d", size), func(b *testing.B) {
			var total, slowest time.Duration
			for i := 0; b.Loop(); i++ {
				b.StopTimer()
				nodes := make([]*node, size)
				for j := range nodes {
					name := fmt.Sprintf("n%d-%d", i, j)
					if j == 0 {
						nodes[j] = startNode(b, name, nil)
					} else {
						nodes[j] = startNode(b, name, seededBy(nodes[0]))
					}
				}
				victim, survivors := nodes[size-1], nodes[:size-1]
				for _, n := range nodes {
					testkit.Eventually(b, 10*time.Second, "cluster forms", func() bool { return len(n.Alive()) == size })
				}
				b.StartTimer()

				start := time.Now()
				if err := victim.Shutdown(); err != nil {
					b.Fatal(err)
				}
				for _, n := range survivors {
					testkit.Eventually(b, 10*time.Second, "victim declared dead", func() bool {
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
			b.ReportMetric(float64(total.Milliseconds())/float64(b.N), "ms/detect")
			b.ReportMetric(float64(slowest.Milliseconds()), "max-ms")
		})
	}
}
