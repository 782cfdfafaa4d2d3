package store

import (
	"crypto/ed25519"
	"fmt"
	"testing"
	"time"

	"github.com/oob-relay/relay/relay"
	"github.com/oob-relay/relay/relay/hlc"
	"github.com/oob-relay/relay/relay/trust"
)

// BenchmarkEventSignature is what a node key costs per event: signing
// (SigningBytes and ed25519) on the node that writes the event, and
// verifying on every node that merges it, for the events a node writes
// most (a delivery's result) and for a post to 100 people.
func BenchmarkEventSignature(b *testing.B) {
	signer, err := trust.LoadOrCreate(b.TempDir(), "seoul")
	if err != nil {
		b.Fatal(err)
	}
	keys := trust.NewKeyring(map[string][]ed25519.PublicKey{"seoul": {signer.Public()}})
	now := time.Date(2026, 12, 2, 9, 0, 0, 0, time.UTC)
	people := make([]string, 100)
	for i := range people {
		people[i] = fmt.Sprintf("p%03d", i)
	}
	for _, ev := range []struct {
		name string
		e    relay.Event
	}{
		{"delivery", relay.Event{Deliveries: []relay.DeliveryChange{{ID: relay.DeliveryID("01JDX0M1", "sms", "kim"),
			Status: relay.StatusDelivered, Attempt: 1, Provider: "twilio-main", ProviderID: "SM0123456789abcdef0123456789abcdef", At: now}}}},
		{"post100", relay.Event{Message: testMessage("01JDX0M1", "idc-fire", people...)}},
	} {
		e := ev.e
		e.Origin, e.Seq, e.Clock, e.Node = "01JDX0ORIGIN", 42, hlc.Make(now, 0), "seoul"
		msg, err := e.SigningBytes()
		if err != nil {
			b.Fatal(err)
		}
		e.Sig = signer.Sign(msg)
		b.Run(ev.name+"/sign", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				c := e
				c.Sig = nil
				msg, err := c.SigningBytes()
				if err != nil {
					b.Fatal(err)
				}
				c.Sig = signer.Sign(msg)
			}
		})
		b.Run(ev.name+"/verify", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if err := keys.VerifyEvent(&e); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
