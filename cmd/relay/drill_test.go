package main

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/oob-relay/relay/internal/testkit"
	"github.com/oob-relay/relay/relay"
)

// TestClusterScheduledDrill runs three relay serve processes whose config
// schedules a drill every minute. The schedule's owner starts the drill
// of the latest minute at once (a time less than an hour ago that no node
// started) and then one a minute; SIGKILLed, a survivor starts the next
// minute's. Each scheduled time is one drill, and everyone gets a drill's
// mail once, marked as a drill.
func TestClusterScheduledDrill(t *testing.T) {
	testkit.NoLeaks(t)
	cl := startCluster(t, clusterSpec{nodes: 3, people: 3, extra: `drills:
  scheduled:
    - name: every-minute
      cron: "* * * * *"
      to: [everyone]
      channels: [email]
      text: "정기 비상 연락 훈련입니다"
`})
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	drills := func(n *clusterNode) []relay.Drill {
		ds, err := n.c.Drills(ctx)
		if err != nil {
			return nil
		}
		return ds
	}
	// mailedOnce waits until drill d reached the three people by mail,
	// once each.
	mailedOnce := func(d relay.Drill) {
		t.Helper()
		marker := relay.DrillMarker("ko") + " " + d.Incident
		testkit.EventuallyNil(t, 30*time.Second, func() error {
			got := perRecipient(cl.s.mailArrivals(marker))
			if len(got) != 3 {
				return fmt.Errorf("drill %s reached %d people by mail, want 3: %v", d.ID, len(got), got)
			}
			for to, n := range got {
				if n != 1 {
					return fmt.Errorf("%s got drill %s %d times", to, d.ID, n)
				}
			}
			return nil
		})
	}
	var first relay.Drill
	testkit.Eventually(t, 30*time.Second, "a scheduled drill on every node", func() bool {
		for _, n := range cl.nodes {
			if len(drills(n)) == 0 {
				return false
			}
		}
		ds := drills(cl.nodes[0])
		first = ds[len(ds)-1]
		return true
	})
	if first.Schedule != "every-minute" || first.ScheduledAt.Second() != 0 {
		t.Fatalf("drill %+v", first)
	}
	mailedOnce(first)
	m, err := cl.nodes[0].c.Message(ctx, first.Message)
	if err != nil {
		t.Fatal(err)
	}
	owner := slices.IndexFunc(cl.nodes, func(n *clusterNode) bool { return n.name == m.AcceptedBy })
	if owner < 0 {
		t.Fatalf("drill %+v accepted by %q", first, m.AcceptedBy)
	}
	killedAt := time.Now()
	cl.kill(owner)
	var survivors []*clusterNode
	for i, n := range cl.nodes {
		if i != owner {
			survivors = append(survivors, n)
		}
	}
	// The next minute's drill, by a survivor.
	var next relay.Drill
	testkit.Eventually(t, 100*time.Second, "a drill scheduled after the owner's death on the survivors", func() bool {
		for _, n := range survivors {
			ds := drills(n)
			if len(ds) == 0 || !ds[len(ds)-1].ScheduledAt.After(killedAt) {
				return false
			}
			next = ds[len(ds)-1]
		}
		return true
	})
	mailedOnce(next)
	ds := drills(survivors[0])
	seen := map[time.Time]bool{}
	for _, d := range ds {
		if seen[d.ScheduledAt] {
			t.Errorf("two drills for %s", d.ScheduledAt)
		}
		seen[d.ScheduledAt] = true
	}
	for i := 1; i < len(ds); i++ {
		if ds[i].ScheduledAt.Sub(ds[i-1].ScheduledAt) != time.Minute {
			t.Errorf("drills scheduled at %s and %s, want a minute apart", ds[i-1].ScheduledAt, ds[i].ScheduledAt)
		}
	}
}
