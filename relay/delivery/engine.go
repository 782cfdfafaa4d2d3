package delivery

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/time/rate"

	"github.com/oob-relay/relay/relay"
	"github.com/oob-relay/relay/relay/store"
)

// Provider is one account or server that carries a channel.
type Provider struct {
	// Name identifies the provider in records, logs and metrics. It is
	// unique across all channels.
	Name    string
	Channel string
	Sender  relay.Sender
	// Rate is the sustained attempts per second; zero means unlimited.
	// A Twilio long code sends about one SMS per second.
	Rate float64
	// Burst is how many attempts may go at once after a quiet spell.
	Burst int
}

// Options configures an Engine.
type Options struct {
	Store *store.Store
	// Node is this node's name, recorded as the owner of its attempts.
	Node      string
	Providers []Provider
	// Workers is the number of attempts in flight per channel. Zero means
	// 16.
	Workers int
	// AttemptTimeout bounds one attempt. Zero means 30 s: long enough for
	// a slow SMTP smarthost, short enough to retry well within a deadline.
	AttemptTimeout time.Duration
	// Backoff spaces retries; each zero field takes its default.
	Backoff Backoff
	// Breaker sets every provider's circuit breaker; each zero field
	// takes its default.
	Breaker Breaker
	// Owns reports whether this node should make the next attempt of a
	// delivery. Nil means every delivery (a single node).
	Owns func(*relay.Delivery) bool
	// Lease is how long a claim keeps a delivery with this node (see
	// cluster.Ownership). A claimed attempt that waited half of it for a
	// worker is not made: another member may be about to take the
	// delivery over. The delivery goes back to the queue and is claimed
	// again if this node still owns it. Zero means claims never go stale
	// (a single node).
	Lease time.Duration
	// Copied, when set, waits until the event seq that recorded claims or
	// attempt results is held by the node's peers, or gives up, and
	// reports whether they hold it. On a channel whose providers can be
	// asked about an attempt (relay.Tracker), an attempt waits for its
	// claim's copies before it starts, so that a member taking over after
	// this node's death finds it claimed and asks the provider rather
	// than sending it again; when Copied gives up, the attempt asks again
	// until its claim is a quarter of Lease old, and then starts anyway, so
	// that slow peers delay an SMS rather than repeat it, and a peer that
	// never confirms delays it by a quarter of Lease at most. On other
	// channels a takeover sends again anyway, so attempts do not wait. Each
	// lane holds one token per attempt from before it is sent until the
	// peers confirm its result (asking Copied again while they are slow,
	// until the result is a quarter of Lease old), and has as many tokens as claim
	// slots (Workers, or Workers × 16 on a lane without a rate limit). So
	// the attempts sent but unknown to the rest of the cluster, which a
	// takeover after this node's death could repeat, never exceed a
	// lane's slots, while the workers go on sending as results are
	// written and copied in the background. Nil means a single node:
	// nothing to wait for.
	Copied func(ctx context.Context, seq uint64) bool
	// ReplyCode, when set, gives the person's reply code for a delivery's
	// incident (see relay.Outgoing.ReplyCode).
	ReplyCode func(d *relay.Delivery) string
	// Link, when set, gives the person's personal link to a delivery's
	// incident room (see relay.Outgoing.Link), or "".
	Link func(d *relay.Delivery) string
	// Callbacks returns the base URL of a delivery's webhooks (see
	// relay.Outgoing.CallbackBase), or "". Nil means no receipts.
	Callbacks func(*relay.Delivery) string
	// ReceiptTimeout is how long a delivery sent on a channel whose
	// provider reports arrival (SMS, voice) waits for that report before
	// the node that owns it asks the provider (relay.Tracker). Zero means
	// DefaultReceiptTimeout.
	ReceiptTimeout time.Duration
	// Receipt records what a provider answered about a late receipt, as
	// if its status callback had come (the node's RecordReceipt). Nil
	// means late receipts are not looked up.
	Receipt    func(ctx context.Context, deliveryID string, r relay.Report) error
	Logger     *slog.Logger
	Registerer prometheus.Registerer
	// Now reads the time; nil means time.Now.
	Now func() time.Time
}

func (o *Options) validate() error {
	var errs []error
	if o.Store == nil {
		errs = append(errs, errors.New("delivery: Store is required"))
	}
	if o.Node == "" {
		errs = append(errs, errors.New("delivery: Node is required"))
	}
	names := map[string]bool{}
	for i, p := range o.Providers {
		switch {
		case p.Name == "":
			errs = append(errs, fmt.Errorf("delivery: provider %d has no name", i))
		case names[p.Name]:
			errs = append(errs, fmt.Errorf("delivery: provider name %q is used twice", p.Name))
		case !relay.KnownChannel(p.Channel):
			errs = append(errs, fmt.Errorf("delivery: provider %q has unknown channel %q", p.Name, p.Channel))
		case p.Sender == nil:
			errs = append(errs, fmt.Errorf("delivery: provider %q has no sender", p.Name))
		case p.Rate < 0:
			errs = append(errs, fmt.Errorf("delivery: provider %q has a negative rate", p.Name))
		}
		names[p.Name] = true
	}
	if o.Workers <= 0 {
		o.Workers = 16
	}
	if o.AttemptTimeout <= 0 {
		o.AttemptTimeout = 30 * time.Second
	}
	if o.ReceiptTimeout <= 0 {
		o.ReceiptTimeout = DefaultReceiptTimeout
	}
	o.Backoff = o.Backoff.WithDefaults()
	o.Breaker = o.Breaker.WithDefaults()
	if o.Logger == nil {
		o.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if o.Registerer == nil {
		o.Registerer = prometheus.NewRegistry()
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return errors.Join(errs...)
}

// DefaultReceiptTimeout asks a provider about a receipt a minute late:
// most arrive within seconds, and the answer comes before a fallback
// policy would treat the delivery as unconfirmed (two minutes at the
// earliest by default).
const DefaultReceiptTimeout = time.Minute

// Engine delivers the deliveries of accepted messages. Create it before
// the store's first write, so that it sees every message.
type Engine struct {
	opts  Options
	store *store.Store
	log   *slog.Logger
	m     *metrics
	lanes map[string]*lane
	msgs  *messageCache
	late  lateReceipts

	startOnce sync.Once
	started   chan struct{}
	// stopDispatch ends claiming; stopSends cancels attempts in flight.
	dispatchCtx  context.Context
	stopDispatch context.CancelFunc
	sendCtx      context.Context
	stopSends    context.CancelFunc
	wg           sync.WaitGroup // dispatchers and workers
	recWG        sync.WaitGroup // recorders and confirmers
	stopOnce     sync.Once
}

// claimAhead is how many claim slots (and unrecorded tokens) a lane
// without a rate limit has per worker, so that one claim and one record
// of results (one commit each) cover hundreds of deliveries during a
// fan-out: with 4, FanOut10k made about 13,000 deliveries a second; with
// 16, about 25,000. A claimed delivery not yet attempted when the node
// dies is attempted after the restart; it was never sent, so that is no
// duplicate. An attempt sent and not yet recorded may be repeated (an
// SMS is looked up at the provider first; a mail carries a fixed
// Message-ID receivers drop repeats by). Behind a rate limit, as SMS
// usually is, a lane has one slot per worker.
const claimAhead = 16

// unlimited reports whether no provider of a channel is rate limited.
// Only then does a lane claim ahead: behind a rate limit, deliveries
// claimed ahead would wait in line, and a high-priority message arriving
// meanwhile would wait behind them.
func unlimited(providers []Provider, channel string) bool {
	for _, p := range providers {
		if p.Channel == channel && p.Rate > 0 {
			return false
		}
	}
	return true
}

// New builds an engine over opts.Store and starts following its writes.
// Nothing is sent until Start.
func New(opts Options) (*Engine, error) {
	if err := opts.validate(); err != nil {
		return nil, err
	}
	e := &Engine{
		opts: opts, store: opts.Store, log: opts.Logger,
		lanes: make(map[string]*lane), msgs: newMessageCache(64, opts.Store), late: lateReceipts{next: map[string]receiptCheck{}},
		started: make(chan struct{}),
	}
	e.m = newMetrics(opts.Registerer, opts.Providers)
	e.dispatchCtx, e.stopDispatch = context.WithCancel(context.Background())
	e.sendCtx, e.stopSends = context.WithCancel(context.Background())
	for _, p := range opts.Providers {
		l := e.lanes[p.Channel]
		if l == nil {
			slots := opts.Workers
			if unlimited(opts.Providers, p.Channel) {
				slots *= claimAhead
			}
			l = &lane{e: e, channel: p.Channel, q: newQueue(), free: make(chan struct{}, slots),
				jobs: make(chan *job, slots), results: make(chan outcome, maxOutcomes), inflight: map[string]bool{},
				recorded: make(chan recorded, 4), unrecorded: make(chan struct{}, slots)}
			for range slots {
				l.free <- struct{}{}
			}
			e.lanes[p.Channel] = l
			e.m.queueDepth(p.Channel, l.q.len)
		}
		lim := rate.NewLimiter(rate.Inf, 0)
		if p.Rate > 0 {
			lim = rate.NewLimiter(rate.Limit(p.Rate), max(p.Burst, 1))
		}
		l.providers = append(l.providers, &provider{Provider: p, limiter: lim, breaker: breaker{set: opts.Breaker}})
		if _, ok := p.Sender.(relay.Tracker); ok {
			l.lookups = true
		}
	}
	e.store.Observe(e.observe)
	return e, nil
}

// Channels returns the channels that have at least one provider, sorted.
func (e *Engine) Channels() []string {
	out := make([]string, 0, len(e.lanes))
	for ch := range e.lanes {
		out = append(out, ch)
	}
	sort.Strings(out)
	return out
}

// Start queues every delivery the store holds unsettled, pending ones at
// their next attempt time and ones left sending by a crash at once, and
// starts the lanes.
func (e *Engine) Start() error {
	var err error
	e.startOnce.Do(func() {
		var open []relay.Delivery
		open, err = e.store.OpenDeliveries()
		if err != nil {
			err = fmt.Errorf("delivery: load unsettled deliveries: %w", err)
			return
		}
		for i := range open {
			e.enqueue(&open[i])
		}
		if len(open) > 0 {
			e.log.Info("resuming unsettled deliveries", "count", len(open))
		}
		e.wg.Add(1)
		go e.reconcile()
		for _, l := range e.lanes {
			e.wg.Add(1 + e.opts.Workers)
			go l.dispatch()
			e.recWG.Add(2)
			go l.record()
			go l.confirm()
			for range e.opts.Workers {
				go l.work()
			}
		}
		close(e.started)
	})
	return err
}

// Stop stops claiming deliveries and waits for attempts in flight to end
// until ctx is done; then it cancels them. A cancelled attempt stays
// recorded as sending and is made again after a restart, or by another
// node.
func (e *Engine) Stop(ctx context.Context) error {
	e.stopDispatch()
	done := make(chan struct{})
	go func() { e.wg.Wait(); close(done) }()
	var err error
	select {
	case <-done:
	case <-ctx.Done():
		err = ctx.Err()
	}
	e.stopSends()
	<-done
	// Workers are gone: let the recorders write what they were given.
	e.stopOnce.Do(func() {
		for _, l := range e.lanes {
			close(l.results)
		}
	})
	e.recWG.Wait()
	return errors.Join(err, e.handBack())
}

// handBack records the claims the workers did not begin as pending,
// due now, in one event: the node is stopping, and another node takes
// them at once, as the next run would, without waiting for their lease
// or asking the provider whether they went out.
func (e *Engine) handBack() error {
	now := e.opts.Now()
	var changes []relay.DeliveryChange
	for _, l := range e.lanes {
		l.mu.Lock()
		for _, j := range l.handedBack {
			changes = append(changes, relay.DeliveryChange{ID: j.d.ID, Status: relay.StatusPending, Round: j.d.Round,
				Attempt: j.attempt, Provider: j.d.Provider, Error: j.d.Error, Reason: j.d.Reason, Code: j.d.Code,
				Owner: e.opts.Node, At: now, NextAt: now})
		}
		l.handedBack = nil
		l.mu.Unlock()
	}
	if len(changes) == 0 {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, err := e.store.Append(ctx, relay.Event{Deliveries: changes}); err != nil {
		return fmt.Errorf("delivery: hand back %d claims: %w", len(changes), err)
	}
	e.log.Info("handed back claimed deliveries not begun", "deliveries", len(changes))
	return nil
}

// Kick queues a delivery for an attempt now if it is unsettled and its
// channel has a lane: for a delivery this node has just come to own.
func (e *Engine) Kick(d *relay.Delivery) { e.enqueue(d) }

// observe queues the deliveries of newly stored messages. It runs on the
// store's writer goroutine.
func (e *Engine) observe(events []relay.Event) {
	for i := range events {
		e.observeChanges(events[i].Deliveries)
		if a := events[i].Ack; a != nil && a.Delivery != "" && !e.msgs.allAtOnce(a.Delivery) {
			e.kickNextChannels(a.Delivery, e.msgs.priority(a.Delivery), e.opts.Now())
		}
		if x := events[i].Escalated; x != nil {
			e.observeEscalated(x)
		}
		m := events[i].Message
		if m == nil {
			continue
		}
		if m.Escalation != nil {
			// Its later steps add recipients, which the store's copy
			// has: read it from there.
			e.msgs.forget(m.ID)
		} else {
			e.msgs.put(m)
		}
		for _, ref := range m.Deliveries() {
			if l := e.lanes[ref.Channel]; l != nil {
				l.q.push(item{id: ref.ID, msgID: m.ID, priority: m.Priority, due: m.AcceptedAt, fresh: true})
			}
		}
	}
}

func (e *Engine) enqueue(d *relay.Delivery) {
	l := e.lanes[d.Channel]
	if l == nil || d.Status.Settled() {
		return
	}
	due := d.NextAttemptAt
	if d.Status == relay.StatusSending || due.IsZero() {
		due = e.opts.Now()
	}
	l.q.push(item{id: d.ID, msgID: d.MessageID, priority: d.Priority, due: due})
}

// observeChanges reacts to recorded delivery changes, this node's or
// replicated: a delivery reopened for a new round is queued for its next
// attempt, and a failure moves its person's fallback on.
func (e *Engine) observeChanges(changes []relay.DeliveryChange) {
	now := e.opts.Now()
	for i := range changes {
		c := &changes[i]
		switch {
		case c.Status == relay.StatusFailed, c.Status == relay.StatusDelivered,
			c.Status == relay.StatusSent && !relay.ReportsReceipts(channelOf(c.ID)):
			// The person's next channel may start, or is no longer needed.
			if !e.msgs.allAtOnce(c.ID) {
				e.kickNextChannels(c.ID, e.msgs.priority(c.ID), now)
			}
		case c.Status == relay.StatusPending && c.Round > 0 && c.Attempt > 0:
			l := e.lanes[channelOf(c.ID)]
			if l != nil {
				msgID, _, _ := strings.Cut(c.ID, ".")
				l.q.push(item{id: c.ID, msgID: msgID, priority: e.msgs.priority(c.ID), due: c.NextAt})
			}
		}
	}
}

// channelOf returns the channel part of a delivery id.
func channelOf(id string) string {
	_, rest, _ := strings.Cut(id, ".")
	ch, _, _ := strings.Cut(rest, ".")
	return ch
}
