package cluster

import (
	"crypto/ed25519"
	"testing"
	"time"

	"github.com/oob-relay/relay/relay"
	"github.com/oob-relay/relay/relay/hlc"
	"github.com/oob-relay/relay/relay/store"
	"github.com/oob-relay/relay/relay/trust"
)

// FuzzUnseal feeds a replicator of an authenticated cluster frames and
// push/pull states as a peer could send them, starting from genuine ones:
// nothing panics, and whatever is taken is exactly a frame signed by the
// trusted key of the name it came under, for this node, lately. Events
// inside such a frame are checked again by the store, each against its
// own writer's key (FuzzVerifyEvent).
func FuzzUnseal(f *testing.F) {
	dir := f.TempDir()
	a, err := trust.LoadOrCreate(dir+"/a", "a")
	if err != nil {
		f.Fatal(err)
	}
	b, err := trust.LoadOrCreate(dir+"/b", "b")
	if err != nil {
		f.Fatal(err)
	}
	keys := trust.NewKeyring(map[string][]ed25519.PublicKey{"a": {a.Public()}, "b": {b.Public()}})
	st, err := store.Open(store.Options{Dir: dir + "/store", Node: "a"})
	if err != nil {
		f.Fatal(err)
	}
	defer st.Close()
	recv, err := New(Options{Store: st, Signer: a, Keys: keys})
	if err != nil {
		f.Fatal(err)
	}
	defer recv.Close()
	sender := &Replicator{opts: Options{Signer: b, Keys: keys, Now: time.Now}}
	ev := relay.Event{Origin: "B1", Seq: 1, Clock: hlc.Make(time.Now(), 0), Node: "b", Ack: &relay.Ack{Message: "M1", Person: "kim"}}
	f.Add("b", sender.seal("a", wire{Kind: kindPush, Events: []relay.Event{ev}}))
	f.Add("b", sender.seal("a", wire{Kind: kindMarks, Marks: map[string]uint64{"B1": 1}}))
	f.Add("b", sender.seal("", wire{Kind: kindState, Marks: map[string]uint64{"B1": 1}}))
	f.Add("b", sender.seal("a", wire{Kind: kindSnapPart, Snap: &snapPart{ID: "x", Data: []byte("part")}}))
	f.Add("c", []byte(`{"v":2,"kind":"push"}`))
	f.Fuzz(func(t *testing.T, from string, frame []byte) {
		for _, to := range []string{"a", ""} {
			w, err := recv.unseal(from, to, frame)
			if err != nil {
				continue
			}
			if len(frame) < 1+sigSize || frame[0] != sealedFrame {
				t.Fatalf("an unsealed frame was taken: %q", frame)
			}
			if !keys.Verify(from, frame[1+sigSize:], frame[1:1+sigSize]) {
				t.Fatalf("a frame without %s's signature was taken", from)
			}
			if w.From != from || w.To != to {
				t.Fatalf("a frame from %q to %q was taken as from %q to %q", w.From, w.To, from, to)
			}
		}
		// The transport's callbacks never panic on it either.
		recv.OnMessage(from, frame)
		recv.MergeState(from, frame, false)
	})
}
