package config

import (
	"fmt"
	"time"

	"github.com/oob-relay/relay/gossip"
	"github.com/oob-relay/relay/relay/trust"
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
	// TrustedKeysFile lists the node key of every node of the cluster, a
	// line each: the node's name and its public key, as `relay node id`
	// prints them. Only events and messages signed by these keys are
	// believed, and only members holding one share deliveries: the gossip
	// key alone admits nobody. The file is read again when it changes,
	// so keys are added, rotated (a node listed with its old and new key)
	// and revoked without a restart. Required, unless
	// insecure_unauthenticated is set.
	TrustedKeysFile string `yaml:"trusted_keys_file"`
	// InsecureUnauthenticated runs the cluster without node keys: every
	// member holding the gossip key is believed. For labs only.
	InsecureUnauthenticated bool `yaml:"insecure_unauthenticated"`
	// MaxClockDrift bounds how far ahead of this node's clock an event
	// from another node may be; an event further ahead is refused, so a
	// wrong or hostile clock can neither win every conflict nor carry the
	// cluster's clocks away. Default 1m.
	MaxClockDrift time.Duration `yaml:"max_clock_drift"`
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
	if c.MaxClockDrift == 0 {
		c.MaxClockDrift = DefaultMaxClockDrift
	}
}

// DefaultMaxClockDrift tolerates clocks a minute apart.
const DefaultMaxClockDrift = time.Minute

func (c *Cluster) validate(bad func(key, format string, args ...any)) []error {
	if c.Copies < 1 || c.Copies > 16 {
		bad("cluster.copies", "%d must be from 1 to 16", c.Copies)
	}
	for _, d := range []struct {
		key string
		v   time.Duration
		eg  string
	}{{"cluster.copy_timeout", c.CopyTimeout, "2s"}, {"cluster.reconcile_timeout", c.ReconcileTimeout, "10s"}, {"cluster.lease", c.Lease, "40s"},
		{"cluster.max_clock_drift", c.MaxClockDrift, "1m"}} {
		if d.v <= 0 {
			bad(d.key, "%s must be positive, such as %s", d.v, d.eg)
		}
	}
	switch {
	case c.TrustedKeysFile == "" && !c.InsecureUnauthenticated:
		bad("cluster.trusted_keys_file", "is required: list every node's key (`relay node id` prints this node's), "+
			"or set cluster.insecure_unauthenticated: true in a lab, where any holder of the gossip key is believed")
	case c.TrustedKeysFile != "" && c.InsecureUnauthenticated:
		bad("cluster.insecure_unauthenticated", "is set together with cluster.trusted_keys_file; keep one")
	}
	return prefixed("cluster", c.Config.Validate())
}

// resolveTrust reads the trusted keys file, so that a bad line is found
// before the node starts; the path becomes absolute.
func (c *Cluster) resolveTrust(path func(string) string) []error {
	if c.TrustedKeysFile == "" {
		return nil
	}
	c.TrustedKeysFile = path(c.TrustedKeysFile)
	if _, err := trust.LoadKeyring(c.TrustedKeysFile); err != nil {
		return []error{fmt.Errorf("cluster.trusted_keys_file: %w", err)}
	}
	return nil
}
