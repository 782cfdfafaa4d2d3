package config

import (
	"time"

	"github.com/oob-relay/relay/gossip"
)

// Cluster makes the node one member of a relay cluster. Left out, the node
// runs alone.
type Cluster struct {
	// Gossip is the membership: bind and advertise addresses, seeds, the
	// encryption keys and label (both required), preset and timers.
	gossip.Config `yaml:",inline"`
	// Copies is how many peers must hold a new message on disk before the
	// node answers 202, while peers are alive. Default 1.
	Copies int `yaml:"copies"`
	// CopyTimeout bounds that wait; after it the message is accepted with
	// fewer copies and the answer says so. Default 2s.
	CopyTimeout time.Duration `yaml:"copy_timeout"`
	// ReconcileTimeout bounds the wait at start for catching up with the
	// peers before delivering. Default 10s.
	ReconcileTimeout time.Duration `yaml:"reconcile_timeout"`
	// Lease is how long a claimed delivery stays with the node that
	// claimed it while that node is alive. Default attempt_timeout + 10s.
	Lease time.Duration `yaml:"lease"`
}

// Cluster defaults.
const (
	DefaultCopies           = 1
	DefaultCopyTimeout      = 2 * time.Second
	DefaultReconcileTimeout = 10 * time.Second
)

func (c *Cluster) setDefaults(attemptTimeout time.Duration) {
	c.Config.SetDefaults()
	if c.Copies == 0 {
		c.Copies = DefaultCopies
	}
	if c.CopyTimeout == 0 {
		c.CopyTimeout = DefaultCopyTimeout
	}
	if c.ReconcileTimeout == 0 {
		c.ReconcileTimeout = DefaultReconcileTimeout
	}
	if c.Lease == 0 {
		c.Lease = attemptTimeout + 10*time.Second
	}
}

func (c *Cluster) validate(bad func(key, format string, args ...any)) []error {
	if c.Copies < 1 || c.Copies > 16 {
		bad("cluster.copies", "%d must be from 1 to 16", c.Copies)
	}
	for _, d := range []struct {
		key string
		v   time.Duration
		eg  string
	}{{"cluster.copy_timeout", c.CopyTimeout, "2s"}, {"cluster.reconcile_timeout", c.ReconcileTimeout, "10s"}, {"cluster.lease", c.Lease, "40s"}} {
		if d.v <= 0 {
			bad(d.key, "%s must be positive, such as %s", d.v, d.eg)
		}
	}
	return prefixed("cluster", c.Config.Validate())
}
