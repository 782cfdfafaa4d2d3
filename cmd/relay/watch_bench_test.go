package main

import (
	"os"
	"testing"
	"time"

	"github.com/oob-relay/relay/cmd/relay/internal/launch"
	"github.com/oob-relay/relay/internal/testkit"
	"github.com/oob-relay/relay/relay/api"
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

// flakyRunEnv names the environment variable that sets how long
// BenchmarkWatchFlakyNode runs, as a Go duration; flakyRunDefault when
// unset.
const (
	flakyRunEnv     = "RELAY_BENCH_FLAKY_RUN"
	flakyRunDefault = 2 * time.Minute
)

// BenchmarkWatchFlakyNode counts the false pages of three relay serve
// processes as they ship, in three sites, watching a healthy HTTP target
// while node-b's network is flaky: half of its probes fail at random.
// One site's trouble is not an outage, so the pages sent must be 0. The
// run lasts RELAY_BENCH_FLAKY_RUN (default 2 minutes). The target's
// `for` is a short 3 s, so that node-b's damped view (two failed probes
// in a row turn it down) stays down longer than `for` now and then: only
// the quorum of sites stands between that and a page. Besides the pages,
// it reports node-b's failed probes, how often its view changed, and its
// longest time down.
func BenchmarkWatchFlakyNode(b *testing.B) {
	run := flakyRunDefault
	if v := os.Getenv(flakyRunEnv); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d <= 0 {
			b.Fatalf("%s must be a positive duration, not %q", flakyRunEnv, v)
		}
		run = d
	}
	var pages, flakyDown, flips float64
	var longest time.Duration
	for range b.N {
		b.StopTimer()
		tg := newWatchedTarget(b)
		cl := startCluster(b, clusterSpec{nodes: 3, people: 3, sites: watchSites, shipped: true,
			extra: targetWatch(tg.URL, 3*time.Second, 3*time.Second),
			env: func(i int) []string {
				if i == 1 {
					return []string{launch.FlakyDialEnv + "=0.5"}
				}
				return nil
			}})
		testkit.Eventually(b, 60*time.Second, "every node's view", func() bool {
			v, err := cl.nodes[0].c.Watch(b.Context())
			return err == nil && len(v.Targets) == 1 && len(v.Targets[0].Views) == 3
		})
		b.StartTimer()
		fl := watchFlaky(b, cl, run)
		b.StopTimer()
		down := cl.metrics(1)[`relay_watch_probes_total{result="down",target="web"}`]
		if down == 0 {
			b.Fatalf("node-b's probes never failed: the flaky network was not in place")
		}
		flakyDown += down
		flips += float64(fl.flips)
		longest = max(longest, fl.longest)
		for i := range cl.nodes {
			pages += sum(cl.metrics(i), "relay_watch_pages_total")
		}
		if got := cl.s.emu.Messages(); len(got) != 0 {
			b.Fatalf("%d SMS at the emulator with one node's network flaky for %s, want none: %+v", len(got), run, got)
		}
		b.Logf("%s with node-b's probes failing half the time: %.0f failed probes on node-b, its view changed %d times, down %s at the longest; %.0f pages",
			run, down, fl.flips, fl.longest.Round(time.Second), pages)
	}
	b.ReportMetric(pages/float64(b.N), "pages/run")
	b.ReportMetric(flakyDown/float64(b.N), "flaky_down_probes/run")
	b.ReportMetric(flips/float64(b.N), "flaky_view_changes/run")
	b.ReportMetric(longest.Seconds(), "flaky_longest_down_s")
	b.ReportMetric(run.Seconds(), "run_seconds")
	if pages != 0 {
		b.Fatalf("%.0f pages with one node's network flaky, want 0", pages)
	}
}

// flakyRun is what watchFlaky saw of node-b's view.
type flakyRun struct {
	flips   int
	longest time.Duration
}

// watchFlaky reads node-a's GET /v1/watch every half second for run:
// how often node-b's view of target web changed and how long it stayed
// down at the longest. It stops the benchmark at once when the target is
// judged down or an SMS reaches the emulator.
func watchFlaky(b *testing.B, cl *testCluster, run time.Duration) flakyRun {
	var fr flakyRun
	var last api.SiteView
	seen := false
	tick := time.NewTicker(500 * time.Millisecond)
	defer tick.Stop()
	end := time.After(run)
	for {
		select {
		case <-end:
			return fr
		case <-tick.C:
		}
		v, err := cl.nodes[0].c.Watch(b.Context())
		if err != nil || len(v.Targets) != 1 {
			b.Fatalf("node-a's watch view: %+v, %v", v, err)
		}
		if v.Targets[0].Down || v.Targets[0].Incident != "" {
			b.Fatalf("the target judged down with one node's network flaky: %+v", v.Targets[0])
		}
		if n := len(cl.s.emu.Messages()); n != 0 {
			b.Fatalf("%d SMS at the emulator with one node's network flaky", n)
		}
		x, ok := targetView(v, "node-b")
		if !ok {
			continue
		}
		if seen && (x.Up != last.Up || !x.Since.Equal(last.Since)) {
			fr.flips++
		}
		seen, last = true, x
		if !x.Up {
			fr.longest = max(fr.longest, time.Since(x.Since))
		}
	}
}
