package main

import (
	"fmt"
	"testing"
	"time"

	"github.com/oob-relay/relay/channels/twilio/emulator/emulatortest"
	"github.com/oob-relay/relay/internal/testkit"
	"github.com/oob-relay/relay/relay"
)

// canaryPhone is the test phone the canaries go to.
const canaryPhone = "+821099990000"

// Two SMS providers on three relay serve processes, named alike on every
// node as a shared config has them: twilio-a first, with a canary in the
// config file (every minute, late after 5 s), then twilio-b, each with
// its own sender number. The emulator withholds the canary's receipt:
// twilio-a is demoted on every node (relay_delivery_provider_demoted)
// and a real message then goes out through twilio-b, its receipt in.
func TestCanaryDemotesAcrossRelayServe(t *testing.T) {
	const fromA, fromB = "+82270100001", "+82270200002"
	cl := startCluster(t, clusterSpec{nodes: 3, people: 2, receipts: true,
		sinks: func(s *sinks) { s.emu.LoseCallbacks(canaryPhone) },
		smsProviders: func(s *sinks, _ *clusterNode) string {
			var out string
			for _, p := range []struct{ name, from, canary string }{
				{"twilio-a", fromA, fmt.Sprintf("\n        canary: {to: \"%s\", every: 1m, late_after: 5s}", canaryPhone)},
				{"twilio-b", fromB, ""},
			} {
				out += fmt.Sprintf("\n      - name: %s\n        twilio:\n          account_sid: %s\n          auth_token_env: TEST_TWILIO_TOKEN\n"+
					"          from: \"%s\"\n          api_url: %s%s", p.name, emulatortest.AccountSID, p.from, s.emu.URL(), p.canary)
			}
			return out
		}})
	const demoted = `relay_delivery_provider_demoted{channel="sms",provider="twilio-a"}`
	testkit.EventuallyNil(t, 60*time.Second, func() error {
		for i, n := range cl.nodes {
			if m := cl.metrics(i); m[demoted] != 1 || m[`relay_delivery_provider_demoted{channel="sms",provider="twilio-b"}`] != 0 {
				return fmt.Errorf("%s: %s = %v", n.name, demoted, m[demoted])
			}
		}
		return nil
	})
	canaries := cl.s.smsArrivals("")
	for _, a := range canaries {
		if a.to != canaryPhone || a.from != fromA {
			t.Errorf("before any post, an SMS to %s from %s; want only canaries to %s from twilio-a", a.to, a.from, canaryPhone)
		}
	}
	if len(canaries) == 0 {
		t.Fatalf("no canary reached the emulator")
	}

	// A real message: through twilio-b, from whichever node sends it.
	acc, err := cl.nodes[0].c.Post(t.Context(), &relay.Post{Incident: "canary-demoted", Text: "공급자 강등 확인",
		To: []string{"group:all"}, Severity: relay.SeverityCritical, Channels: []string{relay.ChannelSMS}}, "")
	if err != nil {
		t.Fatal(err)
	}
	testkit.EventuallyNil(t, 60*time.Second, func() error {
		v, err := cl.nodes[1].c.Message(t.Context(), acc.ID)
		if err != nil {
			return err
		}
		if len(v.Deliveries) != 2 {
			return fmt.Errorf("%d deliveries", len(v.Deliveries))
		}
		for _, d := range v.Deliveries {
			if d.Status != relay.StatusDelivered || d.Provider != "twilio-b" {
				return fmt.Errorf("delivery %s: %s by %q", d.ID, d.Status, d.Provider)
			}
		}
		return nil
	})
	got := cl.s.smsArrivals("공급자 강등 확인")
	if len(got) != 2 {
		t.Fatalf("%d SMS of the message, want 2: %+v", len(got), got)
	}
	for _, a := range got {
		if a.from != fromB {
			t.Errorf("the message reached %s from %s, want twilio-b's %s", a.to, a.from, fromB)
		}
	}
}
