package gossip

import (
	"context"
	"net"
	"time"
)

// Resolver looks up the IP addresses of a host name. *net.Resolver
// satisfies it; tests inject their own.
type Resolver interface {
	LookupHost(ctx context.Context, host string) ([]string, error)
}

var defaultResolver Resolver = net.DefaultResolver

// seedSet remembers the addresses each seed last resolved to, so that a
// failed lookup falls back to them.
type seedSet map[string][]string

// resolveSeeds returns the distinct addresses of every seed, host names
// resolved through the resolver.
func (m *Membership) resolveSeeds(ctx context.Context) []string {
	var out []string
	seen := map[string]bool{}
	for _, seed := range m.cfg.Seeds {
		for _, a := range m.resolveSeed(ctx, seed) {
			if !seen[a] {
				seen[a] = true
				out = append(out, a)
			}
		}
	}
	return out
}

func (m *Membership) resolveSeed(ctx context.Context, seed string) []string {
	host, port, err := net.SplitHostPort(seed)
	if err != nil {
		return nil // Validate refused it
	}
	ips, err := []string{host}, error(nil)
	if net.ParseIP(host) == nil {
		ips, err = m.resolver.LookupHost(ctx, host)
	}
	var addrs []string
	for _, s := range ips {
		if ip := net.ParseIP(s); ip != nil {
			addrs = append(addrs, net.JoinHostPort(ip.String(), port))
		}
	}
	m.mu.Lock()
	if m.seeds == nil {
		m.seeds = seedSet{}
	}
	last := m.seeds[seed]
	if len(addrs) > 0 {
		m.seeds[seed] = addrs
	}
	m.mu.Unlock()
	if len(addrs) == 0 {
		m.logger.Warn("seed lookup failed; using its last addresses", "seed", seed, "last", last, "err", err)
		return last
	}
	return addrs
}

// joinSeeds resolves the seeds and joins those that are not alive members
// already. Not reaching any is logged and counted, not returned.
func (m *Membership) joinSeeds(ctx context.Context) {
	ctx, cancel := context.WithTimeout(ctx, m.cfg.TCPTimeout)
	addrs := m.resolveSeeds(ctx)
	cancel()
	m.mu.Lock()
	list := m.list
	present := map[string]bool{}
	for _, x := range m.members {
		if x.Self || x.State == StateAlive {
			present[x.Addr] = true
		}
	}
	m.mu.Unlock()
	var missing []string
	for _, a := range addrs {
		if !present[a] {
			missing = append(missing, a)
		}
	}
	if len(missing) == 0 {
		if len(addrs) == 0 {
			m.metrics.joinFailure.Inc()
			m.logger.Warn("no seed address found; running alone until one resolves", "seeds", m.cfg.Seeds)
		}
		return
	}
	n, err := list.Join(missing)
	if n == 0 {
		m.metrics.joinFailure.Inc()
		if list.NumMembers() > 1 {
			m.logger.Warn("could not reach the missing seeds; still trying", "seeds", missing,
				"members", list.NumMembers(), "err", err)
		} else {
			m.logger.Warn("could not reach any seed; running alone until one answers", "seeds", missing, "err", err)
		}
		return
	}
	m.logger.Info("joined the cluster", "reached", n, "tried", len(missing))
}

// rejoinLoop joins the seeds again every rejoin_interval while this node
// sees fewer other members than there are seed addresses other than its
// own, until Shutdown.
func (m *Membership) rejoinLoop() {
	t := time.NewTicker(m.cfg.RejoinInterval)
	defer t.Stop()
	for {
		select {
		case <-m.run.Done():
			return
		case <-t.C:
		}
		if m.seedsMissing() {
			m.joinSeeds(m.run)
		}
	}
}

// seedsMissing reports whether a seed may be missing: fewer other
// members are alive than there are seed addresses other than this
// node's, or a seed's address is not the address of a member alive now.
// The second catches a node back from a partition that sees some members
// again through gossip but still counts a seed dead, which would
// otherwise wait for the next push/pull to find it.
func (m *Membership) seedsMissing() bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	self := m.members[m.name].Addr
	others := 0
	alive := map[string]bool{}
	for _, x := range m.members {
		if !x.Self && x.State == StateAlive {
			others++
			alive[x.Addr] = true
		}
	}
	seeds := map[string]bool{}
	for _, seed := range m.cfg.Seeds {
		addrs, ok := m.seeds[seed]
		if !ok {
			seeds["?"+seed] = true // never resolved: counts as one
		}
		for _, a := range addrs {
			if a != self {
				seeds[a] = true
			}
		}
	}
	if others < len(seeds) {
		return true
	}
	for a := range seeds {
		if !alive[a] && a[0] != '?' && m.deadMember(a) {
			return true
		}
	}
	return false
}

// deadMember reports whether addr is the address of a member this node
// knows and counts dead or left; m.mu is held. An address no member has
// (a balancer in front of the nodes, say) is not rejoined for that alone.
func (m *Membership) deadMember(addr string) bool {
	for _, x := range m.members {
		if x.Addr == addr && x.State != StateAlive {
			return true
		}
	}
	return false
}
