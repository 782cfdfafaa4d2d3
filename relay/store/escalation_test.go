package store

import (
	"context"
	"errors"
	"path/filepath"
	"slices"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/oob-relay/relay/relay"
)

func escalatingMessage() *relay.Message {
	m := testMessage("M1", "fire", "kim")
	m.Escalation = &relay.EscalationPlan{Policy: "db", Steps: []relay.PlannedStep{{To: []string{"person:kim"}, Wait: time.Minute},
		{To: []string{"person:lee"}, Wait: time.Minute}}}
	return m
}

func leeStep(at time.Time) *relay.Escalated {
	return &relay.Escalated{Message: "M1", Incident: "fire", Policy: "db", Round: 0, Step: 1, Due: at, At: at,
		Notified:   []string{"lee"},
		Recipients: []relay.Recipient{{Person: relay.Person{ID: "lee", Phone: "+821098765432"}, Channels: []string{"sms"}}},
		Priority:   relay.PriorityHigh, Deadline: at.Add(2 * time.Hour)}
}

// A step adds its people to the message and creates their deliveries,
// with the step's deadline; the index of running escalations ends with an
// acknowledgement whichever arrives first.
func TestEscalatedFold(t *testing.T) {
	ctx := context.Background()
	s := open(t, t.TempDir(), "seoul")
	defer s.Close()
	m := escalatingMessage()
	if _, err := s.Append(ctx, relay.Event{Message: m}); err != nil {
		t.Fatal(err)
	}
	if ids, err := s.Escalating(); err != nil || !slices.Equal(ids, []string{"M1"}) {
		t.Fatalf("escalating = %v, %v", ids, err)
	}
	at := m.AcceptedAt.Add(time.Minute)
	if _, err := s.Append(ctx, relay.Event{Escalated: leeStep(at)}); err != nil {
		t.Fatal(err)
	}
	got, err := s.Message("M1")
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := got.Recipient("lee"); !ok || len(got.Recipients) != 2 || !got.Deadline.Equal(at.Add(2*time.Hour)) {
		t.Errorf("message after step 2: recipients %v, deadline %s", got.Recipients, got.Deadline)
	}
	d, err := s.Delivery("M1.sms.lee")
	if err != nil || d.Status != relay.StatusPending || d.Priority != relay.PriorityHigh || !d.Deadline.Equal(at.Add(2*time.Hour)) || d.Incident != "fire" {
		t.Fatalf("step delivery = %+v, %v", d, err)
	}
	msgs, err := s.IncidentMessages("fire")
	if err != nil || len(msgs) != 1 || len(msgs[0].Recipients) != 2 {
		t.Errorf("incident messages lack the step's people: %+v, %v", msgs, err)
	}
	if steps, err := s.Escalations("M1"); err != nil || len(steps) != 1 || steps[0].Step != 1 {
		t.Errorf("escalations = %+v, %v", steps, err)
	}
	// Repeating the same step's event from this node changes nothing.
	if _, err := s.Append(ctx, relay.Event{Escalated: leeStep(at)}); err != nil {
		t.Fatal(err)
	}
	if steps, _ := s.Escalations("M1"); len(steps) != 1 {
		t.Errorf("one node's step is kept %d times", len(steps))
	}
	if c, _ := s.Counts("M1"); c[relay.StatusPending] != 3 {
		t.Errorf("counts %v, want 3 pending", c)
	}
	if _, err := s.Append(ctx, relay.Event{Ack: &relay.Ack{Message: "M1", Incident: "fire", Person: "lee", Channel: "sms", At: at}}); err != nil {
		t.Fatal(err)
	}
	if ids, _ := s.Escalating(); len(ids) != 0 {
		t.Errorf("escalating after an ack = %v", ids)
	}

	// On a peer where the ack and the step come before the message, the
	// message is not indexed either, and a snapshot carries it all.
	p := open(t, t.TempDir(), "busan")
	defer p.Close()
	evs, err := s.EventsFrom(s.Origin(), 0, 100)
	if err != nil {
		t.Fatal(err)
	}
	slices.Reverse(evs)
	for _, e := range evs {
		if _, err := p.Merge(ctx, []relay.Event{e}); err != nil {
			t.Fatal(err)
		}
	}
	if ids, _ := p.Escalating(); len(ids) != 0 {
		t.Errorf("peer: escalating after events in reverse = %v", ids)
	}
	if got, err := p.Message("M1"); err != nil || len(got.Recipients) != 2 {
		t.Errorf("peer: message = %+v, %v", got, err)
	}
	snap := filepath.Join(t.TempDir(), "snap.db")
	if _, err := s.WriteSnapshot(snap); err != nil {
		t.Fatal(err)
	}
	q := open(t, t.TempDir(), "tokyo")
	defer q.Close()
	if err := q.Restore(ctx, snap); err != nil {
		t.Fatal(err)
	}
	if steps, err := q.Escalations("M1"); err != nil || len(steps) != 1 {
		t.Errorf("restored escalations = %+v, %v", steps, err)
	}
}

// A step of a repeat round opens the earlier deliveries of people
// notified before, for another attempt.
func TestEscalatedReopens(t *testing.T) {
	ctx := context.Background()
	s := open(t, t.TempDir(), "seoul")
	defer s.Close()
	m := escalatingMessage()
	m.Escalation.Repeat = 1
	if _, err := s.Append(ctx, relay.Event{Message: m}); err != nil {
		t.Fatal(err)
	}
	sent := relay.DeliveryChange{ID: "M1.sms.kim", Status: relay.StatusSent, Attempt: 1, Provider: "twilio", At: m.AcceptedAt}
	if _, err := s.Append(ctx, relay.Event{Deliveries: []relay.DeliveryChange{sent}}); err != nil {
		t.Fatal(err)
	}
	at := m.AcceptedAt.Add(2 * time.Minute)
	x := &relay.Escalated{Message: "M1", Incident: "fire", Policy: "db", Round: 1, Step: 0, Due: at, At: at, Notified: []string{"kim"},
		Reopen:   []relay.DeliveryChange{{ID: "M1.sms.kim", Status: relay.StatusPending, Round: 1, Attempt: 1, At: at, NextAt: at}},
		Deadline: at.Add(3 * time.Hour)}
	if _, err := s.Append(ctx, relay.Event{Escalated: x}); err != nil {
		t.Fatal(err)
	}
	d, err := s.Delivery("M1.sms.kim")
	if err != nil || d.Status != relay.StatusPending || d.Round != 1 || !d.Deadline.Equal(at.Add(3*time.Hour)) {
		t.Errorf("reopened delivery = %+v, %v", d, err)
	}
}

// A snapshot from a node without escalations (no such buckets) restores:
// the buckets come back empty.
func TestRestoreSnapshotWithoutEscalationBuckets(t *testing.T) {
	ctx := context.Background()
	s := open(t, t.TempDir(), "seoul")
	defer s.Close()
	if _, err := s.Append(ctx, relay.Event{Message: testMessage("M1", "fire", "kim")}); err != nil {
		t.Fatal(err)
	}
	snap := filepath.Join(t.TempDir(), "snap.db")
	if _, err := s.WriteSnapshot(snap); err != nil {
		t.Fatal(err)
	}
	db, err := bolt.Open(snap, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	err = db.Update(func(tx *bolt.Tx) error {
		for _, b := range optionalBuckets {
			if err := tx.DeleteBucket(b); err != nil {
				return err
			}
		}
		return nil
	})
	if err = errors.Join(err, db.Close()); err != nil {
		t.Fatal(err)
	}
	q := open(t, t.TempDir(), "tokyo")
	defer q.Close()
	if err := q.Restore(ctx, snap); err != nil {
		t.Fatalf("restore of an older snapshot: %v", err)
	}
	if _, err := q.Message("M1"); err != nil {
		t.Fatal(err)
	}
	if _, err := q.Append(ctx, relay.Event{Message: escalatingMessage()}); err != nil {
		t.Fatal(err)
	}
	if ids, err := q.Escalating(); err != nil || len(ids) != 1 {
		t.Errorf("escalating after the restore = %v, %v", ids, err)
	}
}
