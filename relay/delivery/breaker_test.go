package delivery

import (
	"errors"
	"fmt"
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
	for i := range breakerThreshold {
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
	var b breaker
	now := time.Unix(0, 0)
	for i := range breakerThreshold {
		if opened := b.failure(now); opened != (i == breakerThreshold-1) {
			t.Fatalf("failure %d: opened = %v", i+1, opened)
		}
	}
	if b.allow(now.Add(breakerCooldown - time.Millisecond)) {
		t.Fatal("allowed during the cool-down")
	}
	if !b.allow(now.Add(breakerCooldown)) {
		t.Fatal("no probe after the cool-down")
	}
	if b.allow(now.Add(breakerCooldown)) {
		t.Fatal("a second probe while the first is in flight")
	}
	if !b.failure(now.Add(breakerCooldown)) || b.cooldown != 2*breakerCooldown {
		t.Fatalf("failed probe: cooldown %v, want doubled", b.cooldown)
	}
	if !b.allow(now.Add(3*breakerCooldown)) || !b.success() || !b.allow(now.Add(3*breakerCooldown)) {
		t.Fatal("a successful probe did not close the breaker")
	}
}
