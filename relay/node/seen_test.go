package node_test

import (
	"context"
	"testing"
	"time"

	"github.com/oob-relay/relay/internal/testkit"
	"github.com/oob-relay/relay/relay"
	"github.com/oob-relay/relay/relay/delivery"
	"github.com/oob-relay/relay/relay/node"
)

// A request one member remembers is seen by the others, and by that
// member after a restart on its data dir; upkeep forgets it once its time
// has passed, on every member alike.
func TestSeenIsSharedAndKept(t *testing.T) {
	clock := testkit.NewClock(time.Now())
	opts := func(dir string) node.Options {
		return node.Options{DataDir: dir, Now: clock.Now, Deadline: func(relay.Severity) time.Duration { return time.Hour },
			Providers: []delivery.Provider{{Name: "sms", Channel: relay.ChannelSMS, Sender: &testkit.Sender{}}}}
	}
	dirA := t.TempDir()
	a := startMemberWith(t, "node-a", "", nil, opts(dirA))
	b := startMemberWith(t, "node-b", a.ms.LocalAddr(), nil, opts(t.TempDir()))
	settleMembership(t, a, b)

	const key = "twilio:sms:SM0123456789abcdef0123456789abcdef"
	if err := a.n.Remember(t.Context(), key, clock.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	testkit.Eventually(t, 10*time.Second, "the key seen on node B", func() bool {
		ok, err := b.n.Seen(key)
		return err == nil && ok
	})

	a.stop()
	a = startMemberWith(t, "node-a", b.ms.LocalAddr(), nil, opts(dirA))
	if ok, err := a.n.Seen(key); err != nil || !ok {
		t.Fatalf("node A after a restart: seen %v, %v; want the key", ok, err)
	}

	clock.Add(time.Hour)
	for _, m := range []*member{a, b} {
		if ok, _ := m.n.Seen(key); ok {
			t.Errorf("%s still sees the key once its time passed", m.n.Name())
		}
		up, err := m.n.Upkeep(context.Background())
		if err != nil || up.Expired != 1 {
			t.Errorf("%s upkeep: %+v, %v; want the key expired", m.n.Name(), up, err)
		}
	}
}
