package cluster

import (
	"fmt"
	"testing"
	"time"

	"github.com/oob-relay/relay/relay"
)

func TestOwnershipAgreesAndSpreads(t *testing.T) {
	members := []string{"a", "b", "c"}
	views := map[string]*Ownership{}
	for _, m := range members {
		views[m] = NewOwnership(m, time.Minute, nil)
		views[m].SetAlive(members)
	}
	per := map[string]int{}
	for i := range 3000 {
		d := &relay.Delivery{ID: fmt.Sprintf("M1.sms.p%04d", i), Status: relay.StatusPending}
		owners := 0
		for _, m := range members {
			if views[m].Owns(d) {
				owners++
				per[m]++
			}
		}
		if owners != 1 {
			t.Fatalf("%s has %d owners, want exactly 1", d.ID, owners)
		}
	}
	for _, m := range members {
		if per[m] < 800 || per[m] > 1200 {
			t.Errorf("%s owns %d of 3000, want about a third", m, per[m])
		}
	}
}

func TestOwnershipMovesOnlyWhatTheDeadHeld(t *testing.T) {
	o := NewOwnership("a", time.Minute, nil)
	o.SetAlive([]string{"a", "b", "c"})
	before := map[string]string{}
	for i := range 1000 {
		id := fmt.Sprintf("M1.sms.p%04d", i)
		before[id] = o.Owner(&relay.Delivery{ID: id, Status: relay.StatusPending})
	}
	o.SetAlive([]string{"a", "b"})
	for id, was := range before {
		now := o.Owner(&relay.Delivery{ID: id, Status: relay.StatusPending})
		if was != "c" && now != was {
			t.Fatalf("%s moved from %s to %s although %s is alive", id, was, now, was)
		}
		if now == "c" {
			t.Fatalf("%s still owned by dead c", id)
		}
	}
}

func TestClaimHoldsWhileLeaseRunsAndClaimantLives(t *testing.T) {
	now := time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)
	clock := func() time.Time { return now }
	o := NewOwnership("a", 10*time.Second, clock)
	o.SetAlive([]string{"a", "b", "c"})
	// Find a delivery a would own by rank, claimed by b.
	var d *relay.Delivery
	for i := 0; d == nil; i++ {
		c := &relay.Delivery{ID: fmt.Sprintf("M1.sms.p%04d", i), Status: relay.StatusPending}
		if o.Owner(c) == "a" {
			d = c
		}
	}
	d.Status, d.Owner, d.UpdatedAt = relay.StatusSending, "b", now
	if got := o.Owner(d); got != "b" || o.Orphaned(d) {
		t.Fatalf("owner of b's fresh claim = %s (orphaned %v), want b", got, o.Orphaned(d))
	}
	now = now.Add(11 * time.Second)
	if got := o.Owner(d); got != "a" || !o.Orphaned(d) {
		t.Fatalf("owner after the lease ran out = %s (orphaned %v), want a, taken over", got, o.Orphaned(d))
	}
	now = now.Add(-11 * time.Second)
	o.SetAlive([]string{"a", "c"})
	if got := o.Owner(d); got == "b" || !o.Orphaned(d) && got == "a" {
		t.Fatalf("owner after b died = %s (orphaned %v)", got, o.Orphaned(d))
	}
	// A node's own claim is never orphaned in its own eyes.
	d.Owner = "a"
	if o.Orphaned(d) {
		t.Fatal("a's own claim counted as orphaned")
	}
}
