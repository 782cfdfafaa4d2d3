package cluster

import (
	"bytes"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/oob-relay/relay/relay/store"
)

// memNet is an in-memory network of replicators. Frames go through
// faults: each is lost, delivered twice, or delayed by a random time (so
// frames overtake each other) with the configured probabilities, and
// nothing crosses a cut between two nodes. Deliveries run on goroutines
// of the network, as memberlist calls its delegate from its own, and
// Close waits for them.
type memNet struct {
	mu    sync.Mutex
	rng   *rand.Rand
	nodes map[string]*memNode
	cut   map[[2]string]bool
	// unseen[{a, b}] keeps b out of a's membership while frames between
	// them still go: memberlist's views converge at different moments.
	unseen map[[2]string]bool
	// left holds the nodes that said they were leaving: Members lists
	// them left, not dead.
	left  map[string]bool
	loss  float64
	dup   float64
	delay time.Duration // the most a frame is delayed
	// storeOpts, when set, adds to the options each node's store opens
	// with (a signer, a verifier).
	storeOpts func(name string, o *store.Options)
	// hold, while set and open, keeps every send on a stream waiting, as
	// a peer that stops reading holds its sender's stream (see
	// holdSends).
	hold chan struct{}
	// dropDatagrams loses every datagram, as a peer on an older release
	// that knows none would.
	dropDatagrams bool
	sent          int
	wg            sync.WaitGroup
	done          chan struct{}
}

func newMemNet(seed uint64) *memNet {
	return &memNet{rng: rand.New(rand.NewPCG(seed, seed)), nodes: map[string]*memNode{}, cut: map[[2]string]bool{},
		unseen: map[[2]string]bool{}, left: map[string]bool{}, done: make(chan struct{})}
}

// memNode is one member: a replicator over its own store.
type memNode struct {
	name string
	net  *memNet
	st   *store.Store
	r    *Replicator
	up   bool
	// pushed counts the frames of events it received, and datagrams the
	// datagrams it sent.
	pushed    atomic.Int64
	datagrams atomic.Int64
}

// add starts a node with a store in dir and attaches it.
func (n *memNet) add(t *testing.T, name, dir string, opts Options) *memNode {
	t.Helper()
	so := store.Options{Dir: dir, Node: name}
	if n.storeOpts != nil {
		n.storeOpts(name, &so)
	}
	st, err := store.Open(so)
	if err != nil {
		t.Fatal(err)
	}
	opts.Store = st
	if opts.Resend == 0 {
		opts.Resend = 100 * time.Millisecond
	}
	if opts.Retry == 0 {
		opts.Retry = 10 * time.Millisecond
	}
	if opts.CatchUpTimeout == 0 {
		opts.CatchUpTimeout = 2 * time.Second
	}
	r, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	m := &memNode{name: name, net: n, st: st, r: r, up: true}
	n.mu.Lock()
	n.nodes[name] = m
	n.mu.Unlock()
	r.Attach(m)
	n.changed()
	return m
}

// stop closes a node's replicator and store, as a node shutting down
// does, and takes it off the network.
func (m *memNode) stop() {
	m.net.mu.Lock()
	m.up = false
	m.net.mu.Unlock()
	m.net.changed()
	m.r.Close()
	m.st.Close()
}

// changed tells every live node that membership changed.
func (n *memNet) changed() {
	n.mu.Lock()
	var live []*memNode
	for _, m := range n.nodes {
		if m.up {
			live = append(live, m)
		}
	}
	n.mu.Unlock()
	for _, m := range live {
		m.r.OnChange()
	}
}

// setCut cuts or heals the link between a and b, both ways, and tells
// both that membership changed.
func (n *memNet) setCut(a, b string, cut bool) {
	n.mu.Lock()
	n.cut[[2]string{a, b}], n.cut[[2]string{b, a}] = cut, cut
	n.mu.Unlock()
	n.changed()
}

// setUnseen keeps b out of a's membership, or lets it in again, and
// tells a that membership changed.
func (n *memNet) setUnseen(a, b string, unseen bool) {
	n.mu.Lock()
	n.unseen[[2]string{a, b}] = unseen
	m := n.nodes[a]
	n.mu.Unlock()
	if m != nil {
		m.r.OnChange()
	}
}

// pushPull runs memberlist's anti-entropy between a and b: each sends its
// state to the other.
func (n *memNet) pushPull(a, b *memNode) {
	sa, sb := a.r.LocalState(false), b.r.LocalState(false)
	b.r.MergeState(a.name, sa, false)
	a.r.MergeState(b.name, sb, false)
}

// close waits for the frames in flight.
func (n *memNet) close() {
	close(n.done)
	n.wg.Wait()
}

func (m *memNode) LocalNode() string { return m.name }

// Alive lists the live nodes this one is not cut from.
func (m *memNode) Alive() []string {
	m.net.mu.Lock()
	defer m.net.mu.Unlock()
	var out []string
	for name, o := range m.net.nodes {
		if o.up && !m.net.cut[[2]string{m.name, name}] && !m.net.unseen[[2]string{m.name, name}] {
			out = append(out, name)
		}
	}
	slices.Sort(out)
	return out
}

// Members lists every node of the network as m sees it: alive, left, or
// dead.
func (m *memNode) Members() []Member {
	alive := m.Alive()
	m.net.mu.Lock()
	defer m.net.mu.Unlock()
	var out []Member
	for name := range m.net.nodes {
		st := memberDead
		switch {
		case slices.Contains(alive, name):
			st = "alive"
		case m.net.left[name]:
			st = "left"
		}
		out = append(out, Member{Name: name, State: st, Self: name == m.name})
	}
	slices.SortFunc(out, func(a, b Member) int { return strings.Compare(a.Name, b.Name) })
	return out
}

// holdSends makes every send on a stream wait until release is called
// (or the network closes); datagrams still go.
func (n *memNet) holdSends() (release func()) {
	hold := make(chan struct{})
	n.mu.Lock()
	n.hold = hold
	n.mu.Unlock()
	var once sync.Once
	return func() { once.Do(func() { close(hold) }) }
}

// SendBestEffort is SendReliable without the stream: the network loses,
// duplicates and reorders datagrams as it does frames, and holdSends
// does not hold them (nothing reads a datagram late).
func (m *memNode) SendBestEffort(to string, payload []byte) error {
	m.datagrams.Add(1)
	return m.send(to, payload, true)
}

func (m *memNode) SendReliable(to string, payload []byte) error { return m.send(to, payload, false) }

func (m *memNode) send(to string, payload []byte, datagram bool) error {
	n := m.net
	n.mu.Lock()
	hold := n.hold
	n.mu.Unlock()
	if hold != nil && !datagram {
		select {
		case <-hold:
		case <-n.done:
			return errUnreachable
		}
	}
	n.mu.Lock()
	dst := n.nodes[to]
	if dst == nil || !dst.up || n.cut[[2]string{m.name, to}] {
		n.mu.Unlock()
		return errUnreachable
	}
	if datagram && n.dropDatagrams {
		n.mu.Unlock()
		return nil
	}
	n.sent++
	copies := 1
	switch x := n.rng.Float64(); {
	case x < n.loss:
		copies = 0
	case x < n.loss+n.dup:
		copies = 2
	}
	delays := make([]time.Duration, copies)
	for i := range delays {
		if n.delay > 0 {
			delays[i] = time.Duration(n.rng.Int64N(int64(n.delay)))
		}
	}
	n.mu.Unlock()
	for _, d := range delays {
		frame := bytes.Clone(payload)
		n.wg.Add(1)
		go func() {
			defer n.wg.Done()
			if d > 0 {
				t := time.NewTimer(d)
				defer t.Stop()
				select {
				case <-t.C:
				case <-n.done:
					return
				}
			}
			n.mu.Lock()
			ok := dst.up && !n.cut[[2]string{m.name, to}]
			n.mu.Unlock()
			if ok {
				if bytes.Contains(frame, []byte(`"kind":"push"`)) {
					dst.pushed.Add(1)
				}
				if datagram {
					dst.r.OnDatagram(m.name, frame)
				} else {
					dst.r.OnMessage(m.name, frame)
				}
			}
		}()
	}
	return nil
}

type unreachable struct{}

func (unreachable) Error() string { return "node unreachable" }

var errUnreachable error = unreachable{}
