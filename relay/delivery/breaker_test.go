package delivery

import (
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/oob-relay/relay/relay"
)

// TestOpenCircuitSendsStraightToNextProvider: once the first provider has
// failed breakerThreshold times in a row, new deliveries skip it and go
// to the second provider on their first attempt.
func TestOpenCircuitSendsStraightToNextProvider(t *testing.T) {
	down := newScripted(func(*relay.Outgoing, int) (relay.Receipt, error) {
		return relay.Receipt{}, relay.Temporary(relay.ReasonNetwork, errors.New("connection refused"))
	})
	up := newScripted(nil)
	reg := prometheus.NewRegistry()
	r := newRig(t, t.TempDir(), Options{Workers: 1, Registerer: reg, Providers: []Provider{
		{Name: "primary", Channel: "sms", Sender: down}, {Name: "secondary", Channel: "sms", Sender: up}}})

	var people []string
	for i := range DefaultBreakerThreshold {
		people = append(people, fmt.Sprintf("p%d", i))
	}
	r.post(message("M1", time.Minute, people...))
	for _, d := range r.settle("M1", 5*time.Second) {
		if d.Status != relay.StatusSent || d.Provider != "secondary" {
			t.Fatalf("delivery = %+v, want sent by secondary", d)
		}
	}
	if got := testutil.ToFloat64(r.engine.m.breakerOpen.WithLabelValues("sms", "primary")); got != 1 {
		t.Fatalf("primary circuit gauge = %v, want 1 (open)", got)
	}
	before := len(down.order)
	r.post(message("M2", time.Minute, "late-1", "late-2", "late-3"))
	for _, d := range r.settle("M2", 5*time.Second) {
		if d.Status != relay.StatusSent || d.Provider != "secondary" || d.Attempts != 1 {
			t.Fatalf("delivery after the circuit opened = %+v, want sent by secondary on attempt 1", d)
		}
	}
	if n := len(down.order) - before; n != 0 {
		t.Fatalf("primary got %d attempts while its circuit was open", n)
	}
}

// TestProviderRefusalMovesToNextProvider: credentials refused by one
// account are the account's problem, not the recipient's: the delivery
// goes to the next provider instead of failing.
func TestProviderRefusalMovesToNextProvider(t *testing.T) {
	refused := newScripted(func(*relay.Outgoing, int) (relay.Receipt, error) {
		return relay.Receipt{}, relay.Permanent(relay.ReasonAuth, errors.New("401 authenticate"))
	})
	up := newScripted(nil)
	r := newRig(t, t.TempDir(), Options{Providers: []Provider{
		{Name: "primary", Channel: "sms", Sender: refused}, {Name: "secondary", Channel: "sms", Sender: up}}})
	r.post(message("M1", time.Minute, "kim"))
	d := r.settle("M1", 5*time.Second)[0]
	if d.Status != relay.StatusSent || d.Provider != "secondary" || d.Attempts != 2 {
		t.Fatalf("delivery = %+v, want sent by secondary on attempt 2", d)
	}
}

// TestRecipientErrorDoesNotFailOver: an invalid number fails at once; no
// other provider would do better.
func TestRecipientErrorDoesNotFailOver(t *testing.T) {
	invalid := newScripted(func(*relay.Outgoing, int) (relay.Receipt, error) {
		return relay.Receipt{}, relay.Permanent(relay.ReasonRecipient, errors.New("21211 invalid To"))
	})
	other := newScripted(nil)
	r := newRig(t, t.TempDir(), Options{Providers: []Provider{
		{Name: "primary", Channel: "sms", Sender: invalid}, {Name: "secondary", Channel: "sms", Sender: other}}})
	r.post(message("M1", time.Minute, "kim"))
	d := r.settle("M1", 5*time.Second)[0]
	if d.Status != relay.StatusFailed || d.Reason != relay.ReasonRecipient || d.Attempts != 1 || len(other.order) != 0 {
		t.Fatalf("delivery = %+v (secondary tried %d times), want failed as recipient after one attempt", d, len(other.order))
	}
}

func TestBreakerHalfOpenProbe(t *testing.T) {
	b := breaker{set: Breaker{}.WithDefaults()}
	breakerCooldown := b.set.Cooldown
	now := time.Unix(0, 0)
	for i := range b.set.Threshold {
		if opened := b.failure(now); opened != (i == b.set.Threshold-1) {
			t.Fatalf("failure %d: opened = %v", i+1, opened)
		}
	}
	if ok, _ := b.allow(now.Add(breakerCooldown - time.Millisecond)); ok {
		t.Fatal("allowed during the cool-down")
	}
	if ok, probe := b.allow(now.Add(breakerCooldown)); !ok || !probe {
		t.Fatal("no probe after the cool-down")
	}
	if ok, _ := b.allow(now.Add(breakerCooldown)); ok {
		t.Fatal("a second probe while the first is in flight")
	}
	if !b.failure(now.Add(breakerCooldown)) || b.cooldown != 2*breakerCooldown {
		t.Fatalf("failed probe: cooldown %v, want doubled", b.cooldown)
	}
	if ok, _ := b.allow(now.Add(3 * breakerCooldown)); !ok || !b.success() {
		t.Fatal("no second probe after the doubled cool-down")
	}
	if ok, probe := b.allow(now.Add(3 * breakerCooldown)); !ok || probe {
		t.Fatal("a successful probe did not close the breaker")
	}
}

// TestOpenBreakerWithoutAlternativeWaits: a channel's only provider
// fails every attempt. Once its breaker opens, the lane does not hammer
// it: the deliveries wait, and one probe goes per cool-down.
func TestOpenBreakerWithoutAlternativeWaits(t *testing.T) {
	var mu sync.Mutex
	var at []time.Time
	down := newScripted(func(*relay.Outgoing, int) (relay.Receipt, error) {
		mu.Lock()
		at = append(at, time.Now())
		mu.Unlock()
		return relay.Receipt{}, relay.Temporary(relay.ReasonUnavailable, errors.New("503 service unavailable"))
	})
	const cooldown = 250 * time.Millisecond
	r := newRig(t, t.TempDir(), Options{Workers: 1, Providers: []Provider{{Name: "only", Channel: "sms", Sender: down}},
		Backoff: Backoff{Initial: time.Millisecond, Max: time.Millisecond, Jitter: -1},
		Breaker: Breaker{Threshold: 3, Cooldown: cooldown, MaxCooldown: cooldown}})
	var people []string
	for i := range 20 {
		people = append(people, fmt.Sprintf("p%d", i))
	}
	start := time.Now()
	r.post(message("M1", time.Minute, people...))
	time.Sleep(6 * cooldown)
	elapsed := time.Since(start)

	mu.Lock()
	defer mu.Unlock()
	// Until the breaker opens (after Threshold failures) attempts go as
	// fast as the backoff lets them, and the claims made by then (one
	// worker's claimAhead slots) are still attempted; after that, one
	// probe per cool-down.
	const threshold = 3
	burst := threshold + claimAhead - 1
	limit := burst + int(elapsed/cooldown) + 1
	if len(at) > limit {
		t.Fatalf("%d attempts in %v with the only provider's circuit open, want at most %d", len(at), elapsed, limit)
	}
	if len(at) < threshold+3 {
		t.Fatalf("%d attempts in %v: the lane stopped probing the provider", len(at), elapsed)
	}
	for i := burst + 1; i < len(at); i++ {
		if gap := at[i].Sub(at[i-1]); gap < cooldown-10*time.Millisecond {
			t.Errorf("attempt %d came %v after the one before, want at least the cool-down %v", i+1, gap, cooldown)
		}
	}
}
