package cluster

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/oob-relay/relay/relay"
	"github.com/oob-relay/relay/relay/store"
)

// Options configures a Replicator.
type Options struct {
	Store *store.Store
	// Batch bounds the events in one push. Zero means 256: messages are up
	// to 64 KiB, so a push stays within a few MiB.
	Batch int
	// Retry is the wait before pushing again to a live peer after a
	// failed push. Zero means 200 ms.
	Retry      time.Duration
	Logger     *slog.Logger
	Registerer prometheus.Registerer
	Now        func() time.Time
	// CatchUpTimeout bounds how long the node waits for a new peer's
	// hello, and then for the events it announced, before it delivers
	// anyway (see CaughtUp). Zero means 10 s.
	CatchUpTimeout time.Duration
	// OnCaughtUp is called when the node has caught up again after a
	// peer appeared: the time to take up the deliveries it owns.
	OnCaughtUp func()
}

// Replicator copies this node's events to its peers and merges theirs.
type Replicator struct {
	opts   Options
	st     *store.Store
	log    *slog.Logger
	origin string
	m      *metrics

	t      atomic.Pointer[Transport]
	latest atomic.Uint64 // this node's latest own sequence

	mu      sync.Mutex
	peers   map[string]*peer
	changed chan struct{} // closed and replaced when a peer's marks move
	want    map[string]uint64
	heard   bool             // some peer's state has arrived
	hellos  map[string]hello // by live peer name: its hello, once it came
	caught  atomic.Bool      // see CaughtUp
	ready   chan struct{}
	isReady bool
	closed  bool

	wg sync.WaitGroup
}

// peer is one other live member, as this node sees it.
type peer struct {
	name    string
	marks   map[string]uint64 // what it holds, from its answers; guarded by Replicator.mu
	ackedAt time.Time
	wake    chan struct{} // a new own event is on disk
	stop    chan struct{}
	added   time.Time
	catchUp bool // a catch-up is running
}

// New prepares a replicator over opts.Store and starts following its
// writes. Nothing is sent until Attach.
func New(opts Options) (*Replicator, error) {
	if opts.Store == nil {
		return nil, errors.New("cluster: Store is required")
	}
	if opts.Batch <= 0 {
		opts.Batch = 256
	}
	if opts.Retry <= 0 {
		opts.Retry = 200 * time.Millisecond
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Registerer == nil {
		opts.Registerer = prometheus.NewRegistry()
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.CatchUpTimeout <= 0 {
		opts.CatchUpTimeout = 10 * time.Second
	}
	r := &Replicator{
		opts: opts, st: opts.Store, log: opts.Logger, origin: opts.Store.Origin(),
		peers: map[string]*peer{}, changed: make(chan struct{}), want: map[string]uint64{},
		hellos: map[string]hello{}, ready: make(chan struct{}),
	}
	marks, err := r.st.Marks()
	if err != nil {
		return nil, fmt.Errorf("cluster: read marks: %w", err)
	}
	r.latest.Store(marks[r.origin])
	r.caught.Store(true)
	r.m = newMetrics(opts.Registerer, r)
	r.st.Observe(r.observe)
	return r, nil
}

// Attach connects the replicator to its membership and starts pushing to
// the members alive now.
func (r *Replicator) Attach(t Transport) {
	r.t.Store(&t)
	r.OnChange()
}

func (r *Replicator) transport() Transport {
	if p := r.t.Load(); p != nil {
		return *p
	}
	return nil
}

// observe notes this node's new events and wakes the senders. It runs on
// the store's writer goroutine.
func (r *Replicator) observe(events []relay.Event) {
	top := uint64(0)
	for i := range events {
		if events[i].Origin == r.origin {
			top = max(top, events[i].Seq)
		}
	}
	if top == 0 {
		return
	}
	r.latest.Store(max(r.latest.Load(), top))
	r.mu.Lock()
	for _, p := range r.peers {
		select {
		case p.wake <- struct{}{}:
		default:
		}
	}
	r.mu.Unlock()
}

// OnChange brings the peers in line with the members alive now: a sender
// for each new one, none for those gone. Call it on every membership
// change.
func (r *Replicator) OnChange() {
	if r.syncPeers() {
		r.checkReady()
	}
}

// syncPeers does OnChange's work; it reports whether it changed anything.
func (r *Replicator) syncPeers() bool {
	t := r.transport()
	if t == nil {
		return false
	}
	alive := t.Alive()
	self := t.LocalNode()
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return false
	}
	for name, p := range r.peers {
		if !slices.Contains(alive, name) {
			close(p.stop)
			delete(r.peers, name)
			delete(r.hellos, name) // it says hello again when it is back
		}
	}
	for _, name := range alive {
		if name == self || r.peers[name] != nil {
			continue
		}
		p := &peer{name: name, marks: map[string]uint64{}, wake: make(chan struct{}, 1), stop: make(chan struct{}),
			added: r.opts.Now()}
		if h, ok := r.hellos[name]; ok {
			maps.Copy(p.marks, h.marks) // its hello came first
		}
		time.AfterFunc(r.opts.CatchUpTimeout, r.checkReady)
		r.peers[name] = p
		r.wg.Add(1)
		go r.push(t, p)
	}
	r.signal()
	return true
}

// signal wakes everyone waiting on marks; r.mu is held.
func (r *Replicator) signal() {
	close(r.changed)
	r.changed = make(chan struct{})
}

// push sends this node's events to p, in order, as they come, until p is
// gone. A failed push is retried from what p last confirmed.
func (r *Replicator) push(t Transport, p *peer) {
	defer r.wg.Done()
	if !r.greet(t, p) {
		return
	}
	sent := r.peerMark(p.name, r.origin)
	for {
		sent = max(sent, r.peerMark(p.name, r.origin))
		if sent >= r.latest.Load() {
			select {
			case <-p.wake:
				continue
			case <-p.stop:
				return
			}
		}
		events, err := r.st.EventsFrom(r.origin, sent, r.opts.Batch)
		if err == nil && len(events) == 0 {
			sent = r.latest.Load()
			continue
		}
		if err == nil {
			err = t.SendReliable(p.name, encode(wire{Kind: kindPush, Events: events}))
		}
		if err != nil {
			r.m.pushes.WithLabelValues("failed").Inc()
			r.log.Debug("push to peer failed; retrying", "peer", p.name, "err", err)
			sent = r.peerMark(p.name, r.origin)
			select {
			case <-time.After(r.opts.Retry):
				continue
			case <-p.stop:
				return
			}
		}
		r.m.pushes.WithLabelValues("ok").Inc()
		r.m.pushedEvents.Add(float64(len(events)))
		sent = events[len(events)-1].Seq
	}
}

func (r *Replicator) peerMark(name, origin string) uint64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	if p := r.peers[name]; p != nil {
		return p.marks[origin]
	}
	return 0
}

// OnMessage handles a message from another member: it merges pushed
// events and answers with this node's marks, or records a peer's answer.
func (r *Replicator) OnMessage(from string, payload []byte) {
	w, err := decodeWire(payload)
	if err != nil {
		r.m.refused.Inc()
		r.log.Warn("cluster message refused", "from", from, "err", err)
		return
	}
	switch w.Kind {
	case kindMarks:
		r.noteMarks(from, w.Marks, true)
	case kindHello:
		r.onHello(from, w.Marks)
	case kindPush:
		if err := r.merge(w.Events); err != nil {
			r.log.Error("merging pushed events failed", "from", from, "events", len(w.Events), "err", err)
			return
		}
		t := r.transport()
		marks, err := r.st.Marks()
		if t == nil || err != nil {
			return
		}
		if err := t.SendReliable(from, encode(wire{Kind: kindMarks, Marks: marks})); err != nil {
			r.log.Debug("answering a push failed", "peer", from, "err", err)
		}
	}
}

// merge folds events from a peer into the store, skipping any of this
// node's own origin (a peer may offer them back).
func (r *Replicator) merge(events []relay.Event) error {
	events = slices.DeleteFunc(slices.Clone(events), func(e relay.Event) bool { return e.Origin == r.origin })
	if len(events) == 0 {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	fresh, err := r.st.Merge(ctx, events)
	if err != nil {
		return err
	}
	r.m.mergedEvents.Add(float64(len(fresh)))
	// Once ready and caught up, only a hello or a new peer calls for a
	// check, and they make one themselves.
	select {
	case <-r.ready:
		if r.caught.Load() {
			return nil
		}
	default:
	}
	r.checkReady()
	return nil
}

// noteMarks records what peer from holds.
func (r *Replicator) noteMarks(from string, marks map[string]uint64, ack bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	p := r.peers[from]
	if p == nil {
		return
	}
	for o, m := range marks {
		p.marks[o] = max(p.marks[o], m)
	}
	if ack {
		p.ackedAt = r.opts.Now()
	}
	r.signal()
}

// LocalState is this node's offer in a push/pull: its marks.
func (r *Replicator) LocalState(join bool) []byte {
	marks, err := r.st.Marks()
	if err != nil {
		r.log.Error("reading marks for anti-entropy failed", "err", err)
		return nil
	}
	b, _ := json.Marshal(state{Marks: marks})
	return b
}

// MergeState takes a peer's marks from a push/pull: it sends the peer
// every event it lacks, of every origin, and notes what the peer has that
// this node must wait for before it is ready.
func (r *Replicator) MergeState(from string, raw []byte, join bool) {
	var s state
	if err := json.Unmarshal(raw, &s); err != nil {
		r.m.refused.Inc()
		r.log.Warn("anti-entropy state refused", "from", from, "err", err)
		return
	}
	r.OnChange() // the peer may be news
	r.noteMarks(from, s.Marks, false)
	r.mu.Lock()
	for o, m := range s.Marks {
		if o != r.origin {
			r.want[o] = max(r.want[o], m)
		}
	}
	r.heard = true
	p := r.peers[from]
	start := p != nil && !p.catchUp
	if start {
		p.catchUp = true
		r.wg.Add(1)
	}
	r.mu.Unlock()
	r.checkReady()
	if start {
		go r.catchUp(p, s.Marks)
	}
}

// catchUp sends p what it lacks according to its marks.
func (r *Replicator) catchUp(p *peer, theirs map[string]uint64) {
	defer r.wg.Done()
	defer func() {
		r.mu.Lock()
		p.catchUp = false
		r.mu.Unlock()
	}()
	t := r.transport()
	ours, err := r.st.Marks()
	if err != nil || t == nil {
		return
	}
	sent := 0
	for origin, mark := range ours {
		for after := theirs[origin]; after < mark; {
			select {
			case <-p.stop:
				return
			default:
			}
			events, err := r.st.EventsFrom(origin, after, r.opts.Batch)
			if err != nil || len(events) == 0 {
				break
			}
			if err := t.SendReliable(p.name, encode(wire{Kind: kindPush, Events: events})); err != nil {
				r.log.Debug("anti-entropy push failed", "peer", p.name, "err", err)
				return
			}
			sent += len(events)
			after = events[len(events)-1].Seq
		}
	}
	if sent > 0 {
		r.m.repairedEvents.Add(float64(sent))
		r.log.Info("anti-entropy sent a peer what it lacked", "peer", p.name, "events", sent)
	}
}

// MarkReady declares the node reconciled: it has caught up with what its
// peers hold, or it is alone.
func (r *Replicator) MarkReady() {
	r.mu.Lock()
	defer r.mu.Unlock()
	if !r.isReady {
		r.isReady = true
		close(r.ready)
	}
}

// Latest returns the sequence of this node's latest event.
func (r *Replicator) Latest() uint64 { return r.latest.Load() }

// Ready is closed once the node has reconciled with its peers.
func (r *Replicator) Ready() <-chan struct{} { return r.ready }

// WaitCopies waits until n live peers hold this node's event seq, or
// every live peer does, or ctx ends. It returns how many peers hold it.
// With no live peer it returns 0 at once.
func (r *Replicator) WaitCopies(ctx context.Context, seq uint64, n int) (int, error) {
	for {
		r.mu.Lock()
		have := 0
		for _, p := range r.peers {
			if p.marks[r.origin] >= seq {
				have++
			}
		}
		peers, ch := len(r.peers), r.changed
		r.mu.Unlock()
		if have >= n || have >= peers {
			return have, nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return have, ctx.Err()
		}
	}
}

// PeerStatus is what this node knows of one peer's replication.
type PeerStatus struct {
	Name string
	// Behind counts this node's events the peer has not confirmed.
	Behind uint64
	// AckedAt is when the peer last confirmed a push.
	AckedAt time.Time
}

// Peers returns the replication status of every live peer, by name.
func (r *Replicator) Peers() []PeerStatus {
	latest := r.latest.Load()
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]PeerStatus, 0, len(r.peers))
	for _, p := range r.peers {
		out = append(out, PeerStatus{Name: p.name, Behind: latest - min(latest, p.marks[r.origin]), AckedAt: p.ackedAt})
	}
	slices.SortFunc(out, func(a, b PeerStatus) int { return strings.Compare(a.Name, b.Name) })
	return out
}

// Close stops every sender and catch-up and waits for them.
func (r *Replicator) Close() {
	r.mu.Lock()
	if !r.closed {
		r.closed = true
		for name, p := range r.peers {
			close(p.stop)
			delete(r.peers, name)
		}
		r.signal()
	}
	r.mu.Unlock()
	r.wg.Wait()
}
