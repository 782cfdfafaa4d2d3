package cluster

import (
	"context"
	"crypto/ed25519"
	"slices"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/oob-relay/relay/internal/testkit"
	"github.com/oob-relay/relay/relay"
	"github.com/oob-relay/relay/relay/hlc"
	"github.com/oob-relay/relay/relay/store"
	"github.com/oob-relay/relay/relay/trust"
)

// trustedNet is a memNet whose nodes sign what they write and send, and
// believe only the keys of the names in keys.
type trustedNet struct {
	*memNet
	keys    *trust.Keyring
	signers map[string]*trust.Signer
}

func newTrustedNet(t *testing.T, seed uint64, trusted ...string) *trustedNet {
	tn := &trustedNet{memNet: newMemNet(seed), signers: map[string]*trust.Signer{}}
	pubs := map[string][]ed25519.PublicKey{}
	for _, name := range trusted {
		s, err := trust.LoadOrCreate(t.TempDir(), name)
		if err != nil {
			t.Fatal(err)
		}
		tn.signers[name] = s
		pubs[name] = []ed25519.PublicKey{s.Public()}
	}
	tn.keys = trust.NewKeyring(pubs)
	tn.storeOpts = func(name string, o *store.Options) {
		o.Signer = tn.signer(t, name)
		o.Verify = tn.keys.VerifyEvent
	}
	return tn
}

// signer returns name's key: the trusted one, or for a name with none a
// key of its own, which nobody trusts.
func (tn *trustedNet) signer(t *testing.T, name string) *trust.Signer {
	if s, ok := tn.signers[name]; ok {
		return s
	}
	s, err := trust.LoadOrCreate(t.TempDir(), name)
	if err != nil {
		t.Fatal(err)
	}
	tn.signers[name] = s
	return s
}

func (tn *trustedNet) add(t *testing.T, name string) *memNode {
	return tn.memNet.add(t, name, t.TempDir(), Options{Signer: tn.signer(t, name), Keys: tn.keys})
}

// TestSignedClusterReplicates: on an authenticated cluster, every node's
// events, signed by it, reach the others, relayed ones included, and every
// member counts once it proved its key.
func TestSignedClusterReplicates(t *testing.T) {
	tn := newTrustedNet(t, 21, "a", "b", "c")
	defer tn.close()
	a, b := tn.add(t, "a"), tn.add(t, "b")
	defer a.stop()
	defer b.stop()
	a.write(t, 20)
	b.write(t, 20)
	converged(t, 10*time.Second, a, b)
	// c comes later: a's and b's events reach it through anti-entropy too.
	c := tn.add(t, "c")
	defer c.stop()
	c.write(t, 5)
	tn.pushPull(a, c)
	converged(t, 10*time.Second, a, b, c)
	testkit.Eventually(t, 5*time.Second, "every member proved its key", func() bool {
		return slices.Equal(a.r.Members(), []string{"a", "b", "c"}) && slices.Equal(c.r.Members(), []string{"a", "b", "c"})
	})
}

// TestStrangersGetNothingAndChangeNothing: members of the gossip cluster
// without a trusted key (a stranger's name, or a trusted name with the
// wrong key) are sent no event, own no delivery and change nothing: their
// frames, their states and the events they push are refused and counted.
func TestStrangersGetNothingAndChangeNothing(t *testing.T) {
	tn := newTrustedNet(t, 22, "a", "b")
	defer tn.close()
	a := tn.add(t, "a")
	defer a.stop()
	mallory := tn.add(t, "mallory") // a name nobody trusts
	defer mallory.stop()
	a.write(t, 5)
	// An impostor of b: the trusted name, its own key.
	delete(tn.signers, "b")
	impostor := tn.add(t, "b")
	defer impostor.stop()
	a.write(t, 5)
	tn.pushPull(a, mallory)
	tn.pushPull(a, impostor)

	// Each writes and pushes its own events, and sends forged ones.
	mallory.write(t, 3)
	impostor.write(t, 3)
	forged := relay.Event{Origin: a.st.Origin(), Seq: 99, Clock: hlc.Make(time.Now(), 0), Node: "a",
		Roster: &relay.RosterChange{Roster: relay.Roster{People: []relay.Person{{ID: "kim", Phone: "+15005550006"}}}}}
	for _, m := range []*memNode{mallory, impostor} {
		m.SendReliable("a", m.r.seal("a", wire{Kind: kindPush, Events: []relay.Event{forged}}))
		m.SendReliable("a", m.r.seal("a", wire{Kind: kindMarks, Marks: map[string]uint64{a.st.Origin(): 1 << 40}}))
	}
	testkit.Eventually(t, 5*time.Second, "the strangers' frames refused", func() bool {
		return testutil.ToFloat64(a.r.m.refused.WithLabelValues(refusedUnknown)) >= 1 &&
			testutil.ToFloat64(a.r.m.refused.WithLabelValues(refusedSignature)) >= 1
	})
	// Let every sender run a while: nothing of a's may reach them.
	time.Sleep(300 * time.Millisecond)
	if n := mallory.pushed.Load() + impostor.pushed.Load(); n != 0 {
		t.Fatalf("strangers were sent %d frames of events", n)
	}
	marks := a.marks(t)
	if len(marks) != 1 || marks[a.st.Origin()] != 10 {
		t.Fatalf("a holds %v; want only its own 10 events", marks)
	}
	if got := a.r.Members(); !slices.Equal(got, []string{"a"}) {
		t.Fatalf("members = %v, want a alone", got)
	}
	if r, _, _ := a.st.Roster(); len(r.People) != 0 {
		t.Fatalf("a forged roster was folded: %+v", r)
	}
	// Forged marks did not make a believe its events are copied.
	if lw, ok := a.r.LowWater(); ok {
		t.Fatalf("low water %v taken from a peer that proved nothing", lw)
	}
	if got := a.r.Peers(); len(got) != 1 || got[0].Behind != 10 {
		t.Fatalf("peers %+v; want the impostor, unconfirmed", got)
	}
}

// TestFramesAreBoundToSenderRecipientAndTime: a genuine frame replayed to
// another node, relayed under another sender's name, or replayed long
// after is refused.
func TestFramesAreBoundToSenderRecipientAndTime(t *testing.T) {
	tn := newTrustedNet(t, 23, "a", "b", "c")
	defer tn.close()
	clock := testkit.NewClock(time.Now())
	a := tn.memNet.add(t, "a", t.TempDir(), Options{Signer: tn.signer(t, "a"), Keys: tn.keys, Now: clock.Now})
	defer a.stop()
	b := tn.add(t, "b")
	defer b.stop()
	frame := b.r.seal("c", wire{Kind: kindMarks, Marks: map[string]uint64{"x": 1}})
	for _, c := range []struct {
		from, reason string
		frame        []byte
	}{
		{"b", refusedRecipient, frame},                          // meant for c
		{"c", refusedSignature, frame},                          // b's frame under c's name
		{"b", refusedUnsigned, encode(wire{Kind: kindMarks})},   // unsigned
		{"b", refusedMalformed, append([]byte{sealedFrame}, 1)}, // cut short
	} {
		before := testutil.ToFloat64(a.r.m.refused.WithLabelValues(c.reason))
		a.r.OnMessage(c.from, c.frame)
		if got := testutil.ToFloat64(a.r.m.refused.WithLabelValues(c.reason)); got != before+1 {
			t.Errorf("%s: refused for %s %v times, want %v", c.from, c.reason, got, before+1)
		}
	}
	// A replay long after: b's genuine marks, which a would take from a
	// fresh frame. b's own answers that reach a after the clock moved are
	// stale too, so the count may grow by more than this one.
	old := b.r.seal("a", wire{Kind: kindMarks, Marks: map[string]uint64{"x": 1 << 40}})
	clock.Add(DefaultFrameAge + time.Second)
	before := testutil.ToFloat64(a.r.m.refused.WithLabelValues(refusedStale))
	a.r.OnMessage("b", old)
	if got := testutil.ToFloat64(a.r.m.refused.WithLabelValues(refusedStale)); got < before+1 {
		t.Fatalf("a stale frame: refused %v times before, %v after", before, got)
	}
	if m := a.r.peerMark("b", "x"); m == 1<<40 {
		t.Fatal("a took the marks of a stale frame")
	}
}

// TestRelayedForgeriesAreRefused: a trusted node that took forged events
// (its store checks nothing) hands them on in anti-entropy, in frames it
// signs itself: every other node checks each event's own signature and
// refuses the forgeries, while the genuine events of the same frames
// merge.
func TestRelayedForgeriesAreRefused(t *testing.T) {
	tn := newTrustedNet(t, 24, "a", "b", "c")
	defer tn.close()
	verifyAll := tn.storeOpts
	regA := prometheus.NewRegistry()
	tn.storeOpts = func(name string, o *store.Options) {
		verifyAll(name, o)
		if name == "a" {
			o.Registerer = regA
		}
		if name == "c" {
			o.Verify = nil // c believes anything
		}
	}
	a, c := tn.add(t, "a"), tn.add(t, "c")
	defer a.stop()
	defer c.stop()
	c.write(t, 3)
	testkit.Eventually(t, 10*time.Second, "a holds c's first events", func() bool {
		return a.marks(t)[c.st.Origin()] == 3
	})

	// Forgeries reach c: in a's name under a's origin, in b's name under
	// a new origin, unsigned, and far in the future.
	now := time.Now()
	forged := []relay.Event{
		{Origin: "B-FORGED", Seq: 1, Clock: hlc.Make(now, 0), Node: "b",
			Roster: &relay.RosterChange{Roster: relay.Roster{People: []relay.Person{{ID: "kim", Phone: "+15005550006"}}}, By: "ops-admin"}},
		{Origin: "B-FORGED", Seq: 2, Clock: hlc.Make(now, 1), Node: "b",
			Ack: &relay.Ack{Message: "M1", Person: "kim", Channel: "sms"}},
		{Origin: "NOBODY", Seq: 1, Clock: hlc.Make(now, 0), Node: "",
			Ack: &relay.Ack{Message: "M1", Person: "lee", Channel: "sms"}},
	}
	b := tn.signer(t, "b")
	for i := range forged[:2] {
		// Signed by a key, but not over these contents: the roster was
		// changed after signing.
		orig := forged[i]
		orig.Roster = nil
		orig.Ack = &relay.Ack{Message: "M0", Person: "x", Channel: "sms"}
		sb, _ := orig.SigningBytes()
		forged[i].Sig = b.Sign(sb)
	}
	if fresh, err := c.st.Merge(context.Background(), forged); err != nil || len(fresh) != len(forged) {
		t.Fatalf("c took %d forgeries, %v", len(fresh), err)
	}
	c.write(t, 2) // and genuine events after them
	tn.pushPull(c, a)
	testkit.Eventually(t, 10*time.Second, "a holds c's genuine events", func() bool {
		return a.marks(t)[c.st.Origin()] == 5
	})
	testkit.Eventually(t, 10*time.Second, "a to refuse every forgery", func() bool {
		return testkit.Metric(t, regA, "relay_store_refused_events_total", "reason", "signature") >= float64(len(forged))
	})
	if m := a.marks(t); m["B-FORGED"] != 0 || m["NOBODY"] != 0 {
		t.Fatalf("a holds forged origins: %v", m)
	}
	if r, _, _ := a.st.Roster(); len(r.People) != 0 {
		t.Fatalf("a folded a forged roster: %+v", r)
	}
}
