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

// TestSentToOrBy: an incident concerns a person when one of its
// messages went to them (by an escalation step too, or with its
// deliveries packed) or when they wrote one.
func TestSentToOrBy(t *testing.T) {
	s := open(t, t.TempDir(), "seoul")
	defer s.Close()
	ctx := context.Background()
	m1 := testMessage("M1", "fire", "kim")
	reply := testMessage("M2", "fire")
	reply.Author = "choi"
	step := &relay.Escalated{Message: "M1", Incident: "fire", Step: 1, At: m1.AcceptedAt.Add(5 * time.Minute),
		Recipients: []relay.Recipient{{Person: relay.Person{ID: "park", Email: "park@example.com"}, Channels: []string{"email"}}}}
	if _, err := s.Append(ctx, relay.Event{Message: m1}, relay.Event{Message: reply}, relay.Event{Escalated: step}); err != nil {
		t.Fatal(err)
	}
	check := func(when string, want map[string]bool) {
		t.Helper()
		for person, w := range want {
			if got, err := s.SentToOrBy("fire", person); err != nil || got != w {
				t.Errorf("%s: SentToOrBy(fire, %s) = %v, %v; want %v", when, person, got, err, w)
			}
		}
	}
	check("at first", map[string]bool{"kim": true, "park": true, "choi": true, "lee": false})
	m3 := testMessage("M3", "fire", "lee")
	if _, err := s.Append(ctx, relay.Event{Message: m3}); err != nil {
		t.Fatal(err)
	}
	settleAll(t, s, m3)
	if n, err := s.Pack(ctx, m3.Deadline.Add(time.Minute)); err != nil || n != 1 {
		t.Fatalf("Pack = %d, %v; want M3 packed", n, err)
	}
	check("with M3 packed", map[string]bool{"kim": true, "park": true, "choi": true, "lee": true, "jung": false})
	if got, err := s.SentToOrBy("no-such-incident", "kim"); err != nil || got {
		t.Errorf("SentToOrBy of an incident without messages = %v, %v; want false", got, err)
	}
}
