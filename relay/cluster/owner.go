package cluster

import (
	"hash/fnv"
	"slices"
	"sync/atomic"
	"time"

	"github.com/oob-relay/relay/relay"
)

// Ownership decides which member makes a delivery's next attempt.
type Ownership struct {
	self  string
	lease time.Duration
	now   func() time.Time
	alive atomic.Pointer[[]string]
}

// NewOwnership returns the ownership view of node self. A claim (a
// delivery recorded as sending) holds for lease after it was made while
// its node is alive. now nil means time.Now.
func NewOwnership(self string, lease time.Duration, now func() time.Time) *Ownership {
	if now == nil {
		now = time.Now
	}
	o := &Ownership{self: self, lease: lease, now: now}
	o.SetAlive([]string{self})
	return o
}

// SetAlive replaces the live members (this node included).
func (o *Ownership) SetAlive(names []string) {
	names = slices.Clone(names)
	if !slices.Contains(names, o.self) {
		names = append(names, o.self)
	}
	o.alive.Store(&names)
}

// Alive returns the live members as last set.
func (o *Ownership) Alive() []string { return *o.alive.Load() }

// Owns reports whether this node makes d's next attempt. A delivery being
// sent belongs to its claimant while that member is alive and the claim's
// lease runs; otherwise to the live member that ranks highest for its id,
// leaving out a claimant whose lease ran out.
func (o *Ownership) Owns(d *relay.Delivery) bool {
	return o.Owner(d) == o.self
}

// Owner returns the member that makes d's next attempt.
func (o *Ownership) Owner(d *relay.Delivery) string {
	alive := *o.alive.Load()
	skip := ""
	if d.Status == relay.StatusSending && d.Owner != "" {
		if !o.now().After(d.UpdatedAt.Add(o.lease)) && slices.Contains(alive, d.Owner) {
			return d.Owner
		}
		skip = d.Owner
	}
	best, bestScore := "", uint64(0)
	for _, n := range alive {
		if n == skip && len(alive) > 1 {
			continue
		}
		if s := score(n, d.ID); best == "" || s > bestScore {
			best, bestScore = n, s
		}
	}
	return best
}

// Orphaned reports whether d was claimed by another member that is no
// longer alive or whose lease ran out: taking it over may repeat an
// attempt in flight.
func (o *Ownership) Orphaned(d *relay.Delivery) bool {
	return d.Status == relay.StatusSending && d.Owner != "" && d.Owner != o.self && o.Owner(d) == o.self
}

// score ranks member n for delivery id (rendezvous hashing).
func score(n, id string) uint64 {
	h := fnv.New64a()
	h.Write([]byte(n))
	h.Write([]byte{0})
	h.Write([]byte(id))
	// fnv mixes the last bytes weakly; finish with a 64-bit mixer.
	x := h.Sum64()
	x ^= x >> 33
	x *= 0xff51afd7ed558ccd
	x ^= x >> 33
	x *= 0xc4ceb9fe1a85ec53
	x ^= x >> 33
	return x
}
