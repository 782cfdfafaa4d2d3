package store

import (
	"context"
	"testing"
	"time"

	"github.com/oob-relay/relay/relay"
)

// TestChangesAfterCommit: a waiter's channel is closed by the next commit
// that changes state, local or merged, not before; several commits while
// nobody waits are one change; Close closes it for good.
func TestChangesAfterCommit(t *testing.T) {
	ctx := context.Background()
	s := open(t, t.TempDir(), "seoul")
	other := open(t, t.TempDir(), "busan")
	defer other.Close()
	ch := s.Changes()
	select {
	case <-ch:
		t.Fatal("closed before any commit")
	default:
	}
	if _, err := s.Append(ctx, relay.Event{Message: testMessage("M1", "fire", "kim")}); err != nil {
		t.Fatal(err)
	}
	<-ch // closed by the commit before Append returned
	next := s.Changes()
	if next == ch {
		t.Fatal("the same channel again after a change")
	}
	select {
	case <-next:
		t.Fatal("the next channel is closed before another commit")
	default:
	}
	evs, err := other.Append(ctx, relay.Event{Message: testMessage("M2", "fire", "lee")}, relay.Event{Message: testMessage("M3", "fire", "lee")})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Merge(ctx, evs); err != nil {
		t.Fatal(err)
	}
	<-next
	// Merging what is already held changes nothing and closes nothing.
	idle := s.Changes()
	if _, err := s.Merge(ctx, evs); err != nil {
		t.Fatal(err)
	}
	select {
	case <-idle:
		t.Fatal("a merge of events already held was told as a change")
	default:
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	<-idle
	<-s.Changes()
}

// TestEachDeliveryStateMatchesDeliveries: EachDeliveryState visits
// what Deliveries returns, each once with its state, before and after
// the message's deliveries are settled and packed.
func TestEachDeliveryStateMatchesDeliveries(t *testing.T) {
	ctx := context.Background()
	s := open(t, t.TempDir(), "seoul")
	defer s.Close()
	m := testMessage("M1", "fire", "kim", "lee", "park")
	if _, err := s.Append(ctx, relay.Event{Message: m}); err != nil {
		t.Fatal(err)
	}
	check := func(when string) {
		t.Helper()
		want, err := s.Deliveries("M1")
		if err != nil || len(want) != 6 {
			t.Fatalf("%s: %d deliveries, %v", when, len(want), err)
		}
		got := map[string]DeliveryState{}
		err = s.EachDeliveryState("M1", func(st DeliveryState) error {
			id := relay.DeliveryID("M1", st.Channel, st.Person)
			if _, ok := got[id]; ok {
				t.Errorf("%s: %s visited twice", when, id)
			}
			got[id] = st
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range want {
			st := got[d.ID]
			if st.Status != d.Status || !st.CreatedAt.Equal(d.CreatedAt) || (d.Status == relay.StatusFailed && (st.Error != d.Error || st.Reason != d.Reason)) {
				t.Errorf("%s: %s is %+v, Deliveries says %+v", when, d.ID, st, d)
			}
		}
		if len(got) != len(want) {
			t.Errorf("%s: visited %d, want %d", when, len(got), len(want))
		}
	}
	check("unsettled")
	settleAll(t, s, m)
	check("settled")
	if n, err := s.Pack(ctx, m.Deadline.Add(time.Minute)); err != nil || n != 1 {
		t.Fatalf("Pack = %d, %v; want the message packed", n, err)
	}
	check("packed")
}

// TestIncidentMessageIDs: the ids IncidentMessages returns, in its
// order, and only the incident's.
func TestIncidentMessageIDs(t *testing.T) {
	ctx := context.Background()
	s := open(t, t.TempDir(), "seoul")
	defer s.Close()
	for i, id := range []string{"M2", "M1", "M3"} {
		m := testMessage(id, "fire", "kim")
		m.AcceptedAt = m.AcceptedAt.Add(time.Duration(i) * time.Second)
		if _, err := s.Append(ctx, relay.Event{Message: m}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.Append(ctx, relay.Event{Message: testMessage("X1", "fire-drill", "kim")}); err != nil {
		t.Fatal(err)
	}
	msgs, _ := s.IncidentMessages("fire")
	ids, err := s.IncidentMessageIDs("fire")
	if err != nil || len(ids) != len(msgs) || len(ids) != 3 {
		t.Fatalf("ids %v (%v), messages %d", ids, err, len(msgs))
	}
	for i := range msgs {
		if ids[i] != msgs[i].ID {
			t.Errorf("ids %v, messages in order %s…", ids, msgs[0].ID)
		}
	}
}
