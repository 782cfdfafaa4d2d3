package main

import (
	"testing"
	"time"

	"github.com/oob-relay/relay/internal/testkit"
)

// BenchmarkWatchTargetDownToSMS measures, on three relay serve processes
// as they ship in three sites with `for: 30s` (a quorum of 2 of 3
// sites), the time from a target going down to the first staff SMS at
// the emulator: for, plus the probes' damping and interval, plus the
// owner's tick and the delivery.
func BenchmarkWatchTargetDownToSMS(b *testing.B) {
	var took []time.Duration
	for range b.N {
		b.StopTimer()
		tg := newWatchedTarget(b)
		cl := startCluster(b, clusterSpec{nodes: 3, people: 3, sites: watchSites, shipped: true,
			extra: targetWatch(tg.URL, 30*time.Second, 30*time.Second)})
		testkit.Eventually(b, 60*time.Second, "every node's view", func() bool {
			v, err := cl.nodes[0].c.Watch(b.Context())
			return err == nil && len(v.Targets) == 1 && len(v.Targets[0].Views) == 3
		})
		b.StartTimer()
		down := time.Now()
		tg.down.Store(true)
		testkit.Eventually(b, 120*time.Second, "the first page", func() bool { return len(cl.s.smsArrivals("[장애] web")) > 0 })
		b.StopTimer()
		d := cl.s.smsArrivals("[장애] web")[0].at.Sub(down)
		took = append(took, d)
		b.Logf("target down to the first SMS: %s (for 30s, 3 sites, quorum 2)", d.Round(time.Millisecond))
	}
	reportPercentiles(b, "down_to_sms_", took)
}
