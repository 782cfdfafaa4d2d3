package node

import (
	"context"
	"time"

	"github.com/oob-relay/relay/relay"
)

// MaxSeen bounds the keys of the memory of requests taken (relay.Seen)
// a node keeps: past it, upkeep forgets those that expire soonest first.
// A key is about a hundred bytes on disk, so the memory stays under about
// 100 MB.
const MaxSeen = 1_000_000

var _ relay.Memory = (*Node)(nil)

// Seen reports whether the cluster took the request key names, as far as
// this node knows: whether a relay.Seen record of it, written here or on
// any node, is held and has not expired.
func (n *Node) Seen(key string) (bool, error) {
	return n.store.Seen(key, n.opts.Now())
}

// Remember records that the request key names was taken, until until. It
// returns once the record is on disk here, and pushes it to the peers at
// once, as every event.
func (n *Node) Remember(ctx context.Context, key string, until time.Time) error {
	_, err := n.store.Append(ctx, relay.Event{Seen: &relay.Seen{Key: key, Until: until.UTC()}})
	return err
}
