package gossip

import (
	"bytes"
	"encoding/binary"
	"errors"

	"github.com/hashicorp/memberlist"
)

// frameVersion starts every message and push/pull state this package
// sends, so that the format can change without being misread.
const frameVersion = 1

// Frame kinds.
const (
	kindMessage  byte = iota // a message for OnMessage
	kindState                // push/pull state for MergeState
	kindLeaving              // the sender is about to leave (see Leave)
	kindDatagram             // a message sent best effort, for OnDatagram
)

// maxNameLen bounds a node name, so that it always fits a frame header.
const maxNameLen = 255

// frame prefixes payload with the sender's name: memberlist tells neither
// NotifyMsg nor MergeRemoteState who sent what they receive. Inside a
// keyed, labelled cluster only members can send, so the name is as
// trustworthy as the members.
func frame(kind byte, name string, payload []byte) []byte {
	b := make([]byte, 0, 4+len(name)+len(payload))
	b = append(b, frameVersion, kind)
	b = binary.AppendUvarint(b, uint64(len(name)))
	b = append(b, name...)
	return append(b, payload...)
}

// unframe splits a frame into its kind, the sender's name and the
// payload, which shares b's memory.
func unframe(b []byte) (kind byte, from string, payload []byte, err error) {
	if len(b) < 2 || b[0] != frameVersion {
		return 0, "", nil, errors.New("unknown frame version")
	}
	kind = b[1]
	n, size := binary.Uvarint(b[2:])
	if kind > kindDatagram || size <= 0 || n == 0 || n > maxNameLen || uint64(len(b)-2-size) < n {
		return 0, "", nil, errors.New("malformed frame header")
	}
	start := 2 + size
	return kind, string(b[start : start+int(n)]), b[start+int(n):], nil
}

// delegate connects memberlist's callbacks to a Membership. memberlist
// calls the Delegate methods from many goroutines at once, and the
// EventDelegate methods one at a time while holding its member lock, so
// they must not call back into memberlist.
type delegate struct{ m *Membership }

var (
	_ memberlist.Delegate      = delegate{}
	_ memberlist.EventDelegate = delegate{}
)

// NodeMeta publishes Options.Meta, checked by New to fit the limit.
func (d delegate) NodeMeta(limit int) []byte {
	if len(d.m.opts.Meta) > limit {
		return nil
	}
	return d.m.opts.Meta
}

// NotifyMsg passes a message to Options.OnMessage (one sent best effort
// to OnDatagram, when set), or notes that its sender is leaving.
// memberlist reuses msg after the call, so the payload is copied.
func (d delegate) NotifyMsg(msg []byte) {
	if d.m.run.Err() != nil {
		return // shut down
	}
	kind, from, payload, err := unframe(msg)
	if err == nil && kind == kindState {
		err = errors.New("state sent as a message")
	}
	if err != nil {
		d.m.logger.Warn("dropped a malformed cluster message", "bytes", len(msg), "err", err)
		return
	}
	if kind == kindLeaving {
		d.m.departing(from)
		return
	}
	d.m.metrics.received.Inc()
	on := d.m.opts.OnMessage
	if kind == kindDatagram && d.m.opts.OnDatagram != nil {
		on = d.m.opts.OnDatagram
	}
	if on != nil {
		on(from, bytes.Clone(payload))
	}
}

// GetBroadcasts returns nothing: memberlist's broadcast queue drops
// updates silently, so messages go point to point instead.
func (d delegate) GetBroadcasts(overhead, limit int) [][]byte { return nil }

// LocalState returns Options.LocalState's bytes, framed with this node's
// name.
func (d delegate) LocalState(join bool) []byte {
	var state []byte
	if d.m.opts.LocalState != nil {
		state = d.m.opts.LocalState(join)
	}
	return frame(kindState, d.m.name, state)
}

// MergeRemoteState passes the state a peer sent in a push/pull to
// Options.MergeState, with the peer's name.
func (d delegate) MergeRemoteState(buf []byte, join bool) {
	if d.m.run.Err() != nil {
		return // shut down
	}
	kind, from, state, err := unframe(buf)
	if err == nil && kind != kindState {
		err = errors.New("a message sent as state")
	}
	if err != nil {
		d.m.logger.Warn("dropped a malformed state exchange", "bytes", len(buf), "err", err)
		return
	}
	if d.m.opts.MergeState != nil {
		d.m.opts.MergeState(from, bytes.Clone(state), join)
	}
}

// NotifyJoin records a member that joined, or came back.
func (d delegate) NotifyJoin(n *memberlist.Node) { d.m.observe(n, true) }

// NotifyLeave records a member that left or was declared dead. memberlist
// does not say which (the Node's State field is never set), so a member
// counts as left when it said so beforehand (see Leave), and dead
// otherwise.
func (d delegate) NotifyLeave(n *memberlist.Node) { d.m.observe(n, false) }

// NotifyUpdate records a member's new metadata.
func (d delegate) NotifyUpdate(n *memberlist.Node) { d.m.observe(n, true) }
