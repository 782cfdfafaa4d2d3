package store

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/oob-relay/relay/relay"
)

// A provider's standing is the verdict with the latest clock whatever
// order verdicts arrive in; a node cannot give a verdict, nor record a
// canary sent, in another's name; a receipt that comes before its
// attempt's record is kept.
func TestCanaryStepsFoldAnyOrderAndOnlyFromTheirNode(t *testing.T) {
	ctx := context.Background()
	seoul := open(t, t.TempDir(), "seoul-1")
	defer seoul.Close()
	busan := open(t, t.TempDir(), "busan-1")
	defer busan.Close()
	at := time.Date(2026, 12, 2, 5, 0, 0, 0, time.UTC)
	id := relay.CanaryID("twilio-a", at)
	step := func(s *Store, c relay.Canary) relay.Event {
		t.Helper()
		c.Provider, c.Channel = "twilio-a", relay.ChannelSMS
		evs, err := s.Append(ctx, relay.Event{Canary: &c})
		if err != nil {
			t.Fatal(err)
		}
		return evs[0]
	}
	evs := []relay.Event{
		step(busan, relay.Canary{ID: id, Receipt: &relay.CanaryReceipt{ProviderID: "SM1", Status: relay.StatusDelivered, At: at.Add(time.Second)}}),
		step(seoul, relay.Canary{ID: id, Sent: &relay.CanarySent{ProviderID: "SM1", At: at, By: "seoul-1"}}),
		step(seoul, relay.Canary{Verdict: &relay.CanaryVerdict{Demoted: true, Reason: "late", At: at, By: "seoul-1"}}),
		step(seoul, relay.Canary{Verdict: &relay.CanaryVerdict{Demoted: false, Reason: "healthy", At: at.Add(time.Minute), By: "seoul-1"}}),
		// busan-1 writes in seoul-1's name: ignored.
		step(busan, relay.Canary{Verdict: &relay.CanaryVerdict{Demoted: true, Reason: "forged", At: at.Add(time.Hour), By: "seoul-1"}}),
		step(busan, relay.Canary{ID: relay.CanaryID("twilio-a", at.Add(time.Hour)), Sent: &relay.CanarySent{ProviderID: "SM2", At: at.Add(time.Hour), By: "seoul-1"}}),
	}
	for _, order := range [][]int{{0, 1, 2, 3, 4, 5}, {5, 4, 3, 2, 1, 0}, {3, 0, 5, 2, 4, 1}} {
		s := open(t, t.TempDir(), "tokyo-1")
		for _, i := range order {
			if _, err := s.Merge(ctx, []relay.Event{evs[i]}); err != nil {
				t.Fatal(err)
			}
		}
		ds, err := s.Demotions()
		if err != nil {
			t.Fatal(err)
		}
		if d := ds["twilio-a"]; d.Demoted || d.Reason != "healthy" || d.By != "seoul-1" {
			t.Errorf("order %v: standing %+v, want promoted by seoul-1", order, d)
		}
		last, err := s.LatestCanary("twilio-a")
		if err != nil {
			t.Fatal(err)
		}
		if last.ID != id || last.Sent == nil || last.Receipt == nil || last.Receipt.Status != relay.StatusDelivered {
			t.Errorf("order %v: latest canary %+v", order, last)
		}
		s.Close()
	}
}

// A drill started twice (a scheduled drill fired by two nodes) is kept
// once, as its earliest start.
func TestDrillKeepsItsEarliestStart(t *testing.T) {
	ctx := context.Background()
	a := open(t, t.TempDir(), "seoul-1")
	defer a.Close()
	b := open(t, t.TempDir(), "busan-1")
	defer b.Close()
	d := relay.Drill{ID: "d1", Incident: "drill-20261202-1400", Message: "m1", To: []string{"everyone"}, Text: "훈련"}
	first, err := a.Append(ctx, relay.Event{Drill: &relay.Drill{ID: d.ID, Incident: d.Incident, Message: d.Message, StartedBy: "seoul-1"}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b.Merge(ctx, first); err != nil {
		t.Fatal(err)
	}
	second, err := b.Append(ctx, relay.Event{Drill: &relay.Drill{ID: d.ID, Incident: d.Incident, Message: d.Message, StartedBy: "busan-1"}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := a.Merge(ctx, second); err != nil {
		t.Fatal(err)
	}
	for _, s := range []*Store{a, b} {
		got, err := s.Drill("d1")
		if err != nil {
			t.Fatal(err)
		}
		all, err := s.Drills()
		if err != nil {
			t.Fatal(err)
		}
		if got.StartedBy != "seoul-1" || len(all) != 1 {
			t.Errorf("drill %+v of %d, want seoul-1's, once", got, len(all))
		}
	}
}

// Canary attempts older than the cutoff are removed, whether known by
// their sending or only by a receipt; later ones and the providers'
// standings stay. A late event about a removed attempt brings back a
// record as old, which the next round removes again.
func TestPruneCanariesPastTheirKeep(t *testing.T) {
	ctx := context.Background()
	s := open(t, t.TempDir(), "seoul-1")
	defer s.Close()
	now := time.Date(2026, 12, 9, 5, 0, 0, 0, time.UTC)
	cutoff := now.Add(-7 * 24 * time.Hour)
	var old, kept []string
	for i := range 300 { // every 10 minutes for 50 hours across the cutoff
		at := cutoff.Add(-25 * time.Hour).Add(time.Duration(i) * 10 * time.Minute)
		id := relay.CanaryID("twilio-a", at)
		c := relay.Canary{ID: id, Provider: "twilio-a", Channel: relay.ChannelSMS,
			Sent: &relay.CanarySent{ProviderID: fmt.Sprintf("SM%d", i), At: at, By: "seoul-1"}}
		if i%5 == 0 { // known only by its receipt
			c.Sent, c.Receipt = nil, &relay.CanaryReceipt{ProviderID: fmt.Sprintf("SM%d", i), Status: relay.StatusDelivered, At: at}
		}
		if _, err := s.Append(ctx, relay.Event{Canary: &c}); err != nil {
			t.Fatal(err)
		}
		if at.Before(cutoff) {
			old = append(old, id)
		} else {
			kept = append(kept, id)
		}
	}
	verdict := relay.Canary{Provider: "twilio-a", Channel: relay.ChannelSMS,
		Verdict: &relay.CanaryVerdict{Demoted: true, Reason: "late", At: cutoff.Add(-48 * time.Hour), By: "seoul-1"}}
	if _, err := s.Append(ctx, relay.Event{Canary: &verdict}); err != nil {
		t.Fatal(err)
	}

	n, err := s.PruneCanaries(ctx, cutoff)
	if err != nil || n != len(old) {
		t.Fatalf("PruneCanaries = %d, %v; want %d removed", n, err, len(old))
	}
	for _, id := range old {
		if _, err := s.CanaryAttempt(id); !errors.Is(err, relay.ErrNotFound) {
			t.Fatalf("attempt %s past the keep: %v, want it removed", id, err)
		}
	}
	for _, id := range kept {
		if _, err := s.CanaryAttempt(id); err != nil {
			t.Fatalf("attempt %s within the keep: %v", id, err)
		}
	}
	if last, err := s.LatestCanary("twilio-a"); err != nil || last.ID != kept[len(kept)-1] {
		t.Errorf("latest canary %+v, %v; want %s", last, err, kept[len(kept)-1])
	}
	if ds, err := s.Demotions(); err != nil || !ds["twilio-a"].Demoted {
		t.Errorf("standing %+v, %v; want it kept, demoted", ds, err)
	}
	if n, err := s.PruneCanaries(ctx, cutoff); err != nil || n != 0 {
		t.Errorf("a second round removed %d, %v; want nothing", n, err)
	}

	// A receipt for a removed attempt comes late.
	late := relay.Canary{ID: old[1], Provider: "twilio-a", Channel: relay.ChannelSMS,
		Receipt: &relay.CanaryReceipt{ProviderID: "SM1", Status: relay.StatusDelivered, At: cutoff.Add(-time.Hour)}}
	if _, err := s.Append(ctx, relay.Event{Canary: &late}); err != nil {
		t.Fatal(err)
	}
	if n, err := s.PruneCanaries(ctx, cutoff); err != nil || n != 1 {
		t.Errorf("after a late receipt: removed %d, %v; want it again", n, err)
	}
}
