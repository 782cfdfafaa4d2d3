package delivery

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/oob-relay/relay/internal/testkit"
	"github.com/oob-relay/relay/relay"
)

// TestCircuits: a provider that fails every attempt shows open, with the
// time its probe may go; the one beside it that takes them shows closed.
func TestCircuits(t *testing.T) {
	down := newScripted(func(*relay.Outgoing, int) (relay.Receipt, error) {
		return relay.Receipt{}, relay.Temporary(relay.ReasonUnavailable, errors.New("503 service unavailable"))
	})
	up := newScripted(func(*relay.Outgoing, int) (relay.Receipt, error) { return relay.Receipt{ProviderID: "ok"}, nil })
	r := newRig(t, t.TempDir(), Options{Workers: 1,
		Providers: []Provider{{Name: "down", Channel: "sms", Sender: down}, {Name: "up", Channel: "sms", Sender: up}},
		Breaker:   Breaker{Threshold: 2, Cooldown: time.Hour, MaxCooldown: time.Hour}})
	if got := r.engine.Circuits(); len(got) != 2 || got[0].State != CircuitClosed || got[1].State != CircuitClosed {
		t.Fatalf("before any attempt: %+v", got)
	}
	var people []string
	for i := range 10 {
		people = append(people, fmt.Sprintf("p%d", i))
	}
	r.post(message("M1", time.Minute, people...))
	testkit.Eventually(t, 10*time.Second, "the failing provider's circuit open", func() bool {
		got := r.engine.Circuits()
		return len(got) == 2 && got[0].Provider == "down" && got[0].State == CircuitOpen && got[0].Until.After(time.Now().Add(50*time.Minute)) &&
			got[1].Provider == "up" && got[1].State == CircuitClosed && got[0].Channel == "sms"
	})
}
