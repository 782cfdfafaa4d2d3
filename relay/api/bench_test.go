package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/oob-relay/relay/internal/testkit"
	"github.com/oob-relay/relay/relay"
	"github.com/oob-relay/relay/relay/api"
	"github.com/oob-relay/relay/relay/delivery"
	"github.com/oob-relay/relay/relay/node"
	"github.com/oob-relay/relay/relay/secret"
)

const (
	benchToken = "relay-bench-token-6e2b9d4a1c"
	// benchParallelism multiplies GOMAXPROCS into the number of clients
	// posting at once in the parallel case: 16 on a two-core machine.
	benchParallelism = 8
	// The roster has benchRosterSize people; group oncall holds the first
	// benchGroupSize, each reached on sms and email.
	benchGroupSize   = 5
	benchDeliveries  = 2 * benchGroupSize
	benchRosterSize  = 10
	benchPostPayload = `{"incident":"db-outage","text":"DB 장애: 결제 지연, 당직자 확인 바랍니다","to":["group:oncall"],"severity":"critical"}`
)

// benchNode is a node with instant providers served over loopback HTTP.
type benchNode struct {
	node     *node.Node
	reg      *prometheus.Registry
	url      string
	client   *http.Client
	sms      *testkit.Sender
	mail     *testkit.Sender
	sent     atomic.Int64 // delivery changes recorded sent
	progress chan struct{}
}

// benchStart opens and starts a node in a temporary directory, serves its
// API and returns it with a keep-alive client; all of it ends with b.
func benchStart(b *testing.B) *benchNode {
	b.Helper()
	r := &relay.Roster{Groups: []relay.Group{{ID: "oncall", Name: "DB 당직"}}}
	for i := range benchRosterSize {
		id := fmt.Sprintf("p%02d", i)
		r.People = append(r.People, relay.Person{ID: id, Name: fmt.Sprintf("직원 %d", i),
			Phone: fmt.Sprintf("+82100000%04d", i), Email: id + "@example.com"})
		if i < benchGroupSize {
			r.Groups[0].Members = append(r.Groups[0].Members, id)
		}
	}
	bn := &benchNode{sms: &testkit.Sender{CountOnly: true}, mail: &testkit.Sender{CountOnly: true}, reg: prometheus.NewRegistry(),
		progress: make(chan struct{}, 1)}
	n, err := node.Open(node.Options{
		Name:    "bench-1",
		DataDir: b.TempDir(),
		Providers: []delivery.Provider{
			{Name: "sms-instant", Channel: relay.ChannelSMS, Sender: bn.sms},
			{Name: "email-instant", Channel: relay.ChannelEmail, Sender: bn.mail},
		},
		Deadline:   func(relay.Severity) time.Duration { return time.Hour },
		Roster:     r,
		Registerer: bn.reg,
	})
	if err != nil {
		b.Fatal(err)
	}
	bn.node = n
	n.Store().Observe(bn.observe)
	b.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := n.Close(ctx); err != nil {
			b.Errorf("close node: %v", err)
		}
	})
	if err := n.Start(context.Background()); err != nil {
		b.Fatal(err)
	}
	h, err := api.New(api.Options{Node: n, Tokens: []api.Token{
		{Name: "bench-bot", Role: relay.RoleBot, Secret: secret.New(benchToken)},
	}, Limits: unlimited})
	if err != nil {
		b.Fatal(err)
	}
	srv := httptest.NewServer(h)
	b.Cleanup(srv.Close)
	bn.url = srv.URL + "/v1/messages"
	tr := &http.Transport{MaxIdleConnsPerHost: 256}
	bn.client = &http.Client{Transport: tr, Timeout: 30 * time.Second}
	b.Cleanup(tr.CloseIdleConnections)
	return bn
}

// observe counts delivery changes recorded sent.
func (bn *benchNode) observe(events []relay.Event) {
	k := 0
	for i := range events {
		for j := range events[i].Deliveries {
			if events[i].Deliveries[j].Status == relay.StatusSent {
				k++
			}
		}
	}
	if k > 0 {
		bn.sent.Add(int64(k))
		select {
		case bn.progress <- struct{}{}:
		default:
		}
	}
}

// post makes one POST /v1/messages and returns how long it took until the
// answer was read, and the accepted message's id.
func (bn *benchNode) post(body []byte) (time.Duration, string, error) {
	req, err := http.NewRequest(http.MethodPost, bn.url, bytes.NewReader(body))
	if err != nil {
		return 0, "", err
	}
	req.Header.Set("Authorization", "Bearer "+benchToken)
	req.Header.Set("Content-Type", "application/json")
	start := time.Now()
	resp, err := bn.client.Do(req)
	if err != nil {
		return 0, "", err
	}
	raw, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	took := time.Since(start)
	if err != nil {
		return 0, "", err
	}
	if resp.StatusCode != http.StatusAccepted {
		return 0, "", fmt.Errorf("POST /v1/messages: %s: %s", resp.Status, raw)
	}
	var acc api.Accepted
	if err := json.Unmarshal(raw, &acc); err != nil {
		return 0, "", err
	}
	if acc.Deliveries != benchDeliveries {
		return 0, "", fmt.Errorf("message %s has %d deliveries, want %d", acc.ID, acc.Deliveries, benchDeliveries)
	}
	return took, acc.ID, nil
}

// settle waits until every delivery of the messages in ids is recorded
// sent, and checks it in the store, so the figures are those of a node
// that really delivered what it accepted.
func (bn *benchNode) settle(b *testing.B, ids []string) {
	b.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	want := int64(len(ids) * benchDeliveries)
	for bn.sent.Load() < want {
		select {
		case <-bn.progress:
		case <-ctx.Done():
			b.Fatalf("%d of %d deliveries recorded sent: %v", bn.sent.Load(), want, ctx.Err())
		}
	}
	if got := int64(bn.sms.Count() + bn.mail.Count()); got != want {
		b.Fatalf("providers accepted %d attempts, want %d", got, want)
	}
	for _, id := range ids {
		c, err := bn.node.Store().Counts(id)
		if err != nil {
			b.Fatal(err)
		}
		if c[relay.StatusSent] != benchDeliveries || len(c) != 1 {
			b.Fatalf("message %s: deliveries by status %v, want %d sent", id, c, benchDeliveries)
		}
	}
}

// commitFigures returns how many transactions the node's store has
// committed and the events they wrote.
func (bn *benchNode) commitFigures(b *testing.B) [2]float64 {
	b.Helper()
	mfs, err := bn.reg.Gather()
	if err != nil {
		b.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == "relay_store_commit_events" {
			h := mf.GetMetric()[0].GetHistogram()
			return [2]float64{float64(h.GetSampleCount()), h.GetSampleSum()}
		}
	}
	b.Fatal("the store reports no relay_store_commit_events")
	return [2]float64{}
}

// benchReport reports the latency percentiles of one request in ms, the
// requests per second, and the store's commits per request and events per
// commit while the requests went on (the engine's included) from the
// commit counts before and after.
func benchReport(b *testing.B, took []time.Duration, elapsed time.Duration, before, after [2]float64) {
	commits := after[0] - before[0]
	b.ReportMetric(commits/float64(len(took)), "commits/op")
	b.ReportMetric((after[1]-before[1])/commits, "events/commit")
	slices.Sort(took)
	at := func(q float64) float64 {
		i := min(int(q*float64(len(took))), len(took)-1)
		return float64(took[i].Microseconds()) / 1000
	}
	b.ReportMetric(at(0.50), "p50_ms")
	b.ReportMetric(at(0.99), "p99_ms")
	b.ReportMetric(at(0.999), "p999_ms")
	b.ReportMetric(float64(len(took))/elapsed.Seconds(), "req/s")
}

// BenchmarkAcceptLatency measures POST /v1/messages on one node: a real
// node whose store fsyncs each commit, its API on a loopback HTTP server,
// and a keep-alive client. Each request posts one message to a group of
// five people on sms and email; the API answers 202 once the message is
// on disk. The providers accept at once, but the engine really claims,
// sends and records every delivery while the posts go on, and the
// benchmark checks all of them ended sent.
//
// serial posts one request at a time, so ns/op is the mean latency.
// parallel posts from GOMAXPROCS×8 clients at once; the store commits
// the messages that arrive together in one transaction, so ns/op (wall
// time per accepted message) should fall well below serial's. Both report
// p50_ms, p99_ms and p999_ms of single requests, req/s, and the store's
// commits per request and events per commit while the requests went on,
// the engine's writes included.
func BenchmarkAcceptLatency(b *testing.B) {
	body := []byte(benchPostPayload)
	b.Run("serial", func(b *testing.B) {
		bn := benchStart(b)
		took := make([]time.Duration, 0, b.N)
		ids := make([]string, 0, b.N)
		before := bn.commitFigures(b)
		b.ResetTimer()
		for range b.N {
			d, id, err := bn.post(body)
			if err != nil {
				b.Fatal(err)
			}
			took, ids = append(took, d), append(ids, id)
		}
		b.StopTimer()
		benchReport(b, took, b.Elapsed(), before, bn.commitFigures(b))
		bn.settle(b, ids)
	})
	b.Run("parallel", func(b *testing.B) {
		bn := benchStart(b)
		var (
			mu   sync.Mutex
			took = make([]time.Duration, 0, b.N)
			ids  = make([]string, 0, b.N)
		)
		b.SetParallelism(benchParallelism)
		before := bn.commitFigures(b)
		b.ResetTimer()
		b.RunParallel(func(pb *testing.PB) {
			var myTook []time.Duration
			var myIDs []string
			defer func() {
				mu.Lock()
				took, ids = append(took, myTook...), append(ids, myIDs...)
				mu.Unlock()
			}()
			for pb.Next() {
				d, id, err := bn.post(body)
				if err != nil {
					b.Error(err)
					return
				}
				myTook, myIDs = append(myTook, d), append(myIDs, id)
			}
		})
		b.StopTimer()
		after := bn.commitFigures(b)
		if b.Failed() {
			return
		}
		benchReport(b, took, b.Elapsed(), before, after)
		bn.settle(b, ids)
	})
}
