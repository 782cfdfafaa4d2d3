package store

import (
	"context"
	"fmt"
	"reflect"
	"testing"
	"time"

	"github.com/oob-relay/relay/relay"
)

// settleAll records an outcome for every delivery of m: an SMS delivered,
// a mail sent, one SMS failed with an error, and so on, as a fan-out ends.
func settleAll(t *testing.T, s *Store, m *relay.Message) {
	t.Helper()
	var changes []relay.DeliveryChange
	at := m.AcceptedAt.Add(time.Second)
	for i, ref := range m.Deliveries() {
		changes = append(changes, relay.DeliveryChange{ID: ref.ID, Status: relay.StatusSending, Attempt: 1, Provider: "tw-" + ref.Channel, Owner: "seoul", At: at})
		c := relay.DeliveryChange{ID: ref.ID, Status: relay.StatusSent, Attempt: 1, Provider: "tw-" + ref.Channel,
			ProviderID: fmt.Sprintf("SM%032d", i), Segments: 1, Owner: "seoul", At: at.Add(time.Second)}
		if i%7 == 3 {
			c.Status, c.ProviderID, c.Error, c.Reason, c.Code = relay.StatusFailed, "", "21211 invalid To", relay.ReasonRecipient, "21211"
		}
		changes = append(changes, c)
	}
	if _, err := s.Append(context.Background(), relay.Event{Deliveries: changes}); err != nil {
		t.Fatal(err)
	}
}

func TestPackKeepsEveryDelivery(t *testing.T) {
	s := open(t, t.TempDir(), "seoul")
	defer s.Close()
	ctx := context.Background()
	m := testMessage("M1", "fire", "kim", "lee", "park", "choi", "jung", "kang", "yoon", "jang")
	if _, err := s.Append(ctx, relay.Event{Message: m}); err != nil {
		t.Fatal(err)
	}
	settleAll(t, s, m)
	before, err := s.Deliveries("M1")
	if err != nil {
		t.Fatal(err)
	}
	counts, _ := s.Counts("M1")

	if n, err := s.Pack(ctx, m.Deadline); err != nil || n != 0 {
		t.Fatalf("Pack before the deadline passed = %d, %v; want nothing packed", n, err)
	}
	if n, err := s.Pack(ctx, m.Deadline.Add(time.Minute)); err != nil || n != 1 {
		t.Fatalf("Pack = %d, %v; want the message packed", n, err)
	}
	st, _ := s.Stats()
	if st.Deliveries != 0 || st.Packed != 1 {
		t.Fatalf("after packing: %+v, want no delivery records and one packed message", st)
	}
	after, err := s.Deliveries("M1")
	if err != nil || !reflect.DeepEqual(after, before) {
		t.Fatalf("packed deliveries differ:\n got %+v\nwant %+v (%v)", after, before, err)
	}
	for _, d := range before {
		got, err := s.Delivery(d.ID)
		if err != nil || !reflect.DeepEqual(*got, d) {
			t.Fatalf("Delivery(%s) = %+v, %v; want %+v", d.ID, got, err, d)
		}
	}
	if c, _ := s.Counts("M1"); !reflect.DeepEqual(c, counts) {
		t.Fatalf("counts %v after packing, want %v", c, counts)
	}

	// A late receipt for a packed delivery still lands.
	id := relay.DeliveryID("M1", "sms", "kim")
	late := relay.DeliveryChange{ID: id, Status: relay.StatusDelivered, Attempt: 1, Provider: "tw-sms",
		ProviderID: before[len(before)-2].ProviderID, Owner: "seoul", At: m.Deadline.Add(2 * time.Minute)}
	if _, err := s.Merge(ctx, []relay.Event{{Origin: "busan", Seq: 1, Clock: s.Clock().Now(), Deliveries: []relay.DeliveryChange{late}}}); err != nil {
		t.Fatal(err)
	}
	if d, err := s.Delivery(id); err != nil || d.Status != relay.StatusDelivered {
		t.Fatalf("late receipt for a packed delivery: %+v, %v", d, err)
	}
	all, _ := s.Deliveries("M1")
	if len(all) != len(before) {
		t.Fatalf("%d deliveries after a late receipt, want %d", len(all), len(before))
	}
	// Packing again folds it in.
	if n, err := s.Pack(ctx, m.Deadline.Add(time.Minute)); err != nil || n != 1 {
		t.Fatalf("Pack again = %d, %v", n, err)
	}
	if d, _ := s.Delivery(id); d.Status != relay.StatusDelivered {
		t.Fatalf("packed again: %+v", d)
	}
}

func TestPackLeavesOpenMessages(t *testing.T) {
	s := open(t, t.TempDir(), "seoul")
	defer s.Close()
	ctx := context.Background()
	m := testMessage("M1", "fire", "kim")
	if _, err := s.Append(ctx, relay.Event{Message: m}); err != nil {
		t.Fatal(err)
	}
	if n, err := s.Pack(ctx, m.Deadline.Add(time.Hour)); err != nil || n != 0 {
		t.Fatalf("Pack of a message still pending = %d, %v; want none", n, err)
	}
}

func TestPruneRemovesOnlySettledHistory(t *testing.T) {
	s := open(t, t.TempDir(), "seoul")
	defer s.Close()
	ctx := context.Background()
	old := testMessage("M1", "old-fire", "kim", "lee")
	open := testMessage("M2", "old-flood", "kim")
	recent := testMessage("M3", "new-fire", "kim")
	recent.AcceptedAt = old.AcceptedAt.Add(100 * 24 * time.Hour)
	for _, m := range []*relay.Message{old, open, recent} {
		if _, err := s.Append(ctx, relay.Event{Message: m}); err != nil {
			t.Fatal(err)
		}
	}
	settleAll(t, s, old)
	settleAll(t, s, recent)
	if _, err := s.Append(ctx, relay.Event{Ack: &relay.Ack{Message: "M1", Incident: "old-fire", Person: "kim", Channel: "sms", At: old.AcceptedAt}}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Pack(ctx, old.Deadline.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}

	now := old.AcceptedAt.Add(95 * 24 * time.Hour)
	incidents, messages, err := s.Prune(ctx, now, 90*24*time.Hour)
	if err != nil || incidents != 1 || messages != 1 {
		t.Fatalf("Prune = %d incidents, %d messages, %v; want old-fire's one message", incidents, messages, err)
	}
	if _, err := s.Incident("old-fire"); err != relay.ErrNotFound {
		t.Fatalf("old-fire still there: %v", err)
	}
	if _, err := s.Message("M1"); err != relay.ErrNotFound {
		t.Fatalf("M1 still there: %v", err)
	}
	if ds, _ := s.Deliveries("M1"); len(ds) != 0 {
		t.Fatalf("M1's deliveries still there: %v", ds)
	}
	if acks, _ := s.Acks("M1"); len(acks) != 0 {
		t.Fatalf("M1's acks still there: %v", acks)
	}
	// An incident still being delivered, and a recent one, stay.
	for _, id := range []string{"old-flood", "new-fire"} {
		if _, err := s.Incident(id); err != nil {
			t.Fatalf("%s: %v", id, err)
		}
	}
	// Events about the pruned message that come late bring nothing back.
	late := []relay.Event{
		{Origin: "busan", Seq: 1, Clock: s.Clock().Now(), Message: old},
		{Origin: "busan", Seq: 2, Clock: s.Clock().Now(), Deliveries: []relay.DeliveryChange{{ID: "M1.sms.kim", Status: relay.StatusDelivered, Attempt: 1}}},
		{Origin: "busan", Seq: 3, Clock: s.Clock().Now(), Ack: &relay.Ack{Message: "M1", Person: "lee", Channel: "sms"}},
	}
	if _, err := s.Merge(ctx, late); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Message("M1"); err != relay.ErrNotFound {
		t.Fatalf("a late event brought M1 back: %v", err)
	}
	if _, err := s.Delivery("M1.sms.kim"); err != relay.ErrNotFound {
		t.Fatalf("a late change brought a delivery of M1 back: %v", err)
	}
	if _, err := s.Incident("old-fire"); err != relay.ErrNotFound {
		t.Fatalf("a late event brought old-fire back: %v", err)
	}
	if marks, _ := s.Marks(); marks["busan"] != 3 {
		t.Fatalf("late events not held in the log: marks %v", marks)
	}
}

// TestPruneRemovesRollCalls: an incident removed by retention takes its
// roll-calls and their answers with it, and a late start or answer from
// another node brings neither back.
func TestPruneRemovesRollCalls(t *testing.T) {
	s := open(t, t.TempDir(), "seoul")
	defer s.Close()
	ctx := context.Background()
	m := testMessage("M1", "old-fire", "kim", "lee")
	rc := &relay.RollCall{ID: "RC1", Incident: "old-fire", Question: "안전하면 1", Message: "M1",
		Options:   []relay.RollCallOption{{Digit: 1, Label: "안전"}, {Digit: 2, Label: "도움 필요"}},
		StartedAt: m.AcceptedAt, Until: m.AcceptedAt.Add(time.Hour)}
	answer := &relay.RollCallAnswer{RollCall: "RC1", Incident: "old-fire", Person: "kim", Digit: 1, Channel: "sms", At: m.AcceptedAt}
	if _, err := s.Append(ctx, relay.Event{Message: m}, relay.Event{RollCall: rc}, relay.Event{RollCallAnswer: answer}); err != nil {
		t.Fatal(err)
	}
	settleAll(t, s, m)
	if _, _, err := s.Prune(ctx, m.AcceptedAt.Add(95*24*time.Hour), 90*24*time.Hour); err != nil {
		t.Fatal(err)
	}
	check := func(when string) {
		t.Helper()
		if _, err := s.RollCall("RC1"); err != relay.ErrNotFound {
			t.Errorf("%s: the roll-call is still there: %v", when, err)
		}
		if rcs, err := s.RollCalls("old-fire"); err != nil || len(rcs) != 0 {
			t.Errorf("%s: the incident still lists roll-calls %v, %v", when, rcs, err)
		}
		if as, err := s.RollCallAnswers("RC1"); err != nil || len(as) != 0 {
			t.Errorf("%s: answers still there: %v, %v", when, as, err)
		}
	}
	check("pruned")
	late := []relay.Event{
		{Origin: "busan", Seq: 1, Clock: s.Clock().Now(), RollCall: rc},
		{Origin: "busan", Seq: 2, Clock: s.Clock().Now(), RollCallAnswer: &relay.RollCallAnswer{RollCall: "RC1", Incident: "old-fire", Person: "lee", Digit: 2, Channel: "sms"}},
	}
	if _, err := s.Merge(ctx, late); err != nil {
		t.Fatal(err)
	}
	check("after late events")
}
