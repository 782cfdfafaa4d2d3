package cluster

import (
	"errors"
	"fmt"
	"time"
)

// Signer signs what this node sends as itself (trust.Signer).
type Signer interface {
	Name() string
	Sign(msg []byte) []byte
}

// Keys are the trusted nodes' public keys (trust.Keyring).
type Keys interface {
	Trusted(name string) bool
	Verify(name string, msg, sig []byte) bool
}

// sealedFrame starts a signed frame: the byte, the sender's 64-byte
// signature, then the wire's JSON, which names sender and recipient and
// says when it was sent. An unsigned frame is the JSON alone, so it
// starts with '{'.
const (
	sealedFrame = 0x01
	sigSize     = 64
)

// DefaultFrameAge bounds how old (or how far ahead) a signed frame may
// be: clocks a minute apart, and a minute in queues. A frame recorded
// and sent again later than that is refused; within it, every kind of
// frame is harmless to take twice (events and marks merge, a hello is
// answered again, a snapshot part is checked against its sum).
const DefaultFrameAge = 2 * time.Minute

// Reasons a frame is refused, as counted.
const (
	refusedMalformed = "malformed"
	refusedUnsigned  = "unsigned"
	refusedUnknown   = "unknown_node"
	refusedSignature = "signature"
	refusedSender    = "sender"
	refusedRecipient = "recipient"
	refusedStale     = "stale"
)

var refusedReasons = []string{refusedMalformed, refusedUnsigned, refusedUnknown, refusedSignature, refusedSender, refusedRecipient, refusedStale}

// signing reports whether this node signs its frames and verifies its
// peers'.
func (r *Replicator) signing() bool { return r.opts.Keys != nil }

// seal encodes w for node to ("" for a push/pull state, which goes to
// whoever asked), signed when the cluster is authenticated.
func (r *Replicator) seal(to string, w wire) []byte {
	w.From, w.To, w.At = r.self(), to, r.opts.Now().UnixMilli()
	body := encode(w)
	if !r.signing() {
		return body
	}
	out := make([]byte, 0, 1+sigSize+len(body))
	out = append(out, sealedFrame)
	out = append(out, r.opts.Signer.Sign(body)...)
	return append(out, body...)
}

// self is this node's name.
func (r *Replicator) self() string {
	if r.opts.Signer != nil {
		return r.opts.Signer.Name()
	}
	if t := r.transport(); t != nil {
		return t.LocalNode()
	}
	return ""
}

// refusal is why a frame was refused: the counted reason and the detail
// for the log.
type refusal struct {
	reason string
	err    error
}

func (e *refusal) Error() string { return e.err.Error() }

// unseal checks and decodes a frame that the transport says came from
// from, meant for to. On an authenticated cluster the frame must be
// signed by from's trusted key, name from as its sender and to as its
// recipient, and be recent (DefaultFrameAge).
func (r *Replicator) unseal(from, to string, b []byte) (wire, error) {
	if !r.signing() {
		return decodeWire(b)
	}
	if len(b) == 0 || b[0] != sealedFrame {
		return wire{}, &refusal{refusedUnsigned, errors.New("the frame is not signed")}
	}
	if len(b) < 1+sigSize {
		return wire{}, &refusal{refusedMalformed, errors.New("the frame is cut short")}
	}
	sig, body := b[1:1+sigSize], b[1+sigSize:]
	if !r.opts.Keys.Trusted(from) {
		return wire{}, &refusal{refusedUnknown, fmt.Errorf("%q is not a trusted node", from)}
	}
	if !r.opts.Keys.Verify(from, body, sig) {
		return wire{}, &refusal{refusedSignature, fmt.Errorf("the signature is not %s's", from)}
	}
	w, err := decodeWire(body)
	if err != nil {
		return wire{}, &refusal{refusedMalformed, err}
	}
	if w.From != from {
		return wire{}, &refusal{refusedSender, fmt.Errorf("signed by %s as %q", from, w.From)}
	}
	if w.To != to {
		return wire{}, &refusal{refusedRecipient, fmt.Errorf("meant for %q", w.To)}
	}
	age := r.opts.Now().Sub(time.UnixMilli(w.At))
	if age > r.opts.FrameAge || age < -r.opts.FrameAge {
		return wire{}, &refusal{refusedStale, fmt.Errorf("sent %s from now", age.Round(time.Second))}
	}
	return w, nil
}

// refuse counts a refused frame and logs it, at most a few lines a
// second: a stranger holding the gossip key may send many.
func (r *Replicator) refuse(from, what string, err error) {
	reason := refusedMalformed
	var rf *refusal
	if errors.As(err, &rf) {
		reason = rf.reason
	}
	r.m.refused.WithLabelValues(reason).Inc()
	if n, ok := r.refusals.Allow(time.Now()); ok {
		r.log.Warn(what+" refused", "from", from, "reason", reason, "err", err, "not_logged_before", n)
	}
}

// stateWire is the push/pull state: this node's marks.
func (r *Replicator) stateWire(marks map[string]uint64) []byte {
	return r.seal("", wire{Kind: kindState, Marks: marks})
}

// decodeState reads a push/pull state: a wire of kind state, sealed on
// an authenticated cluster.
func (r *Replicator) decodeState(from string, raw []byte) (map[string]uint64, error) {
	w, err := r.unseal(from, "", raw)
	if err != nil {
		return nil, err
	}
	if w.Kind != kindState {
		return nil, &refusal{refusedMalformed, fmt.Errorf("a %s frame sent as state", w.Kind)}
	}
	return w.Marks, nil
}
