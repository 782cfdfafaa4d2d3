package node_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/oob-relay/relay/internal/testkit"
	"github.com/oob-relay/relay/relay"
	"github.com/oob-relay/relay/relay/cluster"
	"github.com/oob-relay/relay/relay/delivery"
	"github.com/oob-relay/relay/relay/node"
)

// everyMinute is a schedule due at the start of every minute from its
// first time on.
type everyMinute struct{ from time.Time }

func (s everyMinute) Next(t time.Time) time.Time {
	if t.Before(s.from) {
		return s.from
	}
	return t.Truncate(time.Minute).Add(time.Minute)
}

// drillsOf returns the drills n holds of schedule name.
func drillsOf(t *testing.T, n *node.Node, name string) []relay.Drill {
	t.Helper()
	all, err := n.Drills()
	if err != nil {
		t.Fatal(err)
	}
	var out []relay.Drill
	for _, d := range all {
		if d.Schedule == name {
			out = append(out, d)
		}
	}
	return out
}

// A scheduled drill is started once per scheduled time across the
// cluster: by its owner, then, with the owner dead, by a survivor, and
// after a long outage only the latest time is started, never a burst.
func TestScheduledDrillStartsOnceAcrossAnOwnersDeath(t *testing.T) {
	t0 := time.Now().Truncate(time.Minute).Add(30 * time.Second)
	clock := testkit.NewClock(t0)
	counts := newDeliveryCounts()
	roster := people(5)
	sched := []node.ScheduledDrill{{Name: "monthly", Schedule: everyMinute{from: t0.Add(30 * time.Second)},
		Start: relay.DrillStart{To: []string{"everyone"}, Channels: []string{relay.ChannelSMS}, Text: "정기 비상 연락 훈련입니다"}}}
	members := map[string]*member{}
	var all []*member
	seed := ""
	for _, name := range []string{"node-a", "node-b", "node-c"} {
		m := startMemberWith(t, name, seed, nil, node.Options{
			Providers: []delivery.Provider{{Name: "sms-" + name, Channel: relay.ChannelSMS, Sender: &countingSender{node: name, by: counts}}},
			Deadline:  func(relay.Severity) time.Duration { return time.Hour },
			Roster:    roster, Lease: 2 * time.Second, Now: clock.Now, ScheduledDrills: sched,
		})
		if seed == "" {
			seed = m.ms.LocalAddr()
		}
		members[name] = m
		all = append(all, m)
	}
	settleMembership(t, all...)
	own := cluster.NewOwnership("node-a", time.Second, nil)
	own.SetAlive([]string{"node-a", "node-b", "node-c"})
	owner := own.Owner(&relay.Delivery{ID: "drill-schedule:monthly"})

	// fireAll has every live member fire until each holds want drills.
	fireAll := func(ms []*member, want int) {
		t.Helper()
		testkit.EventuallyNil(t, 20*time.Second, func() error {
			for _, m := range ms {
				if _, err := m.n.FireScheduledDrills(t.Context()); err != nil {
					return err
				}
			}
			for _, m := range ms {
				if got := len(drillsOf(t, m.n, "monthly")); got != want {
					return fmt.Errorf("%s holds %d drills, want %d", m.n.Name(), got, want)
				}
			}
			return nil
		})
	}
	// sent waits until every person got the latest drill of ms[0], and
	// every member in ms holds the result.
	sent := func(ms []*member) {
		t.Helper()
		ds := drillsOf(t, ms[0].n, "monthly")
		d := ds[len(ds)-1]
		for _, p := range roster.People {
			id := relay.DeliveryID(d.Message, relay.ChannelSMS, p.ID)
			testkit.Eventually(t, 20*time.Second, id+" sent and recorded", func() bool {
				for _, m := range ms {
					dl, err := m.n.Store().Delivery(id)
					if err != nil || !dl.Status.Settled() {
						return false
					}
				}
				got, _ := counts.snapshot()
				return got[id] > 0
			})
		}
	}
	// Before its time nothing starts.
	for _, m := range all {
		if _, err := m.n.FireScheduledDrills(t.Context()); err != nil {
			t.Fatal(err)
		}
		if got := len(drillsOf(t, m.n, "monthly")); got != 0 {
			t.Fatalf("%s started %d drills before their time", m.n.Name(), got)
		}
	}
	clock.Set(t0.Add(30 * time.Second)) // the first scheduled time
	fireAll(all, 1)
	sent(all)
	first := drillsOf(t, members[owner].n, "monthly")[0]
	if !first.ScheduledAt.Equal(t0.Add(30*time.Second)) || !strings.HasPrefix(first.Incident, relay.DrillIncidentPrefix) {
		t.Errorf("first drill: %+v", first)
	}
	members[owner].stop()
	var survivors []*member
	for name, m := range members {
		if name != owner {
			survivors = append(survivors, m)
		}
	}
	clock.Set(t0.Add(90 * time.Second)) // the second, with its owner dead
	fireAll(survivors, 2)
	sent(survivors)
	// Two hours later: one drill for the latest time, not 120.
	clock.Set(t0.Add(2*time.Hour + 45*time.Second))
	fireAll(survivors, 3)
	for _, m := range survivors {
		if _, err := m.n.FireScheduledDrills(t.Context()); err != nil {
			t.Fatal(err)
		}
	}
	ds := drillsOf(t, survivors[0].n, "monthly")
	if len(ds) != 3 || !ds[2].ScheduledAt.Equal(t0.Add(2*time.Hour+30*time.Second)) {
		t.Fatalf("drills after the outage: %+v", ds)
	}
	sent(survivors)
	// Every drill reached each person once.
	got, _ := counts.snapshot()
	if len(got) != 3*len(roster.People) {
		t.Errorf("%d deliveries sent, want %d", len(got), 3*len(roster.People))
	}
	for id, n := range got {
		if n != 1 {
			t.Errorf("%s sent %d times, want 1", id, n)
		}
	}
}
