package node_test

import (
	"context"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/oob-relay/relay/channels/twilio/emulator"
	"github.com/oob-relay/relay/internal/testkit"
	"github.com/oob-relay/relay/relay"
	"github.com/oob-relay/relay/relay/node"
)

// BenchmarkProviderOutageFailover measures how a node moves a steady SMS
// stream from provider A to provider B when A fails: "5xx" has A answer
// 503 to every request, "down" takes A off the network so connections are
// refused. The node runs with the engine's defaults (16 workers, 30 s
// attempt timeout, backoff from one second); the stream posts a message
// every 10 ms (fewer when a post takes longer), each to one of 200
// people, with receipts on.
//
// ms/failover is the time from the outage to the first delivery B
// accepted; A_attempts_after_outage counts attempts started on A after
// the outage, over a window of two seconds of stream and until every
// delivery settled. Every delivery must settle sent or delivered: none
// may be lost to the outage.
func BenchmarkProviderOutageFailover(b *testing.B) {
	for _, bc := range []struct {
		name   string
		outage func(*rig)
	}{
		{"5xx", func(r *rig) { r.a().em.RandomFailures(1) }},
		{"down", func(r *rig) { r.a().down() }},
	} {
		b.Run(bc.name, func(b *testing.B) {
			testkit.NoLeaks(b)
			var failover time.Duration
			var afterA, retried int
			for range b.N {
				res := runOutage(b, bc.outage)
				failover += res.failover
				afterA += res.attemptsOnA
				retried += res.retried
			}
			b.ReportMetric(float64(failover.Microseconds())/1000/float64(b.N), "ms/failover")
			b.ReportMetric(float64(afterA)/float64(b.N), "A_attempts_after_outage")
			b.ReportMetric(float64(retried)/float64(b.N), "retried_on_B")
		})
	}
}

// outageResult is what one outage run measured.
type outageResult struct {
	failover    time.Duration
	attemptsOnA int
	// retried counts deliveries that failed on A and were then carried
	// by B.
	retried int
}

// outageWindow is how long the stream goes on after the outage.
const outageWindow = 2 * time.Second

func runOutage(b *testing.B, outage func(*rig)) outageResult {
	b.StopTimer()
	const people = 200
	var ppl []relay.Person
	for i := range people {
		ppl = append(ppl, rigPerson(i, relay.ChannelSMS))
	}
	r := startRig(b, rigOptions{People: ppl, Deadline: time.Hour})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	// The stream: one message every 10 ms until stop is closed.
	stop := make(chan struct{})
	var wg sync.WaitGroup
	var mu sync.Mutex
	var ids []string
	var postErr error
	wg.Add(1)
	go func() {
		defer wg.Done()
		tick := time.NewTicker(10 * time.Millisecond)
		defer tick.Stop()
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			case <-tick.C:
			}
			p := ppl[i%people].ID
			acc, err := r.node.Post(ctx, &relay.Post{Incident: "idc-fire", Text: "판교 센터 전환 진행 상황 안내",
				To: []string{"person:" + p}, Severity: relay.SeverityCritical, Channels: []string{relay.ChannelSMS}},
				node.Author{Name: "stream"}, "")
			mu.Lock()
			if err != nil {
				postErr = err
				mu.Unlock()
				return
			}
			ids = append(ids, relay.DeliveryID(acc.Message.ID, relay.ChannelSMS, p))
			mu.Unlock()
		}
	}()
	stopStream := sync.OnceFunc(func() { close(stop); wg.Wait() })
	defer stopStream()

	// Warm up: the stream flows through A.
	count := func(match func(relay.DeliveryChange) bool) int {
		n := 0
		for _, cs := range r.hist.all() {
			for _, c := range cs {
				if match(c) {
					n++
				}
			}
		}
		return n
	}
	if err := r.hist.wait(ctx, func() bool {
		return count(func(c relay.DeliveryChange) bool { return c.Status == relay.StatusSent && c.Provider == "twilio-a" }) >= 50
	}, func() string { return "the stream never flowed through A" }); err != nil {
		b.Fatal(err)
	}

	b.StartTimer()
	t0 := time.Now()
	outage(r)
	var tB time.Time
	if err := r.hist.wait(ctx, func() bool {
		for _, cs := range r.hist.all() {
			for _, c := range cs {
				if c.Status == relay.StatusSent && c.Provider == "twilio-b" && (tB.IsZero() || c.At.Before(tB)) {
					tB = c.At
				}
			}
		}
		return !tB.IsZero()
	}, func() string { return "no delivery carried by B after the outage" }); err != nil {
		b.Fatal(err)
	}
	b.StopTimer()

	// Keep streaming through the window, then let every delivery settle.
	window := time.NewTimer(time.Until(t0.Add(outageWindow)))
	select {
	case <-window.C:
	case <-ctx.Done():
	}
	window.Stop()
	stopStream()
	mu.Lock()
	all, err := append([]string(nil), ids...), postErr
	mu.Unlock()
	if err != nil {
		b.Fatalf("posting the stream: %v", err)
	}
	if err := r.hist.wait(ctx, func() bool {
		for _, id := range all {
			if !r.delivery(id).Status.Settled() {
				return false
			}
		}
		return true
	}, func() string { return "deliveries still open after the outage" }); err != nil {
		b.Fatal(err)
	}

	res := outageResult{failover: tB.Sub(t0)}
	for _, id := range all {
		d := r.delivery(id)
		if d.Status == relay.StatusFailed {
			b.Errorf("delivery %s failed: %s", id, d.Error)
		}
	}
	for _, cs := range r.hist.all() {
		failedOnA := false
		for _, c := range cs {
			if c.Status == relay.StatusSending && c.Provider == "twilio-a" && !c.At.Before(t0) {
				res.attemptsOnA++
			}
			if c.Status == relay.StatusPending && c.Provider == "twilio-a" {
				failedOnA = true
			}
			if failedOnA && c.Status == relay.StatusSent && c.Provider == "twilio-b" {
				res.retried++
			}
		}
	}
	r.checkLogs(b)
	b.Logf("%d deliveries; B took over %v after the outage; %d attempts started on A after it; %d retried on B",
		len(all), res.failover, res.attemptsOnA, res.retried)
	return res
}

// BenchmarkTemporaryFailures30 sends one critical SMS to 1,000 people
// through one Twilio account that fails 30% of requests with temporary
// errors: 15% 429 Too Many Requests with Retry-After 1s and 15% 503. The
// node runs with the engine's defaults; the message deadline is 20 s,
// which the default backoff (1 s, doubling, ±20%) fills with five
// attempts.
//
// delivered_% is the share of people whose receipt said delivered before
// the deadline (target 100); accepted_% the share Twilio accepted at
// all, whether or not its receipt was recorded. attempts/delivery is the
// mean attempts per person, fault_% the share of requests the emulator
// failed, stale_receipts the receipts the node dropped as being about an
// attempt it had not recorded yet, and s/settle the time until every
// delivery settled.
func BenchmarkTemporaryFailures30(b *testing.B) {
	testkit.NoLeaks(b)
	const people = 1000
	const deadline = 20 * time.Second
	var ppl []relay.Person
	for i := range people {
		ppl = append(ppl, rigPerson(i, relay.ChannelSMS))
	}
	var delivered, accepted, attempts, requests, faults, stale int
	var settle time.Duration
	for i := range b.N {
		b.StopTimer()
		mix := &rateLimitMix{rng: rand.New(rand.NewPCG(uint64(i), 30)), share: 0.15}
		r := startRig(b, rigOptions{Accounts: 1, People: ppl, Deadline: deadline, Wrap: mix.wrap, LogLevel: slog.LevelInfo})
		// 503 answers the requests the 429s leave: 15% of all.
		r.a().em.RandomFailures(0.15 / 0.85)
		ctx, cancel := context.WithTimeout(context.Background(), deadline+20*time.Second)
		ids := make([]string, people)
		b.StartTimer()

		start := time.Now()
		m := r.post(ctx, "전 직원 안부 확인: 안전하면 1을 회신하세요.", relay.ChannelSMS, personIDs(ppl)...)
		for j, p := range ppl {
			ids[j] = relay.DeliveryID(m.ID, relay.ChannelSMS, p.ID)
		}
		if err := r.hist.wait(ctx, func() bool {
			for _, id := range ids {
				if !r.delivery(id).Status.Settled() {
					return false
				}
			}
			return true
		}, func() string { return "deliveries still open" }); err != nil {
			b.Fatal(err)
		}
		settle += time.Since(start)
		b.StopTimer()

		// Let the emulator post every receipt of what it accepted, so the
		// count below sees all that arrived.
		em := r.a().em
		for _, msg := range em.Messages() {
			if _, err := em.WaitMessage(ctx, msg.SID, func(m emulator.Message) bool { return m.Callbacks >= 2 }); err != nil {
				b.Fatalf("message %s: receipts not posted: %v", msg.SID, err)
			}
		}
		sent := 0
		for _, id := range ids {
			d := r.delivery(id)
			attempts += d.Attempts
			if d.ProviderID != "" {
				sent++
			}
			if d.Status == relay.StatusDelivered && d.UpdatedAt.Before(m.Deadline) {
				delivered++
			}
		}
		if n := len(em.Messages()); n != sent {
			b.Errorf("the emulator accepted %d messages for %d deliveries sent", n, sent)
		}
		accepted += sent
		requests += em.Requests()
		faults += em.Requests() - len(em.Messages())
		stale += r.staleReceipts()
		r.checkLogs(b)
		cancel()
	}
	total := float64(b.N * people)
	b.ReportMetric(100*float64(delivered)/total, "delivered_%")
	b.ReportMetric(100*float64(accepted)/total, "accepted_%")
	b.ReportMetric(float64(attempts)/total, "attempts/delivery")
	b.ReportMetric(100*float64(faults)/float64(requests), "fault_%")
	b.ReportMetric(float64(stale)/float64(b.N), "stale_receipts")
	b.ReportMetric(settle.Seconds()/float64(b.N), "s/settle")
}

// rateLimitMix stands in front of an emulator and, for a share of
// requests, scripts a 429 with Retry-After 1s for the next one, so that
// the emulator answers it in Twilio's own form.
type rateLimitMix struct {
	mu    sync.Mutex
	rng   *rand.Rand
	share float64
}

func (m *rateLimitMix) wrap(em *emulator.Emulator, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		m.mu.Lock()
		hit := m.rng.Float64() < m.share
		m.mu.Unlock()
		if hit {
			em.RateLimitNext(1, time.Second)
		}
		next.ServeHTTP(w, r)
	})
}

func personIDs(ps []relay.Person) []string {
	out := make([]string, len(ps))
	for i, p := range ps {
		out[i] = p.ID
	}
	return out
}
