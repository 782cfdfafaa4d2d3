package cluster

import (
	"encoding/json"
	"fmt"

	"github.com/oob-relay/relay/relay"
)

// Message kinds between nodes.
const (
	// kindPush carries events for the receiver to merge.
	kindPush = "push"
	// kindMarks carries the sender's marks: its answer to a push or a
	// hello.
	kindMarks = "marks"
	// kindHello tells the receiver that the sender now counts it as a
	// live peer, with the sender's marks then (see CaughtUp).
	kindHello = "hello"
	// kindSnapNeeded tells the receiver that the sender no longer holds
	// events it lacks (its log was truncated): the receiver should ask it
	// for a snapshot.
	kindSnapNeeded = "snap-needed"
	// kindSnapGet asks for a part of the sender's snapshot: at offset 0
	// without an id, a new snapshot.
	kindSnapGet = "snap-get"
	// kindSnapPart carries a part of a snapshot.
	kindSnapPart = "snap-part"
	// kindState is the push/pull state: the sender's marks (LocalState).
	kindState = "state"
)

// wire is one message between nodes. Its version lets a node refuse what
// a newer release sends rather than misread it.
type wire struct {
	V    int    `json:"v"`
	Kind string `json:"kind"`
	// From and To name the sender and the recipient ("" for a push/pull
	// state), and At is when it was sent (Unix milliseconds): what a
	// signed frame binds its contents to (see seal).
	From   string        `json:"from,omitempty"`
	To     string        `json:"to,omitempty"`
	At     int64         `json:"at,omitempty"`
	Events []relay.Event `json:"events,omitempty"`
	// Datagram says the frame came as a datagram: a push so sent is
	// answered by datagram alone (see datagram.go).
	Datagram bool              `json:"dgram,omitempty"`
	Marks    map[string]uint64 `json:"marks,omitempty"`
	Snap     *snapPart         `json:"snap,omitempty"`
	// Ask, on a hello a node sends when a member died, numbers the
	// question, and on the answer (marks) says which one it answers: the
	// marks are then fresh, read after the hello came (see takeover.go).
	Ask uint64 `json:"ask,omitempty"`
}

// snapPart is a request for a part of a snapshot, or the part.
type snapPart struct {
	ID     string `json:"id,omitempty"`
	Offset int64  `json:"offset"`
	// Size and Sum (SHA-256, hex) describe the whole snapshot file.
	Size int64  `json:"size,omitempty"`
	Sum  string `json:"sum,omitempty"`
	Data []byte `json:"data,omitempty"`
	// Err says why the sender cannot give the part.
	Err string `json:"err,omitempty"`
}

// wireVersion 2 added From, To and At, which signed frames bind, and the
// state kind.
const wireVersion = 2

func encode(w wire) []byte {
	w.V = wireVersion
	b, err := json.Marshal(w)
	if err != nil {
		// Events and marks always marshal; this is a programming error.
		panic(fmt.Sprintf("cluster: encode %s: %v", w.Kind, err))
	}
	return b
}

func decodeWire(b []byte) (wire, error) {
	var w wire
	if err := json.Unmarshal(b, &w); err != nil {
		return wire{}, fmt.Errorf("malformed cluster message: %w", err)
	}
	if w.V != wireVersion {
		return wire{}, fmt.Errorf("cluster message version %d, this node speaks %d", w.V, wireVersion)
	}
	switch w.Kind {
	case kindPush, kindMarks, kindHello, kindSnapNeeded, kindState:
	case kindSnapGet, kindSnapPart:
		if w.Snap == nil || w.Snap.Offset < 0 || int64(len(w.Snap.Data)) > snapPartBytes {
			return wire{}, fmt.Errorf("malformed %s message", w.Kind)
		}
	default:
		return wire{}, fmt.Errorf("unknown cluster message kind %q", w.Kind)
	}
	return w, nil
}
