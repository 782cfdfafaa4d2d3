package node_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/oob-relay/relay/internal/testkit"
	"github.com/oob-relay/relay/relay"
	"github.com/oob-relay/relay/relay/node"
	"github.com/oob-relay/relay/relay/store"
)

// writeHistory fills a store in dir with messages fan-outs to people
// people by SMS and email, every delivery settled as fan-outs end (SMS
// delivered with a Twilio-like SID, mail sent with a Message-ID), their
// deadlines passed a day ago. It returns the deliveries written.
func writeHistory(b *testing.B, dir string, messages, people int) int {
	b.Helper()
	st, err := store.Open(store.Options{Dir: dir, Node: "node-a"})
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	ctx := context.Background()
	accepted := time.Now().Add(-48 * time.Hour).UTC()
	n := 0
	for i := range messages {
		m := &relay.Message{ID: fmt.Sprintf("01HISTORY%017d", i), Incident: fmt.Sprintf("drill-%03d", i/5),
			Text: "분기 비상 연락 훈련: 안전하면 1을 눌러 주세요", Severity: relay.SeverityCritical, Author: "ops-bot",
			To: []string{"group:all"}, AcceptedAt: accepted, AcceptedBy: "node-a", Deadline: accepted.Add(24 * time.Hour)}
		for p := range people {
			m.Recipients = append(m.Recipients, relay.Recipient{Person: relay.Person{ID: fmt.Sprintf("p%05d", p),
				Name: fmt.Sprintf("직원 %d", p), Phone: fmt.Sprintf("+8210%08d", p), Email: fmt.Sprintf("p%05d@example.com", p)},
				Channels: []string{relay.ChannelSMS, relay.ChannelEmail}})
		}
		if _, err := st.Append(ctx, relay.Event{Message: m}); err != nil {
			b.Fatal(err)
		}
		var claims, results []relay.DeliveryChange
		for j, ref := range m.Deliveries() {
			at := accepted.Add(time.Duration(j) * time.Millisecond)
			claims = append(claims, relay.DeliveryChange{ID: ref.ID, Status: relay.StatusSending, Attempt: 1,
				Provider: "twilio-seoul", Owner: "node-a", At: at})
			r := relay.DeliveryChange{ID: ref.ID, Status: relay.StatusDelivered, Attempt: 1, Provider: "twilio-seoul",
				ProviderID: fmt.Sprintf("SM%032x", i*people*2+j), Segments: 2, Owner: "node-a", At: at.Add(2 * time.Second)}
			if ref.Channel == relay.ChannelEmail {
				r.Status, r.Provider, r.Segments = relay.StatusSent, "smtp-seoul", 0
				r.ProviderID = fmt.Sprintf("<%s@relay.example.com>", ref.ID)
			}
			results = append(results, r)
		}
		for _, ch := range [][]relay.DeliveryChange{claims, results} {
			if _, err := st.Append(ctx, relay.Event{Deliveries: ch}); err != nil {
				b.Fatal(err)
			}
		}
		n += len(claims)
	}
	return n
}

// upkeepAll does what upkeep does to settled history that every peer
// holds: packs it, truncates the log and rewrites the file.
func upkeepAll(b *testing.B, st *store.Store) {
	b.Helper()
	ctx := context.Background()
	if _, err := st.Pack(ctx, time.Now()); err != nil {
		b.Fatal(err)
	}
	marks, _ := st.Marks()
	if _, err := st.TruncateLog(ctx, marks, time.Now().Add(time.Hour)); err != nil {
		b.Fatal(err)
	}
	if _, _, err := st.CompactFile(ctx); err != nil {
		b.Fatal(err)
	}
}

// BenchmarkHistoryAtRest measures the bytes a node's store holds per
// settled delivery: with its log and the deliveries' own records, and
// after upkeep packed the settled messages, truncated the log (every
// peer holds it) and rewrote the file. 20 fan-outs to 2,000 people by SMS
// and email (80,000 deliveries). It reports B/delivery_before and
// B/delivery_after (target 300 or less).
func BenchmarkHistoryAtRest(b *testing.B) {
	const messages, people = 20, 2000
	for b.Loop() {
		b.StopTimer()
		dir := b.TempDir()
		n := writeHistory(b, dir, messages, people)
		st, err := store.Open(store.Options{Dir: dir, Node: "node-a"})
		if err != nil {
			b.Fatal(err)
		}
		before, err := st.Stats()
		if err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		upkeepAll(b, st)
		b.StopTimer()
		after, err := st.Stats()
		if err != nil {
			b.Fatal(err)
		}
		st.Close()
		b.ReportMetric(float64(before.Bytes)/float64(n), "B/delivery_before")
		b.ReportMetric(float64(after.Bytes)/float64(n), "B/delivery_after")
		b.StartTimer()
	}
}

// BenchmarkCatchUpMillion measures how long a node with an empty data
// dir takes to catch up with a peer that holds a million deliveries of
// history (50 fan-outs to 10,000 people by SMS and email), packed, its log
// truncated: from the moment both run until the new node holds what the
// other does, over real memberlist on loopback. It reports seconds and the
// snapshot's size in MiB.
func BenchmarkCatchUpMillion(b *testing.B) {
	const messages, people = 50, 10000
	for b.Loop() {
		b.StopTimer()
		dir := b.TempDir()
		writeHistory(b, dir, messages, people)
		st, err := store.Open(store.Options{Dir: dir, Node: "node-a"})
		if err != nil {
			b.Fatal(err)
		}
		upkeepAll(b, st)
		size, _ := st.Stats()
		st.Close()
		opts := func() node.Options {
			return node.Options{Deadline: func(relay.Severity) time.Duration { return time.Hour }}
		}
		aOpts := opts()
		aOpts.DataDir = dir
		a := startMemberWith(b, "node-a", "", nil, aOpts)
		want, _ := a.n.Store().Marks()
		b.StartTimer()
		start := time.Now()
		d := startMemberWith(b, "node-d", a.ms.LocalAddr(), nil, opts())
		testkit.Eventually(b, 5*time.Minute, "node-d holds node-a's history", func() bool {
			got, _ := d.n.Store().Marks()
			for o, m := range want {
				if got[o] < m {
					return false
				}
			}
			return true
		})
		took := time.Since(start)
		b.StopTimer()
		ds, err := d.n.Store().Deliveries(fmt.Sprintf("01HISTORY%017d", messages-1))
		if err != nil || len(ds) != 2*people {
			b.Fatalf("node-d holds %d deliveries of the last message, %v; want %d", len(ds), err, 2*people)
		}
		b.ReportMetric(took.Seconds(), "s/catch-up")
		b.ReportMetric(float64(size.Bytes)/(1<<20), "MiB_store")
		d.stop()
		a.stop()
		b.StartTimer()
	}
}
