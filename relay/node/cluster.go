package node

import (
	"context"
	"math"
	"slices"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/oob-relay/relay/relay"
	"github.com/oob-relay/relay/relay/cluster"
)

// mesh is the node's part in its cluster: membership changes move
// deliveries between members, and claims whose lease ran out are taken
// over.
type mesh struct {
	n         *Node
	mu        sync.Mutex
	members   cluster.Membership // nil while the node runs alone
	takeovers prometheus.Counter
	kick      chan struct{}
	done      chan struct{}
	wg        sync.WaitGroup
	once      sync.Once
}

func newMesh(n *Node) *mesh {
	m := &mesh{n: n, kick: make(chan struct{}, 1), done: make(chan struct{}),
		takeovers: prometheus.NewCounter(prometheus.CounterOpts{Name: "relay_cluster_takeovers_total",
			Help: "Deliveries this node took over from a dead member or a claim whose lease ran out."})}
	n.opts.Registerer.MustRegister(m.takeovers)
	return m
}

// Replicator returns the node's replicator, whose OnMessage, OnDatagram,
// LocalState and MergeState the gossip membership calls.
func (n *Node) Replicator() *cluster.Replicator { return n.repl }

// Attach joins the node to its cluster's membership. Call it before Start;
// then call MembershipChanged on every change.
func (n *Node) Attach(ms cluster.Membership) {
	n.mesh.mu.Lock()
	n.mesh.members = ms
	n.mesh.mu.Unlock()
	n.repl.Attach(ms)
	n.owners.SetAlive(n.repl.Members())
}

// MembershipChanged updates who owns what after members joined, left or
// died, and takes up this node's new deliveries.
func (n *Node) MembershipChanged() {
	ms := n.membership()
	if ms == nil {
		return
	}
	n.repl.OnChange()
	n.owners.SetAlive(n.repl.Members())
	n.mesh.poke()
	n.summaries.unpark()
	n.repings.unpark()
	n.escalations.unpark()
}

// poke has the mesh rebalance soon.
func (m *mesh) poke() {
	if m == nil {
		return
	}
	select {
	case m.kick <- struct{}{}:
	default:
	}
}

func (n *Node) membership() cluster.Membership {
	n.mesh.mu.Lock()
	defer n.mesh.mu.Unlock()
	return n.mesh.members
}

// reconcile waits, before the node delivers anything, until it holds what
// its peers hold, so it never claims a delivery another node settled.
func (n *Node) reconcile(ctx context.Context) {
	if ms := n.membership(); ms == nil || len(n.repl.Peers()) == 0 {
		n.repl.MarkReady()
		return
	}
	t := time.NewTimer(n.opts.ReconcileTimeout)
	defer t.Stop()
	select {
	case <-n.repl.Ready():
		n.log.Info("reconciled with the cluster")
	case <-t.C:
		n.log.Warn("not reconciled with the cluster in time; delivering with what this node holds",
			"waited", n.opts.ReconcileTimeout)
		n.repl.MarkReady()
	case <-ctx.Done():
	}
}

// Ready is closed once the node has reconciled with its cluster.
func (n *Node) Ready() <-chan struct{} { return n.repl.Ready() }

func (m *mesh) start() {
	m.wg.Add(1)
	go m.run()
}

func (m *mesh) stop() {
	m.once.Do(func() { close(m.done) })
	m.wg.Wait()
}

// run rebalances after every membership change, and often enough to take
// over claims whose lease ran out soon after it did.
func (m *mesh) run() {
	defer m.wg.Done()
	tick := time.NewTicker(max(m.n.opts.Lease/4, 100*time.Millisecond))
	defer tick.Stop()
	for {
		select {
		case <-m.kick:
		case <-tick.C:
		case <-m.done:
			return
		}
		m.rebalance()
	}
}

// rebalance queues every unsettled delivery this node now owns and did
// not own before: those of members that died or left, and claims whose
// lease ran out. Deliveries it already holds are left as they are.
func (m *mesh) rebalance() {
	if m.n.membership() == nil || !m.n.repl.CaughtUp() {
		return
	}
	open, err := m.n.store.OpenDeliveries()
	if err != nil {
		m.n.log.Error("reading unsettled deliveries to rebalance failed", "err", err)
		return
	}
	self := m.n.opts.Name
	taken := 0
	for i := range open {
		d := &open[i]
		if d.Status == relay.StatusSending && d.Owner == self {
			continue // this node's own claim: in flight, or resumed at start
		}
		if !m.n.owners.Owns(d) {
			continue
		}
		if m.n.owners.Orphaned(d) {
			taken++
		}
		m.n.engine.Kick(d)
	}
	if taken > 0 {
		m.takeovers.Add(float64(taken))
		m.n.log.Info("took over deliveries of members gone or silent", "deliveries", taken)
	}
}

// ClusterStatus is the node's view of its cluster.
type ClusterStatus struct {
	Self    string
	Ready   bool
	Members []MemberStatus
}

// MemberStatus is one member with its replication and its share of the
// unsettled deliveries.
type MemberStatus struct {
	cluster.Member
	// Behind counts this node's events the member has not confirmed; zero
	// for this node itself.
	Behind  uint64
	AckedAt time.Time
	// Pending counts the unsettled deliveries the member owns now, as
	// this node sees it.
	Pending int
	// Trusted says the member proved it holds a trusted node key (every
	// member, on a cluster that is not authenticated): only trusted
	// members get events and share deliveries.
	Trusted bool
}

// Cluster returns the node's view of its cluster.
func (n *Node) Cluster() (*ClusterStatus, error) {
	st := &ClusterStatus{Self: n.opts.Name}
	select {
	case <-n.repl.Ready():
		st.Ready = true
	default:
	}
	open, err := n.store.OpenDeliveries()
	if err != nil {
		return nil, err
	}
	pending := map[string]int{}
	for i := range open {
		pending[n.owners.Owner(&open[i])]++
	}
	peers := map[string]cluster.PeerStatus{}
	for _, p := range n.repl.Peers() {
		peers[p.Name] = p
	}
	var members []cluster.Member
	if ms := n.membership(); ms != nil {
		members = ms.Members()
	} else {
		members = []cluster.Member{{Name: n.opts.Name, State: "alive", Self: true}}
	}
	trusted := n.repl.Members()
	for _, mb := range members {
		p := peers[mb.Name]
		st.Members = append(st.Members, MemberStatus{Member: mb, Behind: p.Behind, AckedAt: p.AckedAt, Pending: pending[mb.Name],
			Trusted: slices.Contains(trusted, mb.Name)})
	}
	return st, nil
}

// leaveTimeout bounds how long a node stopping waits to tell the others
// it is leaving, so they take its deliveries over at once rather than
// after failure detection.
const leaveTimeout = 3 * time.Second

// leaver is a membership that can say this node is going and stop.
type leaver interface {
	Leave(timeout time.Duration) error
	Shutdown() error
}

// leave tells the cluster this node is going, when its membership can,
// and stops the membership, so that no frame comes in any more.
func (n *Node) leave() {
	l, ok := n.membership().(leaver)
	if !ok {
		return
	}
	if err := l.Leave(leaveTimeout); err != nil {
		n.log.Warn("leaving the cluster", "err", err)
	}
	if err := l.Shutdown(); err != nil {
		n.log.Warn("stopping cluster membership", "err", err)
	}
}

// flush waits, for at most 2 s, until every live peer holds this node's
// events, so that what it recorded last (the results of its final
// attempts) is known before it leaves.
func (n *Node) flush(ctx context.Context) {
	if n.membership() == nil {
		return
	}
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	if _, err := n.repl.WaitCopies(ctx, n.repl.Latest(), math.MaxInt); err != nil {
		n.log.Warn("peers did not confirm this node's last events before it stopped; anti-entropy will bring them", "err", err)
	}
}
