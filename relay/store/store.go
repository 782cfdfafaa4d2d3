package store

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/oklog/ulid/v2"
	"github.com/prometheus/client_golang/prometheus"
	bolt "go.etcd.io/bbolt"

	"github.com/oob-relay/relay/relay"
	"github.com/oob-relay/relay/relay/hlc"
	"github.com/oob-relay/relay/relay/loggate"
)

// ErrClosed is returned by writes after Close.
var ErrClosed = errors.New("store is closed")

// Options configures a Store.
type Options struct {
	// Dir is the data directory; the store file is Dir/relay.db.
	Dir string
	// Node is this node's name, recorded on every event it writes.
	Node string
	// Clock issues event times; nil means a new clock on the wall time.
	Clock      *hlc.Clock
	Logger     *slog.Logger
	Registerer prometheus.Registerer
	// MaxBatch bounds the events committed in one transaction. Zero means
	// 4096: large enough that one fsync serves a whole fan-out burst,
	// small enough that a transaction stays in the low milliseconds.
	MaxBatch int
	// Signer, when set, signs every event this store writes (Event.Sig).
	Signer Signer
	// Verify, when set, checks every event merged from elsewhere, its
	// signature above all (see trust.Keyring); an event it refuses is not
	// merged, and is counted and logged. The store itself refuses an
	// event whose origin another node already wrote under.
	Verify func(e *relay.Event) error
	// MaxDrift bounds how far ahead of this node's wall clock the clock of
	// an event merged from elsewhere may be; an event further ahead is
	// refused, never folded, so that a wrong or hostile clock can neither
	// win every conflict nor carry this node's clock away. Zero means
	// DefaultMaxDrift.
	MaxDrift time.Duration
	// Now reads the wall clock for MaxDrift; nil means time.Now.
	Now func() time.Time
}

// Signer signs as this node.
type Signer interface {
	Sign(msg []byte) []byte
}

// DefaultMaxDrift tolerates clocks a minute apart: NTP keeps servers far
// closer, and a minute ahead wins nothing a human would notice.
const DefaultMaxDrift = time.Minute

func (o *Options) validate() error {
	if o.Dir == "" {
		return errors.New("store: Dir is required")
	}
	if o.Node == "" {
		return errors.New("store: Node is required")
	}
	if o.Clock == nil {
		o.Clock = hlc.NewClock(nil)
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if o.Registerer == nil {
		o.Registerer = prometheus.NewRegistry()
	}
	if o.MaxBatch <= 0 {
		o.MaxBatch = 4096
	}
	if o.MaxDrift <= 0 {
		o.MaxDrift = DefaultMaxDrift
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return nil
}

// Store is a node's event log and folded state. It is safe for concurrent
// use.
type Store struct {
	// db is replaced when the file is rewritten (CompactFile): readers
	// take dbMu for reading; the writer, which alone replaces it, for
	// writing.
	dbMu   sync.RWMutex
	db     *bolt.DB
	path   string
	node   string
	origin string
	clock  *hlc.Clock
	log    *slog.Logger
	m      *metrics
	max    int

	reqs    chan *writeReq
	closing chan struct{} // closed once no write can come any more
	stopped chan struct{} // closed when the writer has returned
	once    sync.Once
	// closeMu guards closed; inflight counts the writes admitted before
	// Close, which the writer answers before it stops.
	closeMu  sync.RWMutex
	closed   bool
	inflight sync.WaitGroup
	closeErr error

	obsMu     sync.RWMutex
	observers []func([]relay.Event)
	// changed tells waiters (a live page) that a commit changed state.
	changed *changes

	opts     Options
	refusals *loggate.Gate // of log lines about refused events

	seq uint64 // this origin's last sequence; owned by the writer goroutine
	hot *hotSet
	// upkeeps counts the upkeep transactions run, so that a file
	// compaction can tell whether upkeep changed the file under its copy.
	upkeeps atomic.Uint64
	// rosterGen counts roster changes (and restores); roster caches the
	// roster decoded at a generation (see Roster).
	rosterGen atomic.Uint64
	roster    atomic.Pointer[rosterCache]
	// effective caches the roster in effect at a roster generation
	// (EffectiveRoster); a contact change counts as a roster change.
	effective atomic.Pointer[effectiveCache]
}

type writeReq struct {
	local  []relay.Event // drafts to stamp and append
	remote []relay.Event // events from elsewhere to merge
	// fn, when set, is upkeep (retention, packing, truncation) run in a
	// transaction of its own.
	fn func(tx *bolt.Tx) error
	// run, when set, runs on the writer outside any transaction: the
	// swap of a compacted file.
	run func() error
	res chan writeRes
}

type writeRes struct {
	events []relay.Event // what was appended (local) or newly merged (remote)
	err    error
}

// Open opens or creates the store in opts.Dir. A new store gets a new
// origin id, so a node restarted on an empty directory never reuses the
// sequence numbers of its former life.
func Open(opts Options) (*Store, error) {
	if err := opts.validate(); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(opts.Dir, 0o700); err != nil {
		return nil, fmt.Errorf("store: create data dir: %w", err)
	}
	path := filepath.Join(opts.Dir, "relay.db")
	db, err := openBolt(path)
	if err != nil {
		return nil, fmt.Errorf("store: open %s: %w", path, err)
	}
	s := &Store{
		db: db, path: path, node: opts.Node, opts: opts, refusals: loggate.New(1, 5), clock: opts.Clock, log: opts.Logger, max: opts.MaxBatch, hot: newHotSet(), changed: newChanges(),
		reqs: make(chan *writeReq, 1024), closing: make(chan struct{}), stopped: make(chan struct{}),
	}
	if err := db.Update(s.init); err != nil {
		db.Close()
		return nil, fmt.Errorf("store: initialise %s: %w", path, err)
	}
	s.m = newMetrics(opts.Registerer)
	go s.writer()
	return s, nil
}

func openBolt(path string) (*bolt.DB, error) {
	return bolt.Open(path, 0o600, &bolt.Options{
		Timeout:        2 * time.Second, // another process holds the file: fail, do not hang
		NoFreelistSync: true,            // faster commits; the freelist is rebuilt on open
		FreelistType:   bolt.FreelistMapType,
	})
}

func (s *Store) init(tx *bolt.Tx) error {
	// A data dir from before the awaiting index gets it built.
	buildAwaiting := tx.Bucket(bucketAwaiting) == nil && tx.Bucket(bucketDeliv) != nil
	// And one from before origins were bound to nodes gets the bindings
	// its log shows.
	bindOrigins := tx.Bucket(bucketOrigins) == nil && tx.Bucket(bucketLog) != nil
	for _, b := range allBuckets {
		if _, err := tx.CreateBucketIfNotExists(b); err != nil {
			return err
		}
	}
	if buildAwaiting {
		ab := tx.Bucket(bucketAwaiting)
		err := tx.Bucket(bucketDeliv).ForEach(func(k, v []byte) error {
			d, err := decodeDelivery(string(k), v)
			if err != nil || !awaitsReceipt(&d) {
				return err
			}
			return ab.Put(k, nil)
		})
		if err != nil {
			return err
		}
	}
	if bindOrigins {
		if err := backfillOrigins(tx); err != nil {
			return err
		}
	}
	meta := tx.Bucket(bucketMeta)
	if o := meta.Get(keyOrigin); o != nil {
		s.origin = string(o)
	} else {
		s.origin = ulid.MustNew(ulid.Now(), rand.Reader).String()
		if err := meta.Put(keyOrigin, []byte(s.origin)); err != nil {
			return err
		}
	}
	if lb := tx.Bucket(bucketLog).Bucket([]byte(s.origin)); lb != nil {
		if k, _ := lb.Cursor().Last(); k != nil {
			s.seq = getU64(k)
		}
	}
	// Move the clock past everything already held, so new events sort
	// after old ones even if the wall clock stepped back while down; but
	// not past the drift: an event held from before such clocks were
	// refused must not carry this node's clock away.
	ahead := s.ahead()
	return tx.Bucket(bucketLog).ForEach(func(origin, _ []byte) error {
		lb := tx.Bucket(bucketLog).Bucket(origin)
		if _, v := lb.Cursor().Last(); v != nil {
			var e relay.Event
			if err := decode(v, &e); err != nil {
				return nil
			}
			if e.Clock > ahead {
				s.log.Error("the log holds an event whose clock is far ahead of this node's; its clock is not followed",
					"origin", string(origin), "seq", e.Seq, "node", e.Node, "clock", e.Clock.String())
				return nil
			}
			s.clock.Observe(e.Clock)
		}
		return nil
	})
}

// ahead returns the furthest clock this store accepts from elsewhere now.
func (s *Store) ahead() hlc.Timestamp {
	return hlc.Make(s.opts.Now().Add(s.opts.MaxDrift), 0)
}

// view runs fn in a read transaction.
func (s *Store) view(fn func(tx *bolt.Tx) error) error {
	s.dbMu.RLock()
	defer s.dbMu.RUnlock()
	return s.db.View(fn)
}

// Origin returns this store's origin id.
func (s *Store) Origin() string { return s.origin }

// Node returns the node name the store writes events as.
func (s *Store) Node() string { return s.node }

// Clock returns the store's hybrid logical clock.
func (s *Store) Clock() *hlc.Clock { return s.clock }

// Observe registers fn to be called with every batch of events that a
// commit made durable, local and merged alike, in commit order. fn runs on
// the store's writer goroutine: it must return quickly and must not write
// to the store. Register observers before the first write.
func (s *Store) Observe(fn func([]relay.Event)) {
	s.obsMu.Lock()
	defer s.obsMu.Unlock()
	s.observers = append(s.observers, fn)
}

// Append stamps drafts with this store's origin, next sequence numbers and
// clock, writes them to the log, folds them into state, and returns them
// once they are on disk. Drafts carry only their payload.
func (s *Store) Append(ctx context.Context, drafts ...relay.Event) ([]relay.Event, error) {
	return s.write(ctx, &writeReq{local: drafts, res: make(chan writeRes, 1)})
}

// Merge folds events received from other nodes and returns those that were
// new here, once they are on disk. Events already held are skipped. A
// malformed event makes the whole batch an error; an event that does not
// verify (Options.Verify), claims this node's origin, or carries a clock
// more than Options.MaxDrift ahead is refused alone: it is left out,
// counted in relay_store_refused_events_total and logged, and the rest is
// merged.
func (s *Store) Merge(ctx context.Context, events []relay.Event) ([]relay.Event, error) {
	for i := range events {
		if err := events[i].Check(); err != nil {
			return nil, err
		}
	}
	ahead := s.ahead()
	kept := events[:0:0]
	for i := range events {
		e := &events[i]
		switch {
		case e.Origin == s.origin:
			s.refuse(e, "own_origin", "the event claims this node's own origin")
		case e.Clock > ahead:
			s.refuse(e, "clock_ahead", fmt.Sprintf("its clock %s is more than %s ahead of this node's", e.Clock, s.opts.MaxDrift))
		default:
			if s.opts.Verify != nil {
				if err := s.opts.Verify(e); err != nil {
					s.refuse(e, "signature", err.Error())
					continue
				}
			}
			kept = append(kept, *e)
		}
	}
	if len(kept) == 0 {
		return nil, nil
	}
	return s.write(ctx, &writeReq{remote: kept, res: make(chan writeRes, 1)})
}

// refuse counts and logs an event refused from elsewhere; the log line is
// rate-limited, as a hostile peer may send many.
func (s *Store) refuse(e *relay.Event, reason, why string) {
	s.m.refused.WithLabelValues(reason).Inc()
	if n, ok := s.refusals.Allow(time.Now()); ok {
		s.log.Warn("event from elsewhere refused", "origin", e.Origin, "seq", e.Seq, "node", e.Node, "reason", why, "not_logged_before", n)
	}
}

// write hands r to the writer. Once handed over, it waits for the outcome
// even if ctx ends: the write may already be durable, and a caller must not
// be told otherwise. After Close it returns ErrClosed at once.
func (s *Store) write(ctx context.Context, r *writeReq) ([]relay.Event, error) {
	s.closeMu.RLock()
	if s.closed {
		s.closeMu.RUnlock()
		return nil, ErrClosed
	}
	s.inflight.Add(1)
	s.closeMu.RUnlock()
	defer s.inflight.Done()
	select {
	case s.reqs <- r:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	res := <-r.res
	return res.events, res.err
}

// Close refuses new writes, lets the writer answer the writes already
// admitted, stops it and closes the file. Later calls return the first
// call's result.
func (s *Store) Close() error {
	s.once.Do(func() {
		s.closeMu.Lock()
		s.closed = true
		s.closeMu.Unlock()
		s.inflight.Wait()
		close(s.closing)
		<-s.stopped
		s.changed.close()
		s.closeErr = s.db.Close()
	})
	return s.closeErr
}

func (s *Store) writer() {
	defer close(s.stopped)
	for {
		var first *writeReq
		select {
		case first = <-s.reqs:
		case <-s.closing:
			return // every admitted write was answered (see Close)
		}
		batch := []*writeReq{first}
		n := len(first.local) + len(first.remote)
	gather:
		for n < s.max {
			select {
			case r := <-s.reqs:
				batch = append(batch, r)
				n += len(r.local) + len(r.remote)
			default:
				break gather
			}
		}
		events := batch[:0:0]
		for _, r := range batch {
			if r.fn == nil && r.run == nil {
				events = append(events, r)
			}
		}
		if len(events) > 0 {
			s.commit(events)
		}
		for _, r := range batch {
			switch {
			case r.fn != nil:
				s.upkeeps.Add(1)
				err := s.db.Update(r.fn)
				s.rosterGen.Add(1) // a restore may have brought another roster
				s.changed.notify()
				r.res <- writeRes{err: err}
			case r.run != nil:
				r.res <- writeRes{err: r.run()}
			}
		}
	}
}

// exec runs fn in a write transaction of its own on the writer, between
// commits of events, and returns its error.
func (s *Store) exec(ctx context.Context, fn func(tx *bolt.Tx) error) error {
	_, err := s.write(ctx, &writeReq{fn: fn, res: make(chan writeRes, 1)})
	return err
}

func (s *Store) commit(batch []*writeReq) {
	start := time.Now()
	seq := s.seq
	results := make([][]relay.Event, len(batch))
	var all []relay.Event
	var folded *folder
	err := s.db.Update(func(tx *bolt.Tx) error {
		f := newFolder(tx)
		f.hot = s.hot
		f.ahead = s.ahead()
		folded = f
		for i, r := range batch {
			for _, d := range r.local {
				seq++
				d.Origin, d.Seq, d.Clock, d.Node = s.origin, seq, s.clock.Now(), s.node
				if s.opts.Signer != nil {
					b, err := d.SigningBytes()
					if err != nil {
						return err
					}
					d.Sig = s.opts.Signer.Sign(b)
				}
				if err := f.add(&d); err != nil {
					return err
				}
				results[i] = append(results[i], d)
			}
			for _, e := range r.remote {
				held, err := f.has(e.Origin, e.Seq)
				if err != nil {
					return err
				}
				if held {
					continue
				}
				if owner, ok := f.originOwner(e.Origin); ok && owner != e.Node {
					s.refuse(&e, "origin", fmt.Sprintf("origin %s belongs to node %s, not %s", e.Origin, owner, e.Node))
					continue
				}
				s.clock.Observe(e.Clock)
				if err := f.add(&e); err != nil {
					return err
				}
				results[i] = append(results[i], e)
			}
			all = append(all, results[i]...)
		}
		return f.flush()
	})
	s.m.commitSeconds.Observe(time.Since(start).Seconds())
	s.m.batchEvents.Observe(float64(len(all)))
	if err != nil {
		s.hot.clear()
		s.log.Error("store commit failed", "events", len(all), "err", err)
		for _, r := range batch {
			r.res <- writeRes{err: fmt.Errorf("store: commit: %w", err)}
		}
		return
	}
	s.seq = seq
	s.hot.update(folded.deliveries)
	if folded.rosterChanged {
		s.rosterGen.Add(1)
	}
	for i, r := range batch {
		r.res <- writeRes{events: results[i]}
	}
	for i := range all {
		s.m.events.WithLabelValues(all[i].Kind(), source(all[i].Origin == s.origin)).Inc()
	}
	if len(all) > 0 {
		s.obsMu.RLock()
		for _, fn := range s.observers {
			fn(all)
		}
		s.obsMu.RUnlock()
		s.changed.notify()
	}
}

func source(local bool) string {
	if local {
		return "local"
	}
	return "remote"
}

// backfillOrigins binds each origin of the log to the node that wrote its
// first event held.
func backfillOrigins(tx *bolt.Tx) error {
	ob, lb := tx.Bucket(bucketOrigins), tx.Bucket(bucketLog)
	return lb.ForEach(func(origin, _ []byte) error {
		b := lb.Bucket(origin)
		if b == nil {
			return nil
		}
		_, v := b.Cursor().First()
		if v == nil {
			return nil
		}
		var e relay.Event
		if err := decode(v, &e); err != nil {
			return err
		}
		if e.Node == "" {
			return nil
		}
		return ob.Put(bytes.Clone(origin), []byte(e.Node))
	})
}
