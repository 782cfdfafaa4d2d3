package store

import (
	"context"
	"crypto/ed25519"
	"math"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	bolt "go.etcd.io/bbolt"

	"github.com/oob-relay/relay/internal/testkit"
	"github.com/oob-relay/relay/relay"
	"github.com/oob-relay/relay/relay/hlc"
	"github.com/oob-relay/relay/relay/trust"
)

// signedPair opens two stores, seoul and busan, each signing with its own
// node key and verifying what it merges against a keyring of both.
func signedPair(t *testing.T) (seoul, busan *Store, keys *trust.Keyring, rogue *trust.Signer) {
	t.Helper()
	ks, _ := trust.LoadOrCreate(t.TempDir(), "seoul")
	kb, _ := trust.LoadOrCreate(t.TempDir(), "busan")
	rogue, _ = trust.LoadOrCreate(t.TempDir(), "seoul") // right name, wrong key
	keys = trust.NewKeyring(map[string][]ed25519.PublicKey{"seoul": {ks.Public()}, "busan": {kb.Public()}})
	var err error
	seoul, err = Open(Options{Dir: t.TempDir(), Node: "seoul", Signer: ks, Verify: keys.VerifyEvent})
	if err != nil {
		t.Fatal(err)
	}
	busan, err = Open(Options{Dir: t.TempDir(), Node: "busan", Signer: kb, Verify: keys.VerifyEvent})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { seoul.Close(); busan.Close() })
	return seoul, busan, keys, rogue
}

func TestSignedEventsVerifyElsewhere(t *testing.T) {
	seoul, busan, _, _ := signedPair(t)
	ctx := context.Background()
	evs, err := seoul.Append(ctx, relay.Event{Message: testMessage("M1", "fire", "kim", "이순신")})
	if err != nil {
		t.Fatal(err)
	}
	if len(evs[0].Sig) == 0 {
		t.Fatal("the event was not signed")
	}
	got, err := seoul.EventsFrom(seoul.Origin(), 0, 10)
	if err != nil || len(got) != 1 || len(got[0].Sig) == 0 {
		t.Fatalf("the log holds %+v, %v; want the signed event", got, err)
	}
	// As read back from the log (a JSON round trip), it verifies on busan.
	fresh, err := busan.Merge(ctx, got)
	if err != nil || len(fresh) != 1 {
		t.Fatalf("busan merged %d, %v; want the signed event", len(fresh), err)
	}
}

func TestForgedEventsAreRefused(t *testing.T) {
	seoul, busan, _, rogue := signedPair(t)
	ctx := context.Background()
	evs, err := seoul.Append(ctx, relay.Event{Roster: &relay.RosterChange{Roster: relay.Roster{People: []relay.Person{{ID: "kim", Phone: "+821012345678"}}}}})
	if err != nil {
		t.Fatal(err)
	}
	good := evs[0]
	tampered := good
	tampered.Roster = &relay.RosterChange{Roster: relay.Roster{People: []relay.Person{{ID: "kim", Phone: "+821099999999"}}}}
	unsigned := good
	unsigned.Sig = nil
	byRogue := relay.Event{Origin: "R1", Seq: 1, Clock: hlc.Make(time.Now(), 0), Node: "seoul",
		Ack: &relay.Ack{Message: "M1", Person: "kim", Channel: "sms"}}
	b, _ := byRogue.SigningBytes()
	byRogue.Sig = rogue.Sign(b)
	strangerNode := relay.Event{Origin: "S1", Seq: 1, Clock: hlc.Make(time.Now(), 0), Node: "stranger",
		Ack: &relay.Ack{Message: "M1", Person: "kim", Channel: "sms"}}
	for name, e := range map[string]relay.Event{"tampered": tampered, "unsigned": unsigned, "rogue key": byRogue, "unknown node": strangerNode} {
		if fresh, err := busan.Merge(ctx, []relay.Event{e}); err != nil || len(fresh) != 0 {
			t.Errorf("%s: merged %v, %v; want refused", name, fresh, err)
		}
	}
	if got := testutil.ToFloat64(busan.m.refused.WithLabelValues("signature")); got != 4 {
		t.Errorf("refused for their signature: %v, want 4", got)
	}
	if r, _, _ := busan.Roster(); len(r.People) != 0 {
		t.Fatalf("a refused roster was folded: %+v", r)
	}
	// The genuine one still merges.
	if fresh, err := busan.Merge(ctx, []relay.Event{good}); err != nil || len(fresh) != 1 {
		t.Fatalf("the genuine event: %v, %v", fresh, err)
	}
}

// TestOriginBelongsToItsNode: once an origin's events came from one
// node, an event under that origin signed by another trusted node is
// refused: a node writes only as itself.
func TestOriginBelongsToItsNode(t *testing.T) {
	seoul, busan, _, _ := signedPair(t)
	ctx := context.Background()
	evs, err := seoul.Append(ctx, relay.Event{Ack: &relay.Ack{Message: "M1", Person: "kim", Channel: "sms"}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := busan.Merge(ctx, evs); err != nil {
		t.Fatal(err)
	}
	// busan writes an event and rewrites it as if under seoul's origin.
	own, err := busan.Append(ctx, relay.Event{Ack: &relay.Ack{Message: "M2", Person: "lee", Channel: "sms"}})
	if err != nil {
		t.Fatal(err)
	}
	third, err := Open(Options{Dir: t.TempDir(), Node: "third", Verify: func(*relay.Event) error { return nil }})
	if err != nil {
		t.Fatal(err)
	}
	defer third.Close()
	if _, err := third.Merge(ctx, evs); err != nil {
		t.Fatal(err)
	}
	forged := own[0]
	forged.Origin, forged.Seq = seoul.Origin(), 2
	if fresh, err := third.Merge(ctx, []relay.Event{forged}); err != nil || len(fresh) != 0 {
		t.Fatalf("an event of busan under seoul's origin: merged %v, %v", fresh, err)
	}
	if got := testutil.ToFloat64(third.m.refused.WithLabelValues("origin")); got != 1 {
		t.Fatalf("refused for their origin: %v, want 1", got)
	}
}

// TestClockFromTheFutureIsRefused: an event whose clock is far ahead
// (up to the largest clock there is) is refused, never folded, and the
// node's own clock stays put: a later roster change here still wins.
func TestClockFromTheFutureIsRefused(t *testing.T) {
	s := open(t, t.TempDir(), "seoul")
	defer s.Close()
	ctx := context.Background()
	for _, clock := range []hlc.Timestamp{math.MaxUint64, hlc.Make(time.Now().Add(2*time.Minute), 0)} {
		e := relay.Event{Origin: "far", Seq: 1, Clock: clock, Node: "busan",
			Roster: &relay.RosterChange{Roster: relay.Roster{People: []relay.Person{{ID: "mallory"}}}}}
		if fresh, err := s.Merge(ctx, []relay.Event{e}); err != nil || len(fresh) != 0 {
			t.Fatalf("clock %v: merged %v, %v; want refused", clock, fresh, err)
		}
	}
	if last := s.Clock().Last(); last.Time().After(time.Now().Add(time.Minute)) {
		t.Fatalf("the clock moved to %v", last)
	}
	// An event slightly ahead (within the drift) is taken.
	near := relay.Event{Origin: "near", Seq: 1, Clock: hlc.Make(time.Now().Add(10*time.Second), 0), Node: "busan",
		Ack: &relay.Ack{Message: "M", Person: "kim"}}
	if fresh, err := s.Merge(ctx, []relay.Event{near}); err != nil || len(fresh) != 1 {
		t.Fatalf("an event 10 s ahead: %v, %v; want merged", fresh, err)
	}
	if _, err := s.Append(ctx, relay.Event{Roster: &relay.RosterChange{Roster: relay.Roster{People: []relay.Person{{ID: "kim"}}}}}); err != nil {
		t.Fatal(err)
	}
	if r, _, _ := s.Roster(); len(r.People) != 1 || r.People[0].ID != "kim" {
		t.Fatalf("roster = %+v, want this node's own change", r)
	}
}

// TestOriginsOfAnOlderFileAreBound: a data dir written before origins
// were bound to nodes gets the bindings its log shows when opened.
func TestOriginsOfAnOlderFileAreBound(t *testing.T) {
	ctx := context.Background()
	seoul := open(t, t.TempDir(), "seoul")
	defer seoul.Close()
	evs, err := seoul.Append(ctx, relay.Event{Ack: &relay.Ack{Message: "M1", Person: "kim", Channel: "sms"}})
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	s := open(t, dir, "third")
	if _, err := s.Merge(ctx, evs); err != nil {
		t.Fatal(err)
	}
	// Make the file look older: no origins bucket.
	if err := s.db.Update(func(tx *bolt.Tx) error { return tx.DeleteBucket(bucketOrigins) }); err != nil {
		t.Fatal(err)
	}
	s.Close()
	s = open(t, dir, "third")
	defer s.Close()
	forged := evs[0]
	forged.Seq, forged.Node = 2, "busan"
	if fresh, err := s.Merge(ctx, []relay.Event{forged}); err != nil || len(fresh) != 0 {
		t.Fatalf("an event of busan under seoul's origin: merged %v, %v", fresh, err)
	}
	forged.Node = "seoul"
	if fresh, err := s.Merge(ctx, []relay.Event{forged}); err != nil || len(fresh) != 1 {
		t.Fatalf("seoul's next event: merged %v, %v", fresh, err)
	}
}

// TestPoisonedRosterOfAnOlderFileIsReplaced: a data dir written before
// far-future clocks were refused may hold a roster change with the
// largest clock there is. Opened again, the node's clock does not follow
// it, and the next roster change replaces it.
func TestPoisonedRosterOfAnOlderFileIsReplaced(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	s := open(t, dir, "seoul")
	poison := relay.Event{Origin: "far", Seq: 1, Clock: math.MaxUint64, Node: "mallory",
		Roster: &relay.RosterChange{Roster: relay.Roster{People: []relay.Person{{ID: "mallory"}}}}}
	// Written as an older release would have merged it.
	if err := s.exec(ctx, func(tx *bolt.Tx) error { return newFolder(tx).add(&poison) }); err != nil {
		t.Fatal(err)
	}
	s.Close()
	s = open(t, dir, "seoul")
	defer s.Close()
	if last := s.Clock().Last(); last == math.MaxUint64 {
		t.Fatal("the clock followed the poisoned event")
	}
	evs, err := s.Append(ctx, relay.Event{Roster: &relay.RosterChange{Roster: relay.Roster{People: []relay.Person{{ID: "kim"}}}, By: "admin"}})
	if err != nil {
		t.Fatal(err)
	}
	if evs[0].Clock == 0 || evs[0].Clock == math.MaxUint64 {
		t.Fatalf("the new change's clock is %v", evs[0].Clock)
	}
	if r, _, _ := s.Roster(); len(r.People) != 1 || r.People[0].ID != "kim" {
		t.Fatalf("roster = %+v, want the admin's change", r)
	}
	v, err := s.RosterVersion()
	if err != nil || v.By != "admin" || v.Clock != evs[0].Clock {
		t.Fatalf("roster version %+v, %v", v, err)
	}
}

// TestRosterVersionNamesTheWinner: two roster changes committed together,
// this node's and a later one from another node: the version is the
// later one's, so a caller can tell its change did not win.
func TestRosterVersionNamesTheWinner(t *testing.T) {
	ctx := context.Background()
	s := open(t, t.TempDir(), "seoul")
	defer s.Close()
	hold, held := make(chan struct{}), make(chan struct{})
	go s.exec(ctx, func(*bolt.Tx) error { close(held); <-hold; return nil })
	<-held
	mine := make(chan []relay.Event, 1)
	go func() {
		evs, _ := s.Append(ctx, relay.Event{Roster: &relay.RosterChange{Roster: relay.Roster{People: []relay.Person{{ID: "kim"}}}, By: "admin"}})
		mine <- evs
	}()
	testkit.Eventually(t, 10*time.Second, "this node's change queued", func() bool { return len(s.reqs) == 1 })
	theirs := relay.Event{Origin: "busan-origin", Seq: 1, Clock: hlc.Make(time.Now().Add(20*time.Second), 0), Node: "busan",
		Roster: &relay.RosterChange{Roster: relay.Roster{People: []relay.Person{{ID: "lee"}}}, By: "ops"}}
	merged := make(chan error, 1)
	go func() { _, err := s.Merge(ctx, []relay.Event{theirs}); merged <- err }()
	testkit.Eventually(t, 10*time.Second, "both changes queued", func() bool { return len(s.reqs) == 2 })
	close(hold)
	evs := <-mine
	if err := <-merged; err != nil || len(evs) != 1 {
		t.Fatalf("merge: %v; append: %v", err, evs)
	}
	v, err := s.RosterVersion()
	if err != nil {
		t.Fatal(err)
	}
	if v.By != "ops" || v.Clock != theirs.Clock || v.Clock <= evs[0].Clock {
		t.Fatalf("version %+v; want busan's later change over this node's %v", v, evs[0].Clock)
	}
}
