package gossip

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"slices"
	"sync"
	"time"

	"github.com/hashicorp/memberlist"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/oob-relay/relay/relay/cluster"
	"github.com/oob-relay/relay/relay/loggate"
)

// Options configure a Membership. Name and Config are required; every
// hook may be nil.
type Options struct {
	// Name is this node's name, unique in the cluster, at most 255 bytes.
	Name string
	// Config is the membership configuration. New applies SetDefaults to
	// a copy and validates it.
	Config Config
	// Dev allows a Config without keys and label (see Config.ValidateDev):
	// gossip is then neither encrypted nor labelled.
	Dev bool
	// Meta is published with this node, such as {"api":"http://…"}; at
	// most memberlist.MetaMaxSize (512) bytes.
	Meta []byte
	// Logger receives this package's logs and memberlist's. Nil discards.
	Logger *slog.Logger
	// Registerer receives the package's metrics. Nil registers none.
	Registerer prometheus.Registerer
	// Resolver looks up the seeds' host names. Nil means
	// net.DefaultResolver.
	Resolver Resolver

	// OnMessage receives every message another member sent this node with
	// SendReliable or SendBestEffort, with the sender's name. It is called
	// from memberlist's network goroutines, possibly concurrently: each
	// send arrives in one call, but two sends may arrive in either order.
	// It must return quickly (hand long work to another goroutine). The
	// payload is its own.
	OnMessage func(from string, payload []byte)
	// OnDatagram, when set, receives the messages sent with
	// SendBestEffort instead of OnMessage. memberlist calls it on the
	// goroutine that reads every UDP packet, its failure detector's
	// probes included, so it must only hand the payload on.
	OnDatagram func(from string, payload []byte)
	// LocalState returns the state this node offers a peer in a push/pull:
	// on every join (join is true) and every push_pull_interval with one
	// random peer. It may be called concurrently.
	LocalState func(join bool) []byte
	// MergeState receives the state a peer returned from its LocalState in
	// a push/pull, with the peer's name. It may be called concurrently.
	// The state is its own.
	MergeState func(from string, state []byte, join bool)
	// WrapTransport, when set, wraps the UDP and TCP transport memberlist
	// runs over, so that faults (a partition, lost packets) can be
	// injected between real members.
	WrapTransport func(memberlist.NodeAwareTransport) memberlist.NodeAwareTransport

	// Signer and Keys, when Keys is set, admit to the membership only
	// members with a trusted node key: this node publishes its metadata
	// signed by Signer, and a member whose name has no key in Keys, or
	// whose metadata does not carry its signature, is ignored (memberlist
	// never adds it), counted and logged. The gossip key keeps strangers
	// out of the gossip; these keep out members that hold the gossip key
	// but no node key of their own.
	Signer cluster.Signer
	Keys   cluster.Keys

	// OnChange is called after one or more members joined, left, died or
	// changed their metadata. Changes close together may share a call.
	// Calls come one at a time from one goroutine, which may call Members
	// and Alive.
	OnChange func()
}

// State is a member's state as this node sees it.
type State string

// Member states. memberlist offers no race-free view of its "suspect"
// state, so a suspected member shows as alive until it is declared dead.
const (
	StateAlive State = "alive"
	StateDead  State = "dead"
	StateLeft  State = "left"
)

// Member is a cluster member as this node sees it.
type Member struct {
	Name  string
	Addr  string // host:port of its gossip listener
	Meta  []byte
	State State
	Self  bool
}

// Membership is this node's view of the cluster and its link to the other
// members. Its methods are safe for concurrent use.
type Membership struct {
	name     string
	opts     Options
	cfg      Config
	keys     [][]byte
	logger   *slog.Logger
	metrics  *metrics
	resolver Resolver

	changed chan struct{}      // a change waits for OnChange
	run     context.Context    // cancelled by Shutdown
	stop    context.CancelFunc // cancels run
	wg      sync.WaitGroup

	mu      sync.Mutex
	members map[string]Member
	list    *memberlist.Memberlist
	keyring *memberlist.Keyring
	started bool
	stopped bool
	leaving bool            // Leave was called
	leavers map[string]bool // members that said they are leaving
	seeds   seedSet

	refusals *loggate.Gate // of log lines about members kept out
}

// New checks the options and prepares a Membership; Start joins the
// cluster.
func New(opts Options) (*Membership, error) {
	switch {
	case opts.Name == "":
		return nil, errors.New("gossip: a node name is required")
	case len(opts.Name) > maxNameLen:
		return nil, fmt.Errorf("gossip: node name is %d bytes long; at most %d are allowed", len(opts.Name), maxNameLen)
	case len(opts.Meta)+signedMetaOverhead > memberlist.MetaMaxSize:
		return nil, fmt.Errorf("gossip: metadata is %d bytes long; at most %d are allowed", len(opts.Meta), memberlist.MetaMaxSize-signedMetaOverhead)
	case opts.Keys != nil && opts.Signer == nil:
		return nil, errors.New("gossip: Keys without a Signer: this node could not prove who it is")
	}
	cfg := opts.Config
	cfg.Seeds = slices.Clone(cfg.Seeds)
	cfg.Keys = slices.Clone(cfg.Keys)
	cfg.SetDefaults()
	validate := cfg.Validate
	if opts.Dev {
		validate = cfg.ValidateDev
	}
	if err := validate(); err != nil {
		return nil, fmt.Errorf("gossip: %w", err)
	}
	if cfg.KeysEnv != "" || cfg.KeysFile != "" {
		return nil, errors.New("gossip: keys: call ResolveSecrets before New")
	}
	keys, err := decodeKeys(cfg.Keys)
	if err != nil {
		return nil, fmt.Errorf("gossip: %w", err)
	}
	logger := opts.Logger
	if logger == nil {
		logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	met, err := newMetrics(opts.Registerer)
	if err != nil {
		return nil, fmt.Errorf("gossip: register metrics: %w", err)
	}
	resolver := opts.Resolver
	if resolver == nil {
		resolver = defaultResolver
	}
	opts.Meta = bytes.Clone(opts.Meta)
	if opts.Signer != nil {
		opts.Meta = signMeta(opts.Signer, opts.Name, opts.Meta)
	}
	run, stop := context.WithCancel(context.Background())
	return &Membership{
		name:     opts.Name,
		opts:     opts,
		cfg:      cfg,
		keys:     keys,
		logger:   logger,
		metrics:  met,
		resolver: resolver,
		changed:  make(chan struct{}, 1),
		run:      run,
		stop:     stop,
		members:  make(map[string]Member),
		leavers:  make(map[string]bool),
		refusals: loggate.New(1, 5),
	}, nil
}

// Start listens, joins the seeds and keeps rejoining them in the
// background while some are missing. Failing to reach any seed is not an
// error: the node runs alone until a seed answers. ctx bounds the seed
// name lookups; each connection attempt is bounded by tcp_timeout. Start
// may be called once.
func (m *Membership) Start(ctx context.Context) error {
	m.mu.Lock()
	if m.started || m.stopped {
		m.mu.Unlock()
		return errors.New("gossip: Start called twice or after Shutdown")
	}
	m.started = true
	m.mu.Unlock()

	mc, err := m.cfg.memberlistConfig(m.name)
	if err != nil {
		return fmt.Errorf("gossip: %w", err)
	}
	if len(m.keys) > 0 {
		if mc.Keyring, err = memberlist.NewKeyring(m.keys[1:], m.keys[0]); err != nil {
			return fmt.Errorf("gossip: keys: %w", err)
		}
	}
	mc.Delegate = delegate{m}
	mc.Events = delegate{m}
	if m.opts.Keys != nil {
		mc.Alive = delegate{m}
	}
	mc.Logger = newLogBridge(m.logger, m.metrics, m.run.Done())
	if m.opts.WrapTransport != nil {
		nt, err := memberlist.NewNetTransport(&memberlist.NetTransportConfig{
			BindAddrs: []string{mc.BindAddr}, BindPort: mc.BindPort, Logger: mc.Logger})
		if err != nil {
			return fmt.Errorf("gossip: listen on %s: %w", m.cfg.Bind, err)
		}
		if mc.BindPort == 0 {
			mc.BindPort = nt.GetAutoBindPort()
			if mc.AdvertisePort == 0 {
				mc.AdvertisePort = mc.BindPort
			}
		}
		mc.Transport = m.opts.WrapTransport(nt)
	}
	list, err := memberlist.Create(mc)
	if err != nil {
		if m.cfg.Advertise == "" && mc.BindAddr == "0.0.0.0" {
			return fmt.Errorf("gossip: listen on %s: %w (set advertise to the address other nodes reach this one at)", m.cfg.Bind, err)
		}
		return fmt.Errorf("gossip: listen on %s: %w", m.cfg.Bind, err)
	}
	m.mu.Lock()
	if m.stopped {
		m.mu.Unlock()
		_ = list.Shutdown()
		return errors.New("gossip: shut down while starting")
	}
	m.list, m.keyring = list, mc.Keyring
	// Counted while holding the lock, so that a Shutdown from now on
	// waits for them.
	if m.opts.OnChange != nil {
		m.wg.Go(m.notifyChanges)
	}
	joining := make(chan struct{})
	if len(m.cfg.Seeds) > 0 {
		m.wg.Go(func() {
			<-joining
			m.rejoinLoop()
		})
	}
	m.mu.Unlock()
	m.logger.Info("gossip listening", "node", m.name, "addr", m.LocalAddr(),
		"preset", m.cfg.Preset, "encrypted", len(m.keys) > 0, "label", m.cfg.Label)

	if len(m.cfg.Seeds) > 0 {
		m.joinSeeds(ctx)
	}
	close(joining)
	return nil
}

// notifyChanges calls OnChange once per batch of changes until Shutdown.
func (m *Membership) notifyChanges() {
	for {
		select {
		case <-m.run.Done():
			return
		case <-m.changed:
			m.opts.OnChange()
		}
	}
}

// observe records a member's state from a memberlist event: alive after a
// join or an update, otherwise left or dead. memberlist holds its member
// lock during the call, so n may be read but nothing may call back into
// memberlist.
func (m *Membership) observe(n *memberlist.Node, alive bool) {
	mem := Member{
		Name:  n.Name,
		Addr:  n.Address(),
		Meta:  metaOf(n.Meta),
		State: StateAlive,
		Self:  n.Name == m.name,
	}
	counts := map[State]int{}
	m.mu.Lock()
	switch {
	case alive:
		delete(m.leavers, n.Name)
	case m.leavers[n.Name] || (mem.Self && m.leaving):
		mem.State = StateLeft
	default:
		mem.State = StateDead
	}
	old, known := m.members[n.Name]
	m.members[n.Name] = mem
	for _, x := range m.members {
		counts[x.State]++
	}
	m.mu.Unlock()
	for _, s := range []State{StateAlive, StateDead, StateLeft} {
		m.metrics.members.WithLabelValues(string(s)).Set(float64(counts[s]))
	}
	switch {
	case mem.State == StateDead:
		m.logger.Warn("member declared dead", "member", mem.Name, "addr", mem.Addr)
	case mem.State == StateLeft:
		m.logger.Info("member left", "member", mem.Name, "addr", mem.Addr)
	case !known || old.State != StateAlive:
		m.logger.Info("member joined", "member", mem.Name, "addr", mem.Addr)
	default:
		m.logger.Debug("member updated", "member", mem.Name, "addr", mem.Addr)
	}
	select {
	case m.changed <- struct{}{}:
	default:
	}
}

// departing notes that a member said it is leaving.
func (m *Membership) departing(name string) {
	m.mu.Lock()
	m.leavers[name] = true
	m.mu.Unlock()
	m.logger.Debug("member is leaving", "member", name)
}

// LocalNode returns this node's name.
func (m *Membership) LocalNode() string { return m.name }

// LocalAddr returns the host:port other members reach this node at, once
// Start has bound it; before, it returns "".
func (m *Membership) LocalAddr() string {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.members[m.name].Addr
}

// Members returns every member this node knows of, itself included,
// sorted by name. Dead and left members stay listed until they come back.
func (m *Membership) Members() []Member {
	m.mu.Lock()
	out := make([]Member, 0, len(m.members))
	for _, x := range m.members {
		x.Meta = bytes.Clone(x.Meta)
		out = append(out, x)
	}
	m.mu.Unlock()
	slices.SortFunc(out, func(a, b Member) int { return cmp.Compare(a.Name, b.Name) })
	return out
}

// Alive returns the sorted names of the alive members, itself included.
func (m *Membership) Alive() []string {
	m.mu.Lock()
	var out []string
	for _, x := range m.members {
		if x.State == StateAlive {
			out = append(out, x.Name)
		}
	}
	m.mu.Unlock()
	slices.Sort(out)
	return out
}

// Leave tells the other members that this node is leaving, so that they
// mark it left rather than dead, and waits up to timeout (which must be
// positive) for the news to go out: first directly to every alive member
// over TCP, for up to half of timeout, then through gossip. Members that
// only hear of it later, through others, see it as dead. Call Shutdown
// afterwards, not at the same time. After Shutdown, Leave does nothing.
func (m *Membership) Leave(timeout time.Duration) error {
	if timeout <= 0 {
		return errors.New("gossip: leave: the timeout must be positive")
	}
	deadline := time.Now().Add(timeout)
	m.mu.Lock()
	list, stopped := m.list, m.stopped
	var peers []*memberlist.Node
	for _, x := range m.members {
		if !x.Self && x.State == StateAlive {
			if host, port, err := splitHostPort(x.Addr); err == nil {
				peers = append(peers, &memberlist.Node{Name: x.Name, Addr: net.ParseIP(host), Port: uint16(port)})
			}
		}
	}
	if list != nil && !stopped {
		m.leaving = true
	}
	m.mu.Unlock()
	switch {
	case stopped:
		return nil // already gone: nothing to announce
	case list == nil:
		return errors.New("gossip: not running")
	}

	var told sync.WaitGroup
	notice := frame(kindLeaving, m.name, nil)
	for _, p := range peers {
		told.Add(1)
		m.wg.Go(func() {
			defer told.Done()
			if err := list.SendReliable(p, notice); err != nil {
				m.logger.Debug("could not tell a member this node is leaving", "member", p.Name, "err", err)
			}
		})
	}
	done := make(chan struct{})
	m.wg.Go(func() { told.Wait(); close(done) })
	select {
	case <-done:
	case <-time.After(timeout / 2):
	}

	if err := list.Leave(max(time.Until(deadline), time.Millisecond)); err != nil {
		return fmt.Errorf("gossip: leave: %w", err)
	}
	return nil
}

// Shutdown stops gossip at once, without telling the others (see Leave),
// and waits for the package's goroutines. It may be called more than once.
func (m *Membership) Shutdown() error {
	m.mu.Lock()
	if m.stopped {
		m.mu.Unlock()
		return nil
	}
	m.stopped = true
	list := m.list
	m.mu.Unlock()
	m.stop()
	var err error
	if list != nil {
		err = list.Shutdown()
	}
	m.wg.Wait()
	if err != nil {
		return fmt.Errorf("gossip: shutdown: %w", err)
	}
	return nil
}
