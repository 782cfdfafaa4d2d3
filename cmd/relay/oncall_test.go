package main

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"testing"
	"time"

	"github.com/oob-relay/relay/internal/testkit"
	"github.com/oob-relay/relay/relay"
	"github.com/oob-relay/relay/relay/api"
)

// TestClusterPostToSchedule runs three relay serve processes whose roster
// file has a schedule in New York time: a weekly rotation whose first
// handoff was an hour ago (p00001 on call), under a layer whose hours
// run from an hour ago to two hours on (p00003 on call, the later layer
// winning). A post on A to schedule:db reaches p00003 alone. An override
// of the whole schedule added on B for p00000 reaches C by replication,
// and a post on C then reaches p00000 alone; removed on A, the next post
// on B reaches p00003 again, and the earlier message still names p00000.
func TestClusterPostToSchedule(t *testing.T) {
	testkit.NoLeaks(t)
	ny, err := time.LoadLocation("America/New_York")
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now().In(ny)
	local := func(d time.Duration) string { return now.Add(d).Format("2006-01-02 15:04") }
	clock := func(d time.Duration) string { return now.Add(d).Format("15:04") }
	schedules := fmt.Sprintf(`schedules:
  - id: db
    name: DB primary
    time_zone: America/New_York
    layers:
      - name: weekly
        members: [p00001, p00002]
        start: "%s"
        shift: weekly
      - name: now
        members: [p00003]
        start: "%s"
        shift: weekly
        hours: [{from: "%s", to: "%s"}]
`, local(-time.Hour), local(-48*time.Hour), clock(-time.Hour), clock(2*time.Hour))
	cl := startCluster(t, clusterSpec{nodes: 3, people: 4, rosterExtra: schedules, admin: true})
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	a, b, c := cl.nodes[0], cl.nodes[1], cl.nodes[2]

	oc, err := a.c.OnCall(ctx, "db", "")
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(oc.People, []string{"p00003"}) || oc.Layers[0].Person != "p00001" || oc.TimeZone != "America/New_York" {
		t.Fatalf("on call at the start: %+v", oc)
	}
	post := func(n *clusterNode, text string) string {
		t.Helper()
		acc, err := n.c.Post(ctx, &relay.Post{Incident: "db-fire", Text: text, To: []string{"schedule:db"}, Severity: relay.SeverityCritical}, "")
		if err != nil {
			t.Fatal(err)
		}
		return acc.ID
	}
	first := post(a, "첫 번째: DB 당직 호출")

	o, err := b.c.AddOverride(ctx, "db", api.OverrideRequest{Person: "p00000",
		From: now.Add(-time.Hour).Format(time.RFC3339), To: now.Add(time.Hour).Format(time.RFC3339)})
	if err != nil {
		t.Fatal(err)
	}
	testkit.Eventually(t, 30*time.Second, "the override on node C", func() bool {
		oc, err := c.c.OnCall(ctx, "db", "")
		return err == nil && slices.Equal(oc.People, []string{"p00000"}) && oc.Override != nil && oc.Override.ID == o.ID
	})
	second := post(c, "두 번째: 대신 받는 사람")

	if err := a.c.RemoveOverride(ctx, "db", o.ID); err != nil {
		t.Fatal(err)
	}
	testkit.Eventually(t, 30*time.Second, "the removal on node B", func() bool {
		oc, err := b.c.OnCall(ctx, "db", "")
		return err == nil && slices.Equal(oc.People, []string{"p00003"}) && len(oc.Overrides) == 0
	})
	third := post(b, "세 번째: 원래 당직")

	want := map[string]int{}
	for id, person := range map[string]int{first: 3, second: 0, third: 3} {
		// An accept waits for one peer's copy, which may be C's: A has
		// the message once replication brings it.
		var m *api.MessageView
		testkit.Eventually(t, 30*time.Second, "message "+id+" on node A", func() bool {
			m, err = a.c.Message(ctx, id)
			return err == nil
		})
		if len(m.Recipients) != 1 || m.Recipients[0].Person != fmt.Sprintf("p%05d", person) {
			t.Errorf("message %q went to %+v, want p%05d", m.Text, m.Recipients, person)
		}
		want[phone(person)]++
	}
	testkit.Eventually(t, 30*time.Second, "the three SMS", func() bool {
		return len(cl.s.smsArrivals("번째")) == 3
	})
	if got := perRecipient(cl.s.smsArrivals("번째")); !maps.Equal(got, want) {
		t.Errorf("SMS per number = %v, want %v", got, want)
	}
}
