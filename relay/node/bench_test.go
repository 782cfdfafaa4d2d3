package node_test

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/oob-relay/relay/internal/testkit"
	"github.com/oob-relay/relay/relay"
	"github.com/oob-relay/relay/relay/delivery"
	"github.com/oob-relay/relay/relay/node"
)

// benchRoster returns n people, each with a phone and an email.
func benchRoster(n int) *relay.Roster {
	r := &relay.Roster{People: make([]relay.Person, n)}
	for i := range n {
		r.People[i] = relay.Person{
			ID:    fmt.Sprintf("p%05d", i),
			Name:  fmt.Sprintf("직원 %d", i),
			Phone: fmt.Sprintf("+8210%08d", i),
			Email: fmt.Sprintf("p%05d@example.com", i),
		}
	}
	return r
}

// benchSentCounter counts delivery changes recorded as sent, from a
// store observer, and signals after every batch that had some.
type benchSentCounter struct {
	n        atomic.Int64
	progress chan struct{}
}

func (c *benchSentCounter) observe(events []relay.Event) {
	k := 0
	for i := range events {
		for j := range events[i].Deliveries {
			if events[i].Deliveries[j].Status == relay.StatusSent {
				k++
			}
		}
	}
	if k == 0 {
		return
	}
	c.n.Add(int64(k))
	select {
	case c.progress <- struct{}{}:
	default:
	}
}

// wait blocks until at least want changes were recorded sent.
func (c *benchSentCounter) wait(ctx context.Context, want int64) error {
	for c.n.Load() < want {
		select {
		case <-c.progress:
		case <-ctx.Done():
			return fmt.Errorf("%d of %d deliveries recorded sent: %w", c.n.Load(), want, ctx.Err())
		}
	}
	return nil
}

// benchRSS returns the resident set size in MiB that a /proc status file
// such as /proc/self/status reports.
func benchRSS(tb testing.TB, statusPath string) float64 {
	tb.Helper()
	f, err := os.Open(statusPath)
	if err != nil {
		tb.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "VmRSS:"); ok {
			kb, err := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 64)
			if err != nil {
				tb.Fatalf("%s: VmRSS %q: %v", statusPath, v, err)
			}
			return kb / 1024
		}
	}
	tb.Fatalf("%s has no VmRSS line", statusPath)
	return 0
}

// benchHeap collects garbage and returns the Go heap in use in MiB.
func benchHeap() float64 {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return float64(ms.HeapInuse) / (1 << 20)
}

// benchCommits reads the store's group-commit figures from reg: how many
// transactions it committed, the seconds they took in all, and the events
// they wrote.
type benchCommits struct {
	count   uint64
	seconds float64
	events  float64
}

func benchReadCommits(tb testing.TB, reg prometheus.Gatherer) benchCommits {
	tb.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		tb.Fatal(err)
	}
	var c benchCommits
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			switch mf.GetName() {
			case "relay_store_commit_seconds":
				c.count, c.seconds = m.GetHistogram().GetSampleCount(), m.GetHistogram().GetSampleSum()
			case "relay_store_commit_events":
				c.events = m.GetHistogram().GetSampleSum()
			}
		}
	}
	if c.count == 0 {
		tb.Fatal("the store reported no commits")
	}
	return c
}

// report reports the commits made since before, per benchmark iteration.
func (c benchCommits) report(b *testing.B, before benchCommits) {
	n := float64(c.count - before.count)
	b.ReportMetric(n/float64(b.N), "commits/op")
	b.ReportMetric((c.events-before.events)/n, "events/commit")
	b.ReportMetric((c.seconds-before.seconds)/n*1000, "commit_ms")
}

// BenchmarkFanOut10k measures one node fanning a message out to 10,000
// people on sms and email, whose providers accept at once without a rate
// limit. Each iteration posts one message to everyone and waits until the
// store holds all 20,000 deliveries as sent; deliveries/s is their rate
// from the post on, and post_ms the time Post took to make the message
// durable. The engine runs with its defaults (16 workers per channel), as
// a node whose configuration leaves delivery.workers unset. commits/op,
// events/commit and commit_ms describe the store's group commits during
// the fan-out, which bound its rate.
//
// It also reports the resident memory of the process with the node
// started and idle (its roster loaded) and after the fan-outs settled,
// and the Go heap in use after a collection at both points. The process
// is the test binary, so the figures include the benchmark's own roster;
// run it with -count 1, as later runs start on the heap earlier ones left.
func BenchmarkFanOut10k(b *testing.B) {
	const people = 10_000
	const perMessage = 2 * people
	testkit.NoLeaks(b)

	sms, mail := &testkit.Sender{CountOnly: true}, &testkit.Sender{CountOnly: true}
	reg := prometheus.NewRegistry()
	n, err := node.Open(node.Options{
		Name:    "bench-1",
		DataDir: b.TempDir(),
		Providers: []delivery.Provider{
			{Name: "sms-instant", Channel: relay.ChannelSMS, Sender: sms},
			{Name: "email-instant", Channel: relay.ChannelEmail, Sender: mail},
		},
		Deadline:   func(relay.Severity) time.Duration { return time.Hour },
		Roster:     benchRoster(people),
		Registerer: reg,
	})
	if err != nil {
		b.Fatal(err)
	}
	sent := &benchSentCounter{progress: make(chan struct{}, 1)}
	n.Store().Observe(sent.observe)
	b.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := n.Close(ctx); err != nil {
			b.Errorf("close node: %v", err)
		}
	})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	if err := n.Start(ctx); err != nil {
		b.Fatal(err)
	}
	rssIdle, heapIdle := benchRSS(b, "/proc/self/status"), benchHeap()
	commits := benchReadCommits(b, reg)

	var posting time.Duration
	b.ResetTimer()
	for i := range b.N {
		start := time.Now()
		acc, err := n.Post(ctx, &relay.Post{Incident: "idc-fire", Text: "전사 공지: 서울 IDC 화재, 판교로 전환 중",
			To: []string{relay.TargetEveryone}, Severity: relay.SeverityCritical}, node.Author{Name: "bench"}, "")
		if err != nil {
			b.Fatal(err)
		}
		posting += time.Since(start)
		if err := sent.wait(ctx, int64((i+1)*perMessage)); err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		counts, err := n.Store().Counts(acc.Message.ID)
		if err != nil {
			b.Fatal(err)
		}
		if counts[relay.StatusSent] != perMessage || len(counts) != 1 {
			b.Fatalf("message %d: deliveries by status %v, want %d sent", i, counts, perMessage)
		}
		b.StartTimer()
	}
	b.StopTimer()
	elapsed := b.Elapsed()

	if got, want := sms.Count()+mail.Count(), b.N*perMessage; got != want {
		b.Fatalf("providers accepted %d attempts, want %d", got, want)
	}
	benchReadCommits(b, reg).report(b, commits)
	b.ReportMetric(float64(b.N*perMessage)/elapsed.Seconds(), "deliveries/s")
	b.ReportMetric(float64(posting.Microseconds())/1000/float64(b.N), "post_ms")
	b.ReportMetric(rssIdle, "rss_idle_MiB")
	b.ReportMetric(benchRSS(b, "/proc/self/status"), "rss_after_MiB")
	b.ReportMetric(heapIdle, "heap_idle_MiB")
	b.ReportMetric(benchHeap(), "heap_after_MiB")
}
