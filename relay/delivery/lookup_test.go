package delivery

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/oob-relay/relay/relay"
	"github.com/oob-relay/relay/relay/store"
)

// tracking is a Sender that is also a relay.Tracker, with scripted
// answers.
type tracking struct {
	*scripted
	mu     sync.Mutex
	find   func(out *relay.Outgoing, since time.Time) (relay.Report, bool, error)
	track  func(id string) (relay.Report, error)
	finds  int
	tracks []time.Time
}

func (t *tracking) Find(_ context.Context, out *relay.Outgoing, since time.Time) (relay.Report, bool, error) {
	t.mu.Lock()
	t.finds++
	t.mu.Unlock()
	return t.find(out, since)
}

func (t *tracking) Track(_ context.Context, id string) (relay.Report, error) {
	t.mu.Lock()
	t.tracks = append(t.tracks, time.Now())
	t.mu.Unlock()
	return t.track(id)
}

// orphanRig stores message M1 for kim with its delivery left sending by
// node busan at claimedAt (busan died mid-attempt), then starts an
// engine of node seoul over the store.
func orphanRig(t *testing.T, snd relay.Sender, claimedAt time.Time, reg prometheus.Registerer) *rig {
	t.Helper()
	dir := t.TempDir()
	s, err := store.Open(store.Options{Dir: dir, Node: "seoul"})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if _, err := s.Append(ctx, relay.Event{Message: message("M1", time.Minute, "kim")}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Append(ctx, relay.Event{Deliveries: []relay.DeliveryChange{{ID: "M1.sms.kim", Status: relay.StatusSending,
		Attempt: 1, Provider: "tw", Owner: "busan", At: claimedAt}}}); err != nil {
		t.Fatal(err)
	}
	e, err := New(Options{Store: s, Node: "seoul", Registerer: reg, Providers: []Provider{{Name: "tw", Channel: "sms", Sender: snd}},
		Backoff: Backoff{Initial: 5 * time.Millisecond, Max: 20 * time.Millisecond}})
	if err != nil {
		t.Fatal(err)
	}
	if err := e.Start(); err != nil {
		t.Fatal(err)
	}
	r := &rig{t: t, dir: dir, store: s, engine: e}
	t.Cleanup(r.close)
	return r
}

// TestOrphanFoundAtProviderIsNotSentAgain: the provider holds the attempt
// the dead node made; the delivery is recorded as that attempt, with its
// provider id, and not sent again.
func TestOrphanFoundAtProviderIsNotSentAgain(t *testing.T) {
	claimed := time.Now().Add(-3 * time.Second)
	var since time.Time
	snd := &tracking{scripted: newScripted(nil), find: func(out *relay.Outgoing, s time.Time) (relay.Report, bool, error) {
		since = s
		return relay.Report{ProviderID: "SM-from-busan", Status: relay.StatusDelivered, Segments: 1}, out.DeliveryID == "M1.sms.kim", nil
	}}
	reg := prometheus.NewRegistry()
	r := orphanRig(t, snd, claimed, reg)
	d := r.settle("M1", 5*time.Second)[0]
	if d.Status != relay.StatusDelivered || d.ProviderID != "SM-from-busan" || d.Segments != 1 {
		t.Fatalf("delivery = %+v, want delivered as the attempt the provider held", d)
	}
	if n := snd.count("M1.sms.kim"); n != 0 {
		t.Fatalf("sent %d times although the provider held the attempt", n)
	}
	if since.After(claimed) || claimed.Sub(since) > 5*time.Second {
		t.Fatalf("looked up since %v, want shortly before the claim at %v", since, claimed)
	}
	if got := testutil.ToFloat64(r.engine.m.lookups.WithLabelValues("sms", "found")); got != 1 {
		t.Fatalf("lookups found = %v, want 1", got)
	}
}

// TestOrphanNotFoundIsSent: the provider holds no such attempt, so the
// dead node never sent it: it is sent, once.
func TestOrphanNotFoundIsSent(t *testing.T) {
	snd := &tracking{scripted: newScripted(nil), find: func(*relay.Outgoing, time.Time) (relay.Report, bool, error) {
		return relay.Report{}, false, nil
	}}
	r := orphanRig(t, snd, time.Now(), nil)
	d := r.settle("M1", 5*time.Second)[0]
	if d.Status != relay.StatusSent || snd.count("M1.sms.kim") != 1 || d.Attempts != 2 {
		t.Fatalf("delivery = %+v after %d sends, want sent once on attempt 2", d, snd.count("M1.sms.kim"))
	}
}

// TestOrphanLookupFailureStillSends: a lookup that fails (the provider's
// API is down, or cannot tell) is no reason to hold a delivery back.
func TestOrphanLookupFailureStillSends(t *testing.T) {
	for name, err := range map[string]error{
		"error":       relay.Temporary(relay.ReasonUnavailable, errors.New("503")),
		"unsupported": relay.Permanent(relay.ReasonProvider, errors.ErrUnsupported),
	} {
		t.Run(name, func(t *testing.T) {
			snd := &tracking{scripted: newScripted(nil), find: func(*relay.Outgoing, time.Time) (relay.Report, bool, error) {
				return relay.Report{}, false, err
			}}
			reg := prometheus.NewRegistry()
			r := orphanRig(t, snd, time.Now(), reg)
			d := r.settle("M1", 5*time.Second)[0]
			if d.Status != relay.StatusSent || snd.count("M1.sms.kim") != 1 {
				t.Fatalf("delivery = %+v after %d sends, want sent once", d, snd.count("M1.sms.kim"))
			}
			if got := testutil.ToFloat64(r.engine.m.lookups.WithLabelValues("sms", name)); got != 1 {
				t.Fatalf("lookups %s = %v, want 1", name, got)
			}
		})
	}
}

// TestFreshDeliveriesAreNotLookedUp: only a delivery found in flight is
// looked up; a fan-out costs no lookups.
func TestFreshDeliveriesAreNotLookedUp(t *testing.T) {
	snd := &tracking{scripted: newScripted(nil), find: func(*relay.Outgoing, time.Time) (relay.Report, bool, error) {
		return relay.Report{}, false, nil
	}}
	r := newRig(t, t.TempDir(), Options{Providers: []Provider{{Name: "tw", Channel: "sms", Sender: snd}}})
	r.post(message("M1", time.Minute, "kim", "lee", "park"))
	r.settle("M1", 5*time.Second)
	if snd.finds != 0 {
		t.Fatalf("%d lookups for a fresh fan-out", snd.finds)
	}
}

// TestLateReceiptIsFetched: an SMS whose receipt never comes is asked
// about after the receipt timeout, and the provider's answer recorded.
func TestLateReceiptIsFetched(t *testing.T) {
	snd := &tracking{scripted: newScripted(nil), track: func(id string) (relay.Report, error) {
		return relay.Report{ProviderID: id, Status: relay.StatusDelivered}, nil
	}}
	var r *rig
	receipt := func(ctx context.Context, id string, rep relay.Report) error {
		d, err := r.store.Delivery(id)
		if err != nil {
			return err
		}
		_, err = r.store.Append(ctx, relay.Event{Deliveries: []relay.DeliveryChange{{ID: id, Status: rep.Status,
			Attempt: d.Attempts, Provider: d.Provider, ProviderID: rep.ProviderID, At: time.Now()}}})
		return err
	}
	r = newRig(t, t.TempDir(), Options{Providers: []Provider{{Name: "tw", Channel: "sms", Sender: snd}},
		ReceiptTimeout: 100 * time.Millisecond, Receipt: receipt})
	r.post(message("M1", time.Minute, "kim"))
	deadline := time.Now().Add(5 * time.Second)
	for {
		d, err := r.store.Delivery("M1.sms.kim")
		if err == nil && d.Status == relay.StatusDelivered {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("delivery = %+v, %v; want delivered from the provider's answer", d, err)
		}
		time.Sleep(10 * time.Millisecond)
	}
	// The count follows the record by a moment.
	for deadline := time.Now().Add(5 * time.Second); testutil.ToFloat64(r.engine.m.receiptChecks.WithLabelValues("sms", "final")) != 1; {
		if time.Now().After(deadline) {
			t.Fatalf("receipt checks final = %v, want 1", testutil.ToFloat64(r.engine.m.receiptChecks.WithLabelValues("sms", "final")))
		}
		time.Sleep(5 * time.Millisecond)
	}
	awaiting, err := r.store.AwaitingReceipts()
	if err != nil || len(awaiting) != 0 {
		t.Fatalf("still awaiting receipts: %v, %v", awaiting, err)
	}
}

// TestLateReceiptWithoutNewsBacksOff: while the provider has no news, it
// is asked again after twice the wait each time, not every round.
func TestLateReceiptWithoutNewsBacksOff(t *testing.T) {
	snd := &tracking{scripted: newScripted(nil), track: func(id string) (relay.Report, error) {
		return relay.Report{ProviderID: id, Status: relay.StatusSent}, nil
	}}
	const timeout = 100 * time.Millisecond
	r := newRig(t, t.TempDir(), Options{Providers: []Provider{{Name: "tw", Channel: "sms", Sender: snd}},
		ReceiptTimeout: timeout, Receipt: func(context.Context, string, relay.Report) error { return nil }})
	r.post(message("M1", time.Minute, "kim"))
	time.Sleep(16 * timeout)
	snd.mu.Lock()
	tracks := append([]time.Time(nil), snd.tracks...)
	snd.mu.Unlock()
	// Checks at about 1, 3 and 7 timeouts after the send (then 15).
	if len(tracks) < 2 || len(tracks) > 4 {
		t.Fatalf("%d checks in 16 receipt timeouts, want 2 to 4 (waits doubling)", len(tracks))
	}
	for i := 1; i < len(tracks); i++ {
		if gap := tracks[i].Sub(tracks[i-1]); gap < (timeout<<i)*3/4 {
			t.Fatalf("check %d came %v after the one before, want about %v", i+1, gap, timeout<<i)
		}
	}
}
