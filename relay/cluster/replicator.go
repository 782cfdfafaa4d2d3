package cluster

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/oob-relay/relay/relay"
	"github.com/oob-relay/relay/relay/loggate"
	"github.com/oob-relay/relay/relay/store"
)

// Options configures a Replicator. Each zero field takes the default its
// comment gives.
type Options struct {
	Store *store.Store
	// Batch bounds the events in one push. Zero means 256: messages are up
	// to 64 KiB, so a push stays within a few MiB.
	Batch int
	// Window bounds this node's events sent to a peer and not yet
	// confirmed by it; the sender waits for the peer's marks beyond it, so
	// a slow peer is not flooded. Zero means 4 × Batch.
	Window int
	// Resend is how long a sender waits for a peer to confirm what it
	// sent before it sends again from what the peer last confirmed: a
	// push the peer dropped (its queue was full) or lost is sent again.
	// Zero means 1 s.
	Resend time.Duration
	// Retry is the wait before pushing again to a live peer after a
	// failed push. Zero means 200 ms.
	Retry time.Duration
	// Inbox bounds the frames from one peer waiting to be merged. A frame
	// that finds it full is dropped (and sent again by its sender, see
	// Resend). Zero means 64.
	Inbox      int
	Logger     *slog.Logger
	Registerer prometheus.Registerer
	Now        func() time.Time
	// CatchUpTimeout bounds how long the node waits for a new peer's
	// hello, and then for the events it announced, before it delivers
	// anyway (see CaughtUp). Zero means 10 s.
	CatchUpTimeout time.Duration
	// OnCaughtUp is called when the node has caught up again after a
	// peer appeared: the time to take up the deliveries it owns. It runs
	// on a goroutine of the replicator and must not block.
	OnCaughtUp func()
	// Dir holds the snapshots made for peers and taken from them (see
	// store.WriteSnapshot); empty means os.TempDir().
	Dir string
	// MaxSnapshot bounds the snapshot a node takes from a peer. Zero
	// means 16 GiB.
	MaxSnapshot int64

	// Signer and Keys authenticate the cluster: with Keys set, every
	// frame this node sends is signed by Signer, and a frame from a peer
	// is taken only when signed by that peer's trusted key, for this
	// node, lately (FrameAge). A member whose name has no trusted key,
	// or that has not yet proven it holds one, is sent no event and owns
	// no delivery (Members). Without Keys, any member of the gossip
	// cluster is believed.
	Signer Signer
	Keys   Keys
	// FrameAge bounds how old or how far ahead a signed frame may be.
	// Zero means DefaultFrameAge.
	FrameAge time.Duration
	// SpeakingFor is how long a member's last frame keeps it among the
	// Members after the membership counts it dead (see speaking.go). Zero
	// means DefaultSpeakingFor.
	SpeakingFor time.Duration
	// OnMembers is called when Members changes: a peer proved who it is,
	// or left. It runs on the transport's or the replicator's goroutines
	// and must not block.
	OnMembers func()
}

func (o *Options) setDefaults() error {
	if o.Store == nil {
		return errors.New("cluster: Store is required")
	}
	if o.Batch <= 0 {
		o.Batch = 256
	}
	if o.Window <= 0 {
		o.Window = 4 * o.Batch
	}
	if o.Resend <= 0 {
		o.Resend = time.Second
	}
	if o.Retry <= 0 {
		o.Retry = 200 * time.Millisecond
	}
	if o.Inbox <= 0 {
		o.Inbox = 64
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Registerer == nil {
		o.Registerer = prometheus.NewRegistry()
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.CatchUpTimeout <= 0 {
		o.CatchUpTimeout = 10 * time.Second
	}
	if o.Dir == "" {
		o.Dir = os.TempDir()
	}
	if o.MaxSnapshot <= 0 {
		o.MaxSnapshot = 16 << 30
	}
	if o.SpeakingFor <= 0 {
		o.SpeakingFor = DefaultSpeakingFor
	}
	if o.FrameAge <= 0 {
		o.FrameAge = DefaultFrameAge
	}
	if o.Keys != nil && o.Signer == nil {
		return errors.New("cluster: Keys without a Signer: this node could not sign what it sends")
	}
	return nil
}

// maxInboxes bounds the peers whose frames wait to be merged at once: a
// cluster has a handful of nodes, and a stranger holding the gossip key
// must not make this node start goroutines without end.
const maxInboxes = 64

// Replicator copies this node's events to its peers and merges theirs.
//
// Its methods are safe for concurrent use. The Transport callbacks
// (OnMessage, OnDatagram, LocalState, MergeState) and OnChange return
// quickly: they never write to the store or send over the network
// themselves, and OnDatagram does not even check a signature; merges,
// checks of datagrams and answers run on goroutines the Replicator owns,
// which Close stops.
type Replicator struct {
	opts   Options
	st     *store.Store
	log    *slog.Logger
	origin string
	m      *metrics

	t      atomic.Pointer[Transport]
	latest atomic.Uint64 // this node's latest own sequence
	done   chan struct{} // closed by Close
	wg     sync.WaitGroup

	mu      sync.Mutex
	peers   map[string]*peer
	inboxes map[string]*inbox
	changed chan struct{} // closed and replaced when a peer's marks move
	// datagramsIn holds the datagrams received, for takeDatagrams.
	datagramsIn chan datagram
	want        map[string]uint64
	heard       bool             // some peer's state has arrived
	hellos      map[string]hello // by member name: its hello, once it came (kept while recent for a member not yet live)
	// proven holds the members that sent a frame signed by their trusted
	// key since they last joined (all peers, without Keys).
	proven map[string]bool
	// lastFrame holds when each member last sent a recent frame, and
	// speaking the members counted dead that count by their frames
	// (see speaking.go).
	lastFrame map[string]time.Time
	speaking  []string
	asks      uint64 // numbers the hellos sent when a member died
	ready     chan struct{}
	isReady   bool
	closed    bool

	checkMu sync.Mutex  // serialises checkReady
	caught  atomic.Bool // see CaughtUp
	recheck chan struct{}

	refusals *loggate.Gate // of log lines about refused frames

	snaps    snapshots      // made for peers
	fetching string         // the peer a snapshot is being taken from; guarded by mu
	snapIn   chan *snapPart // parts of the snapshot being taken
}

// peer is one other live member, as this node sees it.
type peer struct {
	name    string
	marks   map[string]uint64 // what it holds, from its answers; guarded by Replicator.mu
	ackedAt time.Time
	told    bool          // it has told its marks: a hello, an answer or its state
	wake    chan struct{} // a new own event is on disk
	stop    chan struct{}
	added   time.Time
	catchUp bool // a catch-up is running
	again   bool // another is asked for once it ends (a hello came meanwhile)
	// asked numbers the hello this node sent the peer when a member
	// died, until the peer answers it; askedAt is when (see takeover.go).
	asked   uint64
	askedAt time.Time
	// answerWait is how long a datagram push waits for the answer,
	// missed counts the waits in vain in a row, and noDatagrams is when
	// datagrams to the peer may be tried again after too many (see
	// pushDatagram); only its push goroutine uses them.
	answerWait  time.Duration
	missed      int
	noDatagrams time.Time
}

// New prepares a replicator over opts.Store and starts following its
// writes. Nothing is sent until Attach.
func New(opts Options) (*Replicator, error) {
	if err := opts.setDefaults(); err != nil {
		return nil, err
	}
	r := &Replicator{
		opts: opts, st: opts.Store, log: opts.Logger, origin: opts.Store.Origin(), done: make(chan struct{}),
		peers: map[string]*peer{}, inboxes: map[string]*inbox{}, changed: make(chan struct{}), want: map[string]uint64{},
		hellos: map[string]hello{}, proven: map[string]bool{}, lastFrame: map[string]time.Time{}, ready: make(chan struct{}), recheck: make(chan struct{}, 1),
		refusals: loggate.New(1, 5),
		snaps:    snapshots{files: map[string]*snapFile{}}, snapIn: make(chan *snapPart, 2*snapInFlight),
		datagramsIn: make(chan datagram, datagramQueue),
	}
	marks, err := r.st.Marks()
	if err != nil {
		return nil, fmt.Errorf("cluster: read marks: %w", err)
	}
	r.latest.Store(marks[r.origin])
	r.caught.Store(true)
	r.m = newMetrics(opts.Registerer, r)
	r.st.Observe(r.observe)
	r.wg.Add(2)
	go r.watch()
	go r.takeDatagrams()
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
	// A member gone stops CaughtUp before the ownership that gives this
	// node its deliveries moves (OnMembers): see takeover.go.
	r.checkMu.Lock()
	changed, departed := r.syncPeers()
	if departed {
		r.caught.Store(false)
	}
	r.checkMu.Unlock()
	if spoke, _ := r.updateSpeaking(); changed || spoke {
		r.membersChanged()
	}
	if changed {
		r.checkReady()
	}
	r.poke() // the watcher times out the members counted by their frames
}

// syncPeers does OnChange's work; it reports whether it changed anything,
// and whether a peer went while others stay, which asks them what they
// hold (askSurvivors).
func (r *Replicator) syncPeers() (changed, departed bool) {
	t := r.transport()
	if t == nil {
		return false, false
	}
	alive := t.Alive()
	self := t.LocalNode()
	if r.signing() {
		// Only members with a trusted key are peers: the others get
		// nothing of this node's.
		alive = slices.DeleteFunc(alive, func(name string) bool { return name != self && !r.opts.Keys.Trusted(name) })
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return false, false
	}
	gone := 0
	for name, p := range r.peers {
		if !slices.Contains(alive, name) {
			gone++
			close(p.stop)
			delete(r.peers, name)
			delete(r.hellos, name) // it says hello again when it is back
			// And proves itself again: another process may take the
			// name of a member gone.
			delete(r.proven, name)
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
		r.peers[name] = p
		r.wg.Add(1)
		go r.push(t, p)
	}
	departed = gone > 0 && r.askSurvivors(t)
	r.signal()
	return true, departed
}

// prove notes that member name sent a frame signed by its trusted key.
func (r *Replicator) prove(name string) {
	r.mu.Lock()
	was := r.proven[name]
	r.proven[name] = true
	_, peer := r.peers[name]
	if !was {
		r.signal()
	}
	r.mu.Unlock()
	if !was && peer {
		r.membersChanged()
	}
}

// isProven reports whether peer name proved who it is; always, on a
// cluster that is not authenticated.
func (r *Replicator) isProven(name string) bool {
	if !r.signing() {
		return true
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.proven[name]
}

func (r *Replicator) membersChanged() {
	if r.opts.OnMembers != nil {
		r.opts.OnMembers()
	}
}

// Members returns the members that count: this node, every live peer
// that proved it holds its trusted key (every live peer, on a cluster
// that is not authenticated), and every member the membership counts
// dead whose frames still come (see speaking.go), sorted. Deliveries are
// shared among them.
func (r *Replicator) Members() []string {
	self := r.self()
	out := []string{self}
	r.mu.Lock()
	for name := range r.peers {
		if !r.signing() || r.proven[name] {
			out = append(out, name)
		}
	}
	out = append(out, r.speaking...)
	r.mu.Unlock()
	slices.Sort(out)
	return slices.Compact(out)
}

// signal wakes everyone waiting on marks; r.mu is held.
func (r *Replicator) signal() {
	close(r.changed)
	r.changed = make(chan struct{})
}

func (r *Replicator) peerMark(name, origin string) uint64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	if p := r.peers[name]; p != nil {
		return p.marks[origin]
	}
	return 0
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
	p.told = true
	if ack {
		p.ackedAt = r.opts.Now()
		if _, ok := r.hellos[from]; !ok {
			// A peer that never stopped counting this node live says no
			// hello when this node counts it live again (it was counted
			// dead on this side alone). Its answer tells what it holds
			// now, which is all a hello would, and stands for one.
			r.hellos[from] = hello{marks: maps.Clone(marks), at: p.ackedAt}
		}
	}
	r.signal()
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

// LowWater returns, for every origin this node holds, the highest
// sequence that this node and every live peer hold: events at or below it
// are on every live node. ok is false while a live peer has not told its
// marks yet.
func (r *Replicator) LowWater() (map[string]uint64, bool) {
	ours, err := r.st.Marks()
	if err != nil {
		return nil, false
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, p := range r.peers {
		if !p.told {
			return nil, false
		}
		for o := range ours {
			ours[o] = min(ours[o], p.marks[o])
		}
	}
	return ours, true
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

// Close stops every sender, merge and catch-up, waits for them, and
// ignores whatever the transport delivers afterwards. Merges in progress
// finish first, so Close must come before the store's.
func (r *Replicator) Close() {
	r.mu.Lock()
	if !r.closed {
		r.closed = true
		close(r.done)
		for name, p := range r.peers {
			close(p.stop)
			delete(r.peers, name)
		}
		r.signal()
	}
	r.mu.Unlock()
	r.wg.Wait()
	r.removeSnapshots()
}

// sleep waits d, or until stop or Close; it reports whether to go on.
func (r *Replicator) sleep(d time.Duration, stop <-chan struct{}) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-stop:
		return false
	case <-r.done:
		return false
	}
}
