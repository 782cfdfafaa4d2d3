package node_test

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/oob-relay/relay/internal/testkit"
	"github.com/oob-relay/relay/relay"
	"github.com/oob-relay/relay/relay/delivery"
	"github.com/oob-relay/relay/relay/node"
)

// answerArrivals records, per node, when each answer to one roll-call
// was folded there, from a store observer.
type answerArrivals struct {
	mu    sync.Mutex
	id    string
	at    []map[string]time.Time // by node, then person
	done  chan struct{}
	want  int
	count int
}

func (a *answerArrivals) observer(i int) func([]relay.Event) {
	return func(evs []relay.Event) {
		now := time.Now()
		a.mu.Lock()
		defer a.mu.Unlock()
		for j := range evs {
			ans := evs[j].RollCallAnswer
			if ans == nil || ans.RollCall != a.id {
				continue
			}
			if _, ok := a.at[i][ans.Person]; ok {
				continue
			}
			a.at[i][ans.Person] = now
			if a.count++; a.count == a.want {
				close(a.done)
			}
		}
	}
}

// BenchmarkRollCall10k runs a roll-call of 10,000 people on three nodes
// in one process, joined by memberlist on loopback, whose SMS and email
// providers accept at once. Each iteration starts a roll-call on the
// first node and has every person answer through one of the three
// nodes (32 answers in flight), as webhooks spread over a cluster would.
// It reports, for each answer, the time from its being folded on the
// node that took it to its being folded on the last of the three
// (spread_p50_ms, spread_p99_ms, spread_max_ms); the time from the last
// answer folded anywhere to every node holding all 10,000
// (last_to_complete_ms); the rate of answers taken (answers/s); how long
// a node takes to count the tally (tally_ms, checked to be alike on the
// three nodes); and the Go heap after a collection and the resident
// memory, of the whole process (three nodes) holding the roll-calls.
// Run it with -benchtime 1x: each iteration is a whole roll-call.
func BenchmarkRollCall10k(b *testing.B) {
	const people = 10_000
	testkit.NoLeaks(b)
	roster := benchRoster(people)
	var ms []*member
	seed := ""
	for i := range 3 {
		name := fmt.Sprintf("rc-%c", 'a'+i)
		m := startMemberWith(b, name, seed, nil, node.Options{
			Providers: []delivery.Provider{
				{Name: "sms-" + name, Channel: relay.ChannelSMS, Sender: &testkit.Sender{CountOnly: true}},
				{Name: "email-" + name, Channel: relay.ChannelEmail, Sender: &testkit.Sender{CountOnly: true}},
			},
			Deadline: func(relay.Severity) time.Duration { return time.Hour },
			Roster:   roster,
		})
		if seed == "" {
			seed = m.ms.LocalAddr()
		}
		ms = append(ms, m)
	}
	settleMembership(b, ms...)
	rssIdle, heapIdle := benchRSS(b, "/proc/self/status"), benchHeap()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()

	var spreads []time.Duration
	var complete, taking, tallying time.Duration
	var cur atomic.Pointer[answerArrivals]
	for i := range ms {
		ms[i].n.Store().Observe(func(evs []relay.Event) {
			if a := cur.Load(); a != nil {
				a.observer(i)(evs)
			}
		})
	}
	b.ResetTimer()
	for it := range b.N {
		b.StopTimer()
		st, err := ms[0].n.StartRollCall(ctx, &relay.RollCallStart{Incident: fmt.Sprintf("bench-%d", it), Question: "판교 화재. 안전하면 1, 도움이 필요하면 2",
			Options: []relay.RollCallOption{{Digit: 1, Label: "안전"}, {Digit: 2, Label: "도움 필요"}},
			To:      []string{relay.TargetEveryone}, Until: "2h"}, node.Author{Name: "bench", Via: relay.ViaAPI}, "")
		if err != nil {
			b.Fatal(err)
		}
		id := st.RollCall.ID
		testkit.Eventually(b, time.Minute, "the roll-call on every node", func() bool {
			for _, m := range ms {
				if _, err := m.n.Store().RollCall(id); err != nil {
					return false
				}
			}
			return true
		})
		arr := &answerArrivals{id: id, at: []map[string]time.Time{{}, {}, {}}, done: make(chan struct{}), want: 3 * people}
		cur.Store(arr)
		b.StartTimer()

		start := time.Now()
		work := make(chan int)
		var wg sync.WaitGroup
		errs := make(chan error, 32)
		for range 32 {
			wg.Go(func() {
				for p := range work {
					n := ms[p%3].n
					if _, err := n.AnswerRollCall(ctx, id, fmt.Sprintf("p%05d", p), 1+p%2, relay.ChannelSMS, ""); err != nil {
						select {
						case errs <- err:
						default:
						}
					}
				}
			})
		}
		for p := range people {
			work <- p
		}
		close(work)
		wg.Wait()
		taking += time.Since(start)
		select {
		case err := <-errs:
			b.Fatal(err)
		default:
		}
		select {
		case <-arr.done:
		case <-ctx.Done():
			b.Fatalf("answers folded: %d of %d", arr.count, arr.want)
		}
		b.StopTimer()
		arr.mu.Lock()
		var last, done time.Time
		for p := range people {
			person := fmt.Sprintf("p%05d", p)
			first, end := arr.at[p%3][person], time.Time{}
			for i := range ms {
				end = maxTime(end, arr.at[i][person])
			}
			spreads = append(spreads, end.Sub(first))
			last, done = maxTime(last, first), maxTime(done, end)
		}
		arr.mu.Unlock()
		complete += done.Sub(last)

		var tallies []*relay.Tally
		for _, m := range ms {
			t0 := time.Now()
			tl, err := m.n.RollCallTally(id)
			if err != nil {
				b.Fatal(err)
			}
			tallying += time.Since(t0)
			if tl.Answered != people || tl.Options[0].Count != people/2 || tl.Options[1].Count != people/2 {
				b.Fatalf("tally on %s: answered %d, options %+v", m.n.Name(), tl.Answered, tl.Options)
			}
			tallies = append(tallies, tl)
		}
		for _, tl := range tallies[1:] {
			if !slices.EqualFunc(tl.People, tallies[0].People, func(x, y relay.RollCallPerson) bool {
				return x.Person == y.Person && x.Digit == y.Digit && x.At.Equal(y.At)
			}) {
				b.Fatal("the nodes' tallies differ")
			}
		}
		b.StartTimer()
	}
	b.StopTimer()
	slices.Sort(spreads)
	pct := func(q float64) float64 {
		return float64(spreads[int(q*float64(len(spreads)-1))].Microseconds()) / 1000
	}
	b.ReportMetric(pct(0.5), "spread_p50_ms")
	b.ReportMetric(pct(0.99), "spread_p99_ms")
	b.ReportMetric(pct(1), "spread_max_ms")
	b.ReportMetric(float64(complete.Microseconds())/1000/float64(b.N), "last_to_complete_ms")
	b.ReportMetric(float64(b.N*people)/taking.Seconds(), "answers/s")
	b.ReportMetric(float64(tallying.Microseconds())/1000/float64(3*b.N), "tally_ms")
	b.ReportMetric(rssIdle, "rss_idle_MiB")
	b.ReportMetric(benchRSS(b, "/proc/self/status"), "rss_after_MiB")
	b.ReportMetric(heapIdle, "heap_idle_MiB")
	b.ReportMetric(benchHeap(), "heap_after_MiB")
}

func maxTime(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}
