package cluster

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"go.uber.org/goleak"

	"github.com/oob-relay/relay/internal/testkit"
	"github.com/oob-relay/relay/relay"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// ack returns an event draft: a small payload that folds anywhere.
func ack(i int) relay.Event {
	return relay.Event{Ack: &relay.Ack{Message: fmt.Sprintf("M%d", i), Person: "kim", Channel: "sms"}}
}

// write appends n events to m's store, one write each.
func (m *memNode) write(t *testing.T, n int) {
	t.Helper()
	for i := range n {
		if _, err := m.st.Append(context.Background(), ack(i)); err != nil {
			t.Fatal(err)
		}
	}
}

func (m *memNode) marks(t *testing.T) map[string]uint64 {
	t.Helper()
	marks, err := m.st.Marks()
	if err != nil {
		t.Fatal(err)
	}
	return marks
}

// converged waits until every node holds the same marks, each with
// every origin's events up to want[origin].
func converged(t *testing.T, within time.Duration, nodes ...*memNode) {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		first := nodes[0].marks(t)
		same := len(first) == len(nodes)
		for _, m := range nodes[1:] {
			same = same && maps.Equal(first, m.marks(t))
		}
		if same {
			return
		}
		if time.Now().After(deadline) {
			for _, m := range nodes {
				t.Logf("%s holds %v", m.name, m.marks(t))
			}
			t.Fatalf("nodes did not converge within %v", within)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestPushReachesEveryPeer(t *testing.T) {
	net := newMemNet(1)
	defer net.close()
	a := net.add(t, "a", t.TempDir(), Options{})
	b := net.add(t, "b", t.TempDir(), Options{})
	c := net.add(t, "c", t.TempDir(), Options{})
	defer a.stop()
	defer b.stop()
	defer c.stop()

	evs, err := a.st.Append(context.Background(), ack(1))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if n, err := a.r.WaitCopies(ctx, evs[0].Seq, 2); err != nil || n != 2 {
		t.Fatalf("WaitCopies = %d, %v; want both peers", n, err)
	}
	for _, m := range []*memNode{b, c} {
		if got := m.marks(t)[a.st.Origin()]; got != 1 {
			t.Fatalf("%s holds a's events up to %d, want 1", m.name, got)
		}
	}
	for _, p := range a.r.Peers() {
		if p.Behind != 0 || p.AckedAt.IsZero() {
			t.Fatalf("peer status %+v, want caught up and confirmed", p)
		}
	}
}

// TestConvergesThroughLossDuplicationAndReordering: three nodes write at
// once over a network that loses a fifth of the frames, delivers a fifth
// twice and delays every frame by up to 20 ms so frames overtake each
// other. Every node ends with every event, and the resend counter shows
// the losses were repaired by the senders, not by luck.
func TestConvergesThroughLossDuplicationAndReordering(t *testing.T) {
	net := newMemNet(7)
	net.loss, net.dup, net.delay = 0.2, 0.2, 20*time.Millisecond
	defer net.close()
	reg := prometheus.NewRegistry()
	a := net.add(t, "a", t.TempDir(), Options{Registerer: reg, Batch: 16})
	b := net.add(t, "b", t.TempDir(), Options{Batch: 16})
	c := net.add(t, "c", t.TempDir(), Options{Batch: 16})
	defer a.stop()
	defer b.stop()
	defer c.stop()

	done := make(chan struct{}, 3)
	for _, m := range []*memNode{a, b, c} {
		go func() {
			for i := range 300 {
				if _, err := m.st.Append(context.Background(), ack(i)); err != nil {
					t.Error(err)
				}
			}
			done <- struct{}{}
		}()
	}
	for range 3 {
		<-done
	}
	converged(t, 20*time.Second, a, b, c)
	for _, m := range []*memNode{a, b, c} {
		marks := m.marks(t)
		for _, o := range []*memNode{a, b, c} {
			if marks[o.st.Origin()] != 300 {
				t.Fatalf("%s holds %d of %s's 300 events", m.name, marks[o.st.Origin()], o.name)
			}
		}
	}
	if testutil.ToFloat64(a.r.m.resends) == 0 {
		t.Fatal("no resend counted on a network that lost a fifth of the frames")
	}
}

// TestAntiEntropyBringsWhatPushesMissed: c is cut off while a and b
// write; after the cut heals, a push/pull with a alone gives c b's events
// too (anti-entropy sends every origin, not just the sender's own).
func TestAntiEntropyBringsWhatPushesMissed(t *testing.T) {
	net := newMemNet(3)
	defer net.close()
	reg := prometheus.NewRegistry()
	a := net.add(t, "a", t.TempDir(), Options{Registerer: reg})
	b := net.add(t, "b", t.TempDir(), Options{})
	c := net.add(t, "c", t.TempDir(), Options{})
	defer a.stop()
	defer b.stop()
	defer c.stop()

	net.setCut("a", "c", true)
	net.setCut("b", "c", true)
	a.write(t, 50)
	b.write(t, 70)
	converged(t, 5*time.Second, a, b)
	if got := c.marks(t)[b.st.Origin()]; got != 0 {
		t.Fatalf("c holds %d of b's events across the cut", got)
	}
	// Heal only a-c; b stays cut off from c, so b's events can reach c
	// only through a's anti-entropy.
	net.setCut("a", "c", false)
	net.pushPull(a, c)
	deadline := time.Now().Add(5 * time.Second)
	for c.marks(t)[b.st.Origin()] != 70 || c.marks(t)[a.st.Origin()] != 50 {
		if time.Now().After(deadline) {
			t.Fatalf("c holds %v after anti-entropy with a, want a's 50 and b's 70", c.marks(t))
		}
		time.Sleep(5 * time.Millisecond)
	}
	// The count follows the last send by a moment.
	testkit.Eventually(t, 5*time.Second, "a's repairs counted", func() bool {
		return testutil.ToFloat64(a.r.m.repairedEvents) >= 70
	})
}

// TestCaughtUpWaitsForAnnouncedEvents: a node that sees a peer appear
// claims nothing (CaughtUp false) until it holds what the peer's hello
// announced, and then says so once through OnCaughtUp.
func TestCaughtUpWaitsForAnnouncedEvents(t *testing.T) {
	net := newMemNet(5)
	defer net.close()
	a := net.add(t, "a", t.TempDir(), Options{})
	defer a.stop()
	a.write(t, 200)

	var calls atomic.Int32
	// c's events reach a slowly: frames from a to c are delayed, so c is
	// not caught up for a while after it sees a.
	net.delay = 30 * time.Millisecond
	c := net.add(t, "c", t.TempDir(), Options{Batch: 10, Window: 10, OnCaughtUp: func() { calls.Add(1) }})
	defer c.stop()
	if c.r.CaughtUp() {
		t.Fatal("c counts itself caught up the moment it saw a, before a's hello")
	}
	deadline := time.Now().Add(10 * time.Second)
	for !c.r.CaughtUp() {
		if got := c.marks(t)[a.st.Origin()]; got == 200 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("c never caught up: holds %v", c.marks(t))
		}
		time.Sleep(time.Millisecond)
	}
	// CaughtUp may only be true once c holds what a announced.
	if c.r.CaughtUp() && c.marks(t)[a.st.Origin()] < 200 {
		t.Fatalf("c caught up while holding %d of a's 200 announced events", c.marks(t)[a.st.Origin()])
	}
	for !c.r.CaughtUp() {
		if time.Now().After(deadline) {
			t.Fatal("c holds everything but does not count itself caught up")
		}
		time.Sleep(time.Millisecond)
	}
	if n := calls.Load(); n != 1 {
		t.Fatalf("OnCaughtUp called %d times, want once", n)
	}
}

// TestHelloFromAMemberNotYetSeenIsWaitedFor: a peer's hello can come
// before this node's membership lists the peer (a partition heals, and
// the other side sees this node first). What the hello announced is on
// its way: the node claims nothing until it holds it. A node that
// claimed by its own stale view would send again what the other side of
// the partition had sent.
func TestHelloFromAMemberNotYetSeenIsWaitedFor(t *testing.T) {
	net := newMemNet(7)
	defer net.close()
	a := net.add(t, "a", t.TempDir(), Options{})
	defer a.stop()
	a.write(t, 200)
	net.setUnseen("c", "a", true)
	net.delay = 30 * time.Millisecond
	c := net.add(t, "c", t.TempDir(), Options{Batch: 10, Window: 10})
	defer c.stop()
	if got := c.Alive(); !slices.Equal(got, []string{"c"}) {
		t.Fatalf("c's membership lists %v, want c alone", got)
	}
	deadline := time.Now().Add(10 * time.Second)
	sawHello := false
	for c.marks(t)[a.st.Origin()] < 200 {
		c.r.mu.Lock()
		_, hello := c.r.hellos["a"]
		c.r.mu.Unlock()
		if hello {
			sawHello = true
			// a's hello is in: until its events are, c is not caught up.
			if held := c.marks(t)[a.st.Origin()]; c.r.CaughtUp() && held < 200 {
				t.Fatalf("c counts itself caught up holding %d of the 200 events a's hello announced", held)
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("a's events never reached c: c holds %v", c.marks(t))
		}
		time.Sleep(time.Millisecond)
	}
	if !sawHello {
		t.Fatal("a's events came before its hello; the test saw nothing")
	}
	for !c.r.CaughtUp() {
		if time.Now().After(deadline) {
			t.Fatal("c holds everything a announced but does not count itself caught up")
		}
		time.Sleep(time.Millisecond)
	}
}

// TestOnMessageNeverBlocks: a flood of pushes from one peer returns each
// time while the inbox's goroutine is stuck (the store's writer is held
// after the first merge, so the second waits for it); frames beyond the
// inbox are dropped and counted, not queued without bound, and the first
// pushed event is merged.
func TestOnMessageNeverBlocks(t *testing.T) {
	net := newMemNet(9)
	defer net.close()
	reg := prometheus.NewRegistry()
	a := net.add(t, "a", t.TempDir(), Options{Registerer: reg, Inbox: 4})
	defer a.stop()
	gate := make(chan struct{})
	var once sync.Once
	release := func() { once.Do(func() { close(gate) }) }
	defer release() // before a stops: its writer waits on it
	a.st.Observe(func(events []relay.Event) {
		if slices.ContainsFunc(events, func(e relay.Event) bool { return e.Origin == "x" }) {
			<-gate
		}
	})
	frames := make([][]byte, 10_000)
	for i := range frames {
		frames[i] = encode(wire{Kind: kindPush, Events: []relay.Event{{Origin: "x", Seq: uint64(i + 1), Ack: &relay.Ack{Message: "M", Person: "p"}}}})
	}
	flooded := make(chan struct{})
	go func() {
		defer close(flooded)
		for _, frame := range frames {
			a.r.OnMessage("x", frame)
		}
	}()
	// A call that waited for room in the inbox would wait for as long as
	// the writer is held: the flood would never end.
	select {
	case <-flooded:
	case <-time.After(30 * time.Second):
		t.Fatal("10,000 frames not handed over in 30 s while the inbox's goroutine was stuck: OnMessage blocks")
	}
	if testutil.ToFloat64(a.r.m.dropped) == 0 {
		t.Fatal("no frame dropped although the inbox holds 4")
	}
	release()
	testkit.Eventually(t, 10*time.Second, "the first flooded event merged", func() bool { return a.marks(t)["x"] >= 1 })
}

// TestPeerThatAnswersNoDatagram: a peer that never gets a datagram (an
// older release, a firewall) still gets every event over the stream, and
// after three datagrams in vain the sender stops trying them for a while.
func TestPeerThatAnswersNoDatagram(t *testing.T) {
	net := newMemNet(17)
	net.dropDatagrams = true
	defer net.close()
	a := net.add(t, "a", t.TempDir(), Options{})
	defer a.stop()
	b := net.add(t, "b", t.TempDir(), Options{})
	defer b.stop()
	for i := range 10 {
		a.write(t, 1)
		ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
		copies, err := a.r.WaitCopies(ctx, uint64(i+1), 1)
		cancel()
		if copies != 1 || err != nil {
			t.Fatalf("event %d: copies %d (%v), want b's over the stream", i+1, copies, err)
		}
	}
	// Every datagram push went unanswered; after maxMissed, none was sent.
	if n := testutil.ToFloat64(a.r.m.datagramsUnanswered); n != maxMissed {
		t.Fatalf("%v datagram pushes went unanswered, want %d before a stopped trying", n, maxMissed)
	}
}

// TestSmallFramesGoAheadAsDatagrams: while the streams between two nodes
// are held, a new event still reaches the peer, and the peer's answer
// comes back, by datagram: the writer's wait for a peer copy ends without
// the stream. Once the streams flow again, everything converges.
func TestSmallFramesGoAheadAsDatagrams(t *testing.T) {
	net := newMemNet(13)
	defer net.close()
	a := net.add(t, "a", t.TempDir(), Options{})
	defer a.stop()
	b := net.add(t, "b", t.TempDir(), Options{})
	defer b.stop()
	a.write(t, 1)
	b.write(t, 1)
	converged(t, 5*time.Second, a, b)
	release := net.holdSends()
	defer release() // before the nodes stop: their senders wait on it
	before := a.datagrams.Load() + b.datagrams.Load()
	a.write(t, 1)
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	if copies, err := a.r.WaitCopies(ctx, 2, 1); copies != 1 || err != nil {
		t.Fatalf("copies %d (%v) while the streams are held; want b's, by datagram", copies, err)
	}
	if got := b.marks(t)[a.st.Origin()]; got != 2 {
		t.Fatalf("b holds a's events up to %d, want 2", got)
	}
	if n := a.datagrams.Load() + b.datagrams.Load() - before; n < 2 {
		t.Fatalf("%d datagrams sent, want the push and the answer", n)
	}
	release()
	a.write(t, 3)
	converged(t, 5*time.Second, a, b)
}

// TestMalformedFramesChangeNothing: garbage, a wrong version, an unknown
// kind or an invalid event is refused and counted; the store is left as
// it was.
func TestMalformedFramesChangeNothing(t *testing.T) {
	net := newMemNet(11)
	defer net.close()
	a := net.add(t, "a", t.TempDir(), Options{})
	defer a.stop()
	for _, frame := range [][]byte{
		[]byte("not json"),
		[]byte(`{"v":9,"kind":"push"}`),
		[]byte(`{"v":2,"kind":"shout"}`),
	} {
		a.r.OnMessage("x", frame)
	}
	if got := testutil.ToFloat64(a.r.m.refused.WithLabelValues(refusedMalformed)); got != 3 {
		t.Fatalf("refused = %v, want 3", got)
	}
	// An event without a payload is refused by the merge: nothing folds.
	a.r.OnMessage("x", encode(wire{Kind: kindPush, Events: []relay.Event{{Origin: "x", Seq: 1}}}))
	time.Sleep(50 * time.Millisecond)
	if got := a.marks(t)["x"]; got != 0 {
		t.Fatalf("an invalid event was merged: marks %v", a.marks(t))
	}
}

// TestCloseStopsEverything: closing replicators with frames in flight,
// senders waiting on a window and inboxes merging leaves no goroutine
// (TestMain checks with goleak), and a frame after Close changes nothing.
func TestCloseStopsEverything(t *testing.T) {
	net := newMemNet(13)
	net.delay = 10 * time.Millisecond
	a := net.add(t, "a", t.TempDir(), Options{Batch: 4, Window: 8})
	b := net.add(t, "b", t.TempDir(), Options{Batch: 4, Window: 8})
	a.write(t, 100)
	a.stop()
	b.r.Close()
	b.r.OnMessage("a", encode(wire{Kind: kindPush, Events: []relay.Event{{Origin: "a2", Seq: 1, Ack: &relay.Ack{Message: "M", Person: "p"}}}}))
	if got := b.marks(t)["a2"]; got != 0 {
		t.Fatalf("a frame after Close was merged: %v", b.marks(t))
	}
	b.st.Close()
	net.close()
}

// TestEmptyNodeCatchesUpFromSnapshot: a and b truncated their logs (every
// peer held everything); a new node c cannot get the old events from any
// log, so it takes a snapshot from a peer, installs it, and gets the
// events written since from the pushes, as usual.
func TestEmptyNodeCatchesUpFromSnapshot(t *testing.T) {
	net := newMemNet(17)
	defer net.close()
	a := net.add(t, "a", t.TempDir(), Options{Dir: t.TempDir()})
	b := net.add(t, "b", t.TempDir(), Options{Dir: t.TempDir()})
	defer a.stop()
	defer b.stop()
	a.write(t, 300)
	b.write(t, 200)
	converged(t, 5*time.Second, a, b)
	for _, m := range []*memNode{a, b} {
		if _, err := m.st.TruncateLog(context.Background(), m.marks(t), time.Now().Add(time.Hour)); err != nil {
			t.Fatal(err)
		}
	}
	reg := prometheus.NewRegistry()
	c := net.add(t, "c", t.TempDir(), Options{Dir: t.TempDir(), Registerer: reg})
	defer c.stop()
	a.write(t, 10) // written while c catches up: the tail
	c.write(t, 1)
	converged(t, 20*time.Second, a, b, c)
	// The count follows the install by a moment.
	testkit.Eventually(t, 5*time.Second, "a snapshot counted as installed on c", func() bool {
		return testutil.ToFloat64(c.r.m.snapshots.WithLabelValues("installed")) >= 1
	})
	marks := c.marks(t)
	if marks[a.st.Origin()] != 310 || marks[b.st.Origin()] != 200 {
		t.Fatalf("c holds %v, want a's 310 and b's 200", marks)
	}
	// c's state is the peers' (the acks folded from the snapshot).
	for _, id := range []string{"M0", "M299"} {
		acks, err := c.st.Acks(id)
		if err != nil || len(acks) != 1 {
			t.Fatalf("c's acks of %s = %v, %v", id, acks, err)
		}
	}
}
