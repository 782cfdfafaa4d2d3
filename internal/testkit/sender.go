package testkit

import (
	"context"
	"sync"
	"sync/atomic"

	"github.com/oob-relay/relay/relay"
)

// Sender is a relay.Sender that accepts every attempt at once and records
// what it was given, a provider that never fails, so that a test measures
// the node rather than a network. The zero value is ready to use; it is
// safe for concurrent use.
type Sender struct {
	// ProviderID, when set, gives the provider id of an accepted attempt's
	// receipt; by default it is "ok-" and the delivery id.
	ProviderID func(*relay.Outgoing) string
	// CountOnly keeps no attempt, only their count, so that a benchmark's
	// memory is the node's.
	CountOnly bool

	n    atomic.Int64
	mu   sync.Mutex
	sent []relay.Outgoing
}

var _ relay.Sender = (*Sender)(nil)

// Send accepts out and keeps a copy, unless ctx is done: then, as a
// provider's client would, it fails the attempt as a temporary timeout.
func (s *Sender) Send(ctx context.Context, out *relay.Outgoing) (relay.Receipt, error) {
	if err := ctx.Err(); err != nil {
		return relay.Receipt{}, relay.Temporary(relay.ReasonTimeout, err)
	}
	id := "ok-" + out.DeliveryID
	if s.ProviderID != nil {
		id = s.ProviderID(out)
	}
	if !s.CountOnly {
		s.mu.Lock()
		s.sent = append(s.sent, *out)
		s.mu.Unlock()
	}
	s.n.Add(1)
	return relay.Receipt{ProviderID: id}, nil
}

// Count returns how many attempts the Sender accepted.
func (s *Sender) Count() int { return int(s.n.Load()) }

// Sent returns copies of the attempts the Sender accepted, in the order
// it accepted them; nothing when CountOnly is set.
func (s *Sender) Sent() []relay.Outgoing {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]relay.Outgoing(nil), s.sent...)
}
