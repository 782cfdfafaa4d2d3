package node

import (
	"context"
	"crypto/x509"
	"net"
	"slices"
	"sync"
	"text/template"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/oob-relay/relay/relay"
	"github.com/oob-relay/relay/relay/watch"
)

// Watch says what a node watches besides the other nodes of its cluster:
// targets it probes from its site and heartbeats it expects. Every node
// of a cluster should have the same.
type Watch struct {
	Targets    []WatchTarget
	Heartbeats []Heartbeat
	// Quorum is how many sites must agree that a target is down or up;
	// zero means a majority of the sites the log knows.
	Quorum   int
	SiteDark SiteDark
	// Dial opens the probes' connections; nil means a net.Dialer. Tests
	// give one that fails, as one site's broken network would.
	Dial func(ctx context.Context, network, address string) (net.Conn, error)
	// RootCAs verifies https targets; nil means the system's roots.
	RootCAs *x509.CertPool
	// Tick is how often the node looks at what it owns; zero means a
	// second.
	Tick time.Duration
}

// WatchTarget is a watched target and how its pages read.
type WatchTarget struct {
	watch.Target
	// Lang is the pages' language, ko or en; empty means relay.DefaultLang.
	Lang string
	// Template, when set, renders the pages instead (its data is a
	// *relay.WatchPage).
	Template *template.Template
}

// Heartbeat is a dead man's switch: something outside posts a beat
// every Every; when none has come for Every+Grace, To is paged.
type Heartbeat struct {
	Name  string
	Every time.Duration
	Grace time.Duration
	To    []string
	Lang  string
}

// SiteDark says when a node that a majority of the others sees dead is
// paged about: after After (zero means DefaultSiteDarkAfter), to To
// (empty means role:admin).
type SiteDark struct {
	After time.Duration
	To    []string
	Lang  string
}

// DefaultSiteDarkAfter is how long a majority of the other nodes must
// see a node dead before the admins are paged: longer than a restart.
const DefaultSiteDarkAfter = 2 * time.Minute

// Probe damping: a node's view of a target changes after this many
// probes in a row say otherwise.
const (
	probeFall = 2
	probeRise = 2
)

// watcher runs the node's probes, keeps its view of the other nodes, and
// decides for the subjects this node owns.
type watcher struct {
	n    *Node
	opts Watch
	// started is when the node began watching: a heartbeat that never
	// beat counts from then.
	started time.Time

	kick chan struct{}
	done chan struct{}
	wg   sync.WaitGroup
	once sync.Once

	mu sync.Mutex
	// peers is this node's last report of each other node: up or not.
	peers map[string]bool
	// isolated is set when this node sees fewer than a majority of the
	// nodes the log knows alive, itself included.
	isolated bool
	// isolatedAt is when the node last found itself cut off; cutOffSaid
	// whether it said so in its log (only once it lasted isolationNoise).
	isolatedAt    time.Time
	cutOffSaid    bool
	alive, nodes  int
	pages, probes *prometheus.CounterVec
}

func newWatcher(n *Node) *watcher {
	w := &watcher{n: n, opts: n.opts.Watch, kick: make(chan struct{}, 1), done: make(chan struct{}), peers: map[string]bool{},
		pages: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "relay_watch_pages_total",
			Help: "Pages this node posted about watched subjects, by kind (target, heartbeat, node) and state (down, up)."}, []string{"kind", "state"}),
		probes: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "relay_watch_probes_total",
			Help: "Probes of watched targets this node made, by target and result (up, down)."}, []string{"target", "result"}),
	}
	if w.opts.Tick <= 0 {
		w.opts.Tick = time.Second
	}
	if w.opts.SiteDark.After <= 0 {
		w.opts.SiteDark.After = DefaultSiteDarkAfter
	}
	if len(w.opts.SiteDark.To) == 0 {
		w.opts.SiteDark.To = []string{relay.TargetRolePrefix + relay.PersonAdmin}
	}
	for _, k := range []string{"target", "heartbeat", "node"} {
		for _, s := range []string{"down", "up"} {
			w.pages.WithLabelValues(k, s)
		}
	}
	for _, t := range w.opts.Targets {
		w.probes.WithLabelValues(t.Name, "up")
		w.probes.WithLabelValues(t.Name, "down")
	}
	n.opts.Registerer.MustRegister(w.pages, w.probes)
	return w
}

func (w *watcher) poke() {
	select {
	case w.kick <- struct{}{}:
	default:
	}
}

func (w *watcher) start() {
	w.started = w.n.opts.Now()
	prober := &watch.Prober{Dial: w.opts.Dial, RootCAs: w.opts.RootCAs, Now: w.n.opts.Now}
	for _, t := range w.opts.Targets {
		w.wg.Add(1)
		go w.probeLoop(prober, t.Target.WithDefaults())
	}
	w.wg.Add(1)
	go w.loop()
}

func (w *watcher) stop() {
	w.once.Do(func() { close(w.done) })
	w.wg.Wait()
}

func (w *watcher) context() (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		select {
		case <-w.done:
		case <-ctx.Done():
		}
		cancel()
	}()
	return ctx, cancel
}

// probeLoop probes t every interval and writes this node's report when
// its damped view changes, and once at start.
func (w *watcher) probeLoop(p *watch.Prober, t watch.Target) {
	defer w.wg.Done()
	ctx, cancel := w.context()
	defer cancel()
	local := watch.Local{Fall: probeFall, Rise: probeRise}
	tick := time.NewTicker(t.Interval)
	defer tick.Stop()
	for {
		r := p.Probe(ctx, t)
		if ctx.Err() != nil {
			return
		}
		result := "up"
		if !r.Up {
			result = "down"
		}
		w.probes.WithLabelValues(t.Name, result).Inc()
		if local.Observe(r, w.n.opts.Now()) {
			_, up, since, reason := local.View()
			rep := &relay.WatchReport{Node: w.n.opts.Name, Subject: relay.SubjectTarget + t.Name, Up: up, Since: since.UTC(), Reason: reason}
			if _, err := w.n.store.Append(ctx, relay.Event{WatchReport: rep}); err != nil && ctx.Err() == nil {
				w.n.log.Error("watch report not written", "target", t.Name, "err", err)
				local = watch.Local{Fall: probeFall, Rise: probeRise} // write it again next time
			} else {
				w.n.log.Info("watched target seen from here", "target", t.Name, "up", up, "since", since, "reason", reason)
			}
		}
		select {
		case <-tick.C:
		case <-w.done:
			return
		}
	}
}

// loop keeps this node's view of the other nodes and decides, every
// tick and at every membership change.
func (w *watcher) loop() {
	defer w.wg.Done()
	ctx, cancel := w.context()
	defer cancel()
	tick := time.NewTicker(w.opts.Tick)
	defer tick.Stop()
	for {
		if err := w.round(ctx); err != nil && ctx.Err() == nil {
			w.n.log.Error("watch round failed; trying again", "err", err)
		}
		select {
		case <-tick.C:
		case <-w.kick:
		case <-w.done:
			return
		}
	}
}

func (w *watcher) round(ctx context.Context) error {
	if !w.n.repl.CaughtUp() {
		return nil
	}
	sites, err := w.n.store.Sites()
	if err != nil {
		return err
	}
	alive := w.n.repl.Members()
	if err := w.viewPeers(ctx, sites, alive); err != nil {
		return err
	}
	if w.cutOff(len(sites), len(alive)) {
		return nil
	}
	return w.n.decide(ctx, sites, alive)
}

// viewPeers writes this node's report of each other node the log knows
// whose state changed since its last report (every one, the first time).
func (w *watcher) viewPeers(ctx context.Context, sites map[string]string, alive []string) error {
	now := w.n.opts.Now().UTC()
	for name := range sites {
		if name == w.n.opts.Name {
			continue
		}
		up := slices.Contains(alive, name)
		w.mu.Lock()
		last, ok := w.peers[name]
		w.mu.Unlock()
		if ok && last == up {
			continue
		}
		rep := &relay.WatchReport{Node: w.n.opts.Name, Subject: relay.SubjectNode + name, Up: up, Since: now}
		if !up {
			rep.Reason = "not a live member"
		}
		if _, err := w.n.store.Append(ctx, relay.Event{WatchReport: rep}); err != nil {
			return err
		}
		w.mu.Lock()
		w.peers[name] = up
		w.mu.Unlock()
	}
	return nil
}

// isolationNoise is how long a node must find itself cut off before it
// says so in its log.
const isolationNoise = 10 * time.Second

// cutOff notes whether this node sees fewer than a majority of the nodes
// the log knows alive, itself included: then it is the one cut off, and
// it pages nobody.
func (w *watcher) cutOff(nodes, alive int) bool {
	isolated := nodes > 0 && alive < nodes/2+1
	now := w.n.opts.Now()
	w.mu.Lock()
	was := w.isolated
	w.isolated, w.alive, w.nodes = isolated, alive, nodes
	if isolated && !was {
		w.isolatedAt = now
	}
	// A node joining its cluster sees itself alone for a moment: it
	// pages nobody meanwhile, but says it is cut off only when that
	// lasts.
	say := isolated && !w.cutOffSaid && now.Sub(w.isolatedAt) >= isolationNoise
	back := !isolated && w.cutOffSaid
	if say {
		w.cutOffSaid = true
	}
	if back {
		w.cutOffSaid = false
	}
	w.mu.Unlock()
	if say {
		w.n.log.Warn("this node sees fewer than a majority of the cluster alive: it is cut off and pages nobody", "alive", alive, "nodes", nodes,
			"since", w.isolatedAt.UTC().Format(time.RFC3339))
	} else if back {
		w.n.log.Info("this node sees a majority of the cluster again", "alive", alive, "nodes", nodes)
	}
	return isolated
}

// Isolation says whether this node is cut off from the majority of the
// nodes the log knows, and how many of them it sees alive (itself
// included).
type Isolation struct {
	Isolated bool
	Alive    int
	Nodes    int
}

// Isolation returns the node's last look at whether it is cut off.
func (n *Node) Isolation() Isolation {
	w := n.watcher
	w.mu.Lock()
	defer w.mu.Unlock()
	return Isolation{Isolated: w.isolated, Alive: w.alive, Nodes: w.nodes}
}
