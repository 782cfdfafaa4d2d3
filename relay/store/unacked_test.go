package store

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/oob-relay/relay/relay"
)

// TestUnacked lists the messages of an incident that went to a person
// and that they have not acknowledged: the people a message was posted
// to and those an escalation step added, not the others, not after
// their acknowledgement, and still once the message's deliveries are
// packed.
func TestUnacked(t *testing.T) {
	s := open(t, t.TempDir(), "seoul")
	defer s.Close()
	ctx := context.Background()
	m1, m2 := testMessage("M1", "fire", "kim", "lee"), testMessage("M2", "fire", "lee")
	other := testMessage("M3", "flood", "kim")
	step := &relay.Escalated{Message: "M1", Incident: "fire", Step: 1, At: m1.AcceptedAt.Add(5 * time.Minute),
		Recipients: []relay.Recipient{{Person: relay.Person{ID: "park", Email: "park@example.com"}, Channels: []string{"email"}}}}
	if _, err := s.Append(ctx, relay.Event{Message: m1}, relay.Event{Message: m2}, relay.Event{Message: other}, relay.Event{Escalated: step}); err != nil {
		t.Fatal(err)
	}
	check := func(when, person string, want ...string) {
		t.Helper()
		got, err := s.Unacked("fire", person)
		if err != nil || !slices.Equal(got, want) {
			t.Errorf("%s: Unacked(fire, %s) = %v, %v; want %v", when, person, got, err, want)
		}
	}
	check("at first", "kim", "M1")
	check("at first", "lee", "M1", "M2")
	check("at first", "park", "M1")
	check("at first", "choi")
	if _, err := s.Unacked("no-such-incident", "kim"); !errors.Is(err, relay.ErrNotFound) {
		t.Errorf("Unacked of an incident without messages: %v, want relay.ErrNotFound", err)
	}

	if _, err := s.Append(ctx, relay.Event{Ack: &relay.Ack{Message: "M1", Incident: "fire", Person: "lee", Channel: "sms", At: m1.AcceptedAt.Add(time.Minute)}}); err != nil {
		t.Fatal(err)
	}
	check("after lee acknowledged M1", "lee", "M2")
	check("after lee acknowledged M1", "kim", "M1")

	settleAll(t, s, m2)
	if n, err := s.Pack(ctx, m2.Deadline.Add(time.Minute)); err != nil || n == 0 {
		t.Fatalf("Pack = %d, %v; want M2 packed", n, err)
	}
	check("with M2 packed", "lee", "M2")
	check("with M2 packed", "kim", "M1")
}
