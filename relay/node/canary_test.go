package node_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/oob-relay/relay/internal/testkit"
	"github.com/oob-relay/relay/relay"
	"github.com/oob-relay/relay/relay/node"
)

// A canary whose receipt does not come demotes its provider: real
// deliveries go to the next provider of the channel. Once a canary's
// receipt comes again the provider is promoted, and deliveries go back.
func TestCanaryGoingLateDemotesItsProvider(t *testing.T) {
	const canaryPhone = "+821099990000"
	kim := relay.Person{ID: "kim", Name: "김민수", Phone: "+821011110001"}
	r := startRig(t, rigOptions{People: []relay.Person{kim}, Deadline: time.Minute,
		Canaries: []node.Canary{{Provider: rigAccounts[0].sms, To: canaryPhone, Every: 2 * time.Second, LateAfter: time.Second}}})
	a, b := r.a().em, r.b().em
	a.LoseCallbacks(canaryPhone)

	// standing waits until the log holds the provider's standing and the
	// engine, which applies it from the log a moment later, sends by it
	// (its gauge says so).
	standing := func(demoted bool) {
		t.Helper()
		testkit.EventuallyNil(t, 20*time.Second, func() error {
			ds, err := r.node.Store().Demotions()
			if err != nil {
				return err
			}
			if d := ds[rigAccounts[0].sms]; d.Demoted != demoted || d.Provider == "" {
				return fmt.Errorf("standing of %s: %+v, want demoted %v", rigAccounts[0].sms, d, demoted)
			}
			want := map[bool]float64{false: 0, true: 1}[demoted]
			if got := testkit.Metric(t, r.reg, "relay_delivery_provider_demoted", "provider", rigAccounts[0].sms); got != want {
				return fmt.Errorf("relay_delivery_provider_demoted = %v, want %v", got, want)
			}
			return nil
		})
	}
	// sentBy posts to kim and returns the provider that delivered it.
	sentBy := func(text string) string {
		t.Helper()
		m := r.post(t.Context(), text, relay.ChannelSMS, "kim")
		id := relay.DeliveryID(m.ID, relay.ChannelSMS, "kim")
		var d *relay.Delivery
		testkit.Eventually(t, 20*time.Second, "delivered", func() bool {
			d = r.delivery(id)
			return d.Status == relay.StatusDelivered
		})
		return d.Provider
	}
	standing(true)
	if p := sentBy("demoted"); p != rigAccounts[1].sms {
		t.Errorf("delivered by %s while %s is demoted, want %s", p, rigAccounts[0].sms, rigAccounts[1].sms)
	}
	for _, m := range b.Messages() {
		if m.To == canaryPhone {
			t.Errorf("a canary of %s went through %s", rigAccounts[0].sms, rigAccounts[1].sms)
		}
	}
	a.ClearFaults()
	standing(false)
	if p := sentBy("promoted"); p != rigAccounts[0].sms {
		t.Errorf("delivered by %s after %s was promoted", p, rigAccounts[0].sms)
	}
	if !strings.Contains(r.logs.String(), "provider demoted behind the others of its channel") {
		t.Errorf("no log line says the provider was demoted:\n%s", r.logs.String())
	}
}
