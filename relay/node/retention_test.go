package node_test

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/oob-relay/relay/internal/testkit"
	"github.com/oob-relay/relay/relay"
	"github.com/oob-relay/relay/relay/delivery"
	"github.com/oob-relay/relay/relay/node"
)

// stuckSender accepts every attempt but those to person "stuck", which
// fail for a while yet: that person's delivery stays open.
type stuckSender struct{}

func (stuckSender) Send(ctx context.Context, out *relay.Outgoing) (relay.Receipt, error) {
	if out.Person != nil && out.Person.ID == "stuck" {
		return relay.Receipt{}, relay.Temporary(relay.ReasonUnavailable, errors.New("503"))
	}
	return relay.Receipt{ProviderID: "ok-" + out.DeliveryID}, nil
}

// TestRetentionAcrossTheCluster: a test clock moves past the retention.
// Settled history goes on every node alike, an incident still being
// delivered stays, the logs are truncated, and a node with an empty data
// dir catches up from a peer's snapshot.
func TestRetentionAcrossTheCluster(t *testing.T) {
	clock := testkit.NewClock(time.Now())
	roster := &relay.Roster{People: []relay.Person{{ID: "kim", Phone: "+821012345678"}, {ID: "lee", Phone: "+821087654321"},
		{ID: "stuck", Phone: "+821000000000"}},
		Schedules: []relay.Schedule{{ID: "db", Layers: []relay.Layer{{Members: []string{"kim", "lee"}, Start: "2026-01-05 09:00", Shift: "weekly"}}}}}
	opts := func(name string) node.Options {
		return node.Options{
			Providers: []delivery.Provider{{Name: "sms-" + name, Channel: relay.ChannelSMS, Sender: stuckSender{}}},
			Deadline:  func(relay.Severity) time.Duration { return 200 * 24 * time.Hour },
			Roster:    roster, Lease: 2 * time.Second, Now: clock.Now,
			Retention: 90 * 24 * time.Hour, LogKeep: time.Hour,
			Backoff: delivery.Backoff{Initial: time.Hour},
		}
	}
	a := startMemberWith(t, "node-a", "", nil, opts("node-a"))
	seed := a.ms.LocalAddr()
	b := startMemberWith(t, "node-b", seed, nil, opts("node-b"))
	c := startMemberWith(t, "node-c", seed, nil, opts("node-c"))
	settleMembership(t, a, b, c)
	ctx := t.Context()

	post := func(m *member, incident string, to ...string) *relay.Message {
		acc, err := m.n.Post(ctx, &relay.Post{Incident: incident, Text: "서버실 화재", To: to, Severity: relay.SeverityCritical},
			node.Author{Name: "bot"}, "")
		if err != nil {
			t.Fatal(err)
		}
		return acc.Message
	}
	settled := post(a, "old-fire", "person:kim", "person:lee")
	// An override that ended two days ago, and one that ends after the
	// retention: only the first goes, after the day of slack for zones.
	at := func(d time.Duration) string { return clock.Now().Add(d).Format(time.RFC3339) }
	ended, err := a.n.AddOverride(ctx, "db", relay.Override{Person: "lee", Covers: "kim", From: at(-72 * time.Hour), To: at(-48 * time.Hour)}, "admin")
	if err != nil {
		t.Fatal(err)
	}
	future, err := a.n.AddOverride(ctx, "db", relay.Override{Person: "kim", Covers: "lee", From: at(100 * 24 * time.Hour), To: at(101 * 24 * time.Hour)}, "admin")
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range []*member{b, c} {
		testkit.Eventually(t, 10*time.Second, "overrides on "+m.n.Name(), func() bool {
			o, err := m.n.Store().Overrides()
			return err == nil && len(o) == 2
		})
	}
	open := post(b, "old-flood", "person:stuck")
	for _, m := range []*member{a, b, c} {
		testkit.Eventually(t, 10*time.Second, "old-fire settled on "+m.n.Name(), func() bool {
			counts, err := m.n.Store().Counts(settled.ID)
			return err == nil && counts[relay.StatusSent] == 2
		})
	}

	clock.Add(91 * 24 * time.Hour)
	recent := post(c, "new-fire", "person:kim")
	for _, m := range []*member{a, b, c} {
		testkit.Eventually(t, 10*time.Second, "new-fire on "+m.n.Name(), func() bool {
			_, err := m.n.Store().Message(recent.ID)
			return err == nil
		})
	}
	for _, m := range []*member{a, b, c} {
		up, err := m.n.Upkeep(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if up.Incidents != 1 || up.Messages != 1 || up.Truncated == 0 || up.Overrides != 1 {
			t.Fatalf("%s upkeep: %+v, want old-fire and an ended override removed and the log truncated", m.n.Name(), up)
		}
		o, err := m.n.Store().Overrides()
		if err != nil || len(o) != 1 || o[0].Override.ID != future.ID {
			t.Fatalf("%s keeps overrides %+v (%v), want %s alone, not %s", m.n.Name(), o, err, future.ID, ended.ID)
		}
	}
	incidents := func(m *member) []string {
		incs, err := m.n.Store().Incidents()
		if err != nil {
			t.Fatal(err)
		}
		var ids []string
		for _, inc := range incs {
			ids = append(ids, inc.ID)
		}
		slices.Sort(ids)
		return ids
	}
	want := []string{"new-fire", "old-flood"}
	for _, m := range []*member{a, b, c} {
		if got := incidents(m); !slices.Equal(got, want) {
			t.Fatalf("%s holds incidents %v, want %v", m.n.Name(), got, want)
		}
		if _, err := m.n.Store().Message(settled.ID); !errors.Is(err, relay.ErrNotFound) {
			t.Fatalf("%s still holds old-fire's message: %v", m.n.Name(), err)
		}
		if ds, err := m.n.Store().Deliveries(open.ID); err != nil || len(ds) != 1 || ds[0].Status.Settled() {
			t.Fatalf("%s: the open incident's delivery = %+v, %v; want it kept, still open", m.n.Name(), ds, err)
		}
	}

	// A node with an empty data dir: the others' logs no longer hold the
	// early events, so it takes a snapshot, then the tail.
	reg := prometheus.NewRegistry()
	dOpts := opts("node-d")
	dOpts.Registerer = reg
	d := startMemberWith(t, "node-d", seed, nil, dOpts)
	settleMembership(t, a, b, c, d)
	later := post(a, "new-fire", "person:lee")
	testkit.Eventually(t, 20*time.Second, "node-d caught up", func() bool {
		if !slices.Equal(incidents(d), want) {
			return false
		}
		for _, id := range []string{open.ID, recent.ID, later.ID} {
			if _, err := d.n.Store().Message(id); err != nil {
				return false
			}
		}
		return true
	})
	if _, err := d.n.Store().Message(settled.ID); !errors.Is(err, relay.ErrNotFound) {
		t.Fatalf("node-d holds the removed message: %v", err)
	}
	if n := testkit.Metric(t, reg, "relay_cluster_snapshots_total", "result", "installed"); n < 1 {
		t.Fatalf("node-d installed %v snapshots, want at least one", n)
	}
	st, err := d.n.StoreStats()
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("node-d caught up: %+v", st)
}
