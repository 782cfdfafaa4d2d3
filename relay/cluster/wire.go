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
)

// wire is one message between nodes. Its version lets a node refuse what
// a newer release sends rather than misread it.
type wire struct {
	V      int               `json:"v"`
	Kind   string            `json:"kind"`
	Events []relay.Event     `json:"events,omitempty"`
	Marks  map[string]uint64 `json:"marks,omitempty"`
}

const wireVersion = 1

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
	case kindPush, kindMarks, kindHello:
	default:
		return wire{}, fmt.Errorf("unknown cluster message kind %q", w.Kind)
	}
	return w, nil
}

// state is what a node offers in a push/pull: its marks.
type state struct {
	Marks map[string]uint64 `json:"marks"`
}
