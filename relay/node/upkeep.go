package node

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/oob-relay/relay/relay/store"
)

// packAfter is how long after a message's deadline its settled deliveries
// are packed: receipts still come for a while after the last attempt.
const packAfter = time.Hour

// compactAbove is the file size from which a store is rewritten when
// more than half of it is free pages.
const compactAbove = 32 << 20

// CanaryKeep is how long a provider canary's attempt is kept: a week of
// them (about 144 a day for each provider at the default pace) shows how
// a provider fared lately; its standing is kept whatever its age.
const CanaryKeep = 7 * 24 * time.Hour

// Upkeep is what one round of upkeep did.
type Upkeep struct {
	// Incidents and Messages removed by retention.
	Incidents, Messages int
	// Packed messages (their settled deliveries folded into one record).
	Packed int
	// Canaries is the provider canaries' attempts removed, past CanaryKeep.
	Canaries int
	// Overrides of schedules removed by retention: they ended before it.
	Overrides int
	// Truncated events of the log, which every live peer holds.
	Truncated int
	// Expired and Evicted keys of the memory of requests taken: past
	// their time, or the soonest to expire while over MaxSeen.
	Expired, Evicted int
	// Before and After are the file's size around a rewrite; both zero
	// when there was none.
	Before, After int64
	// Login counts what login no longer needed: expired challenges, code
	// steps past their windows, revocations of expired sessions, audit
	// entries past Console.AuditKeep.
	Login store.Login
}

// upkeeper runs the node's upkeep every Options.UpkeepEvery.
type upkeeper struct {
	n       *Node
	done    chan struct{}
	wg      sync.WaitGroup
	once    sync.Once
	removed prometheus.Counter
	packed  prometheus.Counter
	trunc   prometheus.Counter
	forgot  *prometheus.CounterVec
	stats   statsCache
}

func newUpkeeper(n *Node) *upkeeper {
	u := &upkeeper{n: n, done: make(chan struct{}),
		removed: prometheus.NewCounter(prometheus.CounterOpts{Name: "relay_store_pruned_messages_total",
			Help: "Messages removed with their settled incidents once past retention."}),
		packed: prometheus.NewCounter(prometheus.CounterOpts{Name: "relay_store_packed_messages_total",
			Help: "Settled messages whose deliveries were packed into one record."}),
		trunc: prometheus.NewCounter(prometheus.CounterOpts{Name: "relay_store_truncated_events_total",
			Help: "Events removed from the log once every live peer held them and log_keep had passed."}),
		forgot: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "relay_store_seen_forgotten_total",
			Help: "Keys of requests taken forgotten, by reason: expired, or evicted while over the limit."}, []string{"reason"}),
	}
	size := prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "relay_store_bytes",
		Help: "Size of the node's store file."}, func() float64 {
		st, _ := u.stats.get(n)
		return float64(st.Bytes)
	})
	seen := prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "relay_store_seen_keys",
		Help: "Keys in the memory of requests taken (webhooks already received), which a replay finds."}, func() float64 {
		st, _ := u.stats.get(n)
		return float64(st.Seen)
	})
	n.opts.Registerer.MustRegister(u.removed, u.packed, u.trunc, u.forgot, size, seen)
	return u
}

func (u *upkeeper) start() {
	u.wg.Add(1)
	go func() {
		defer u.wg.Done()
		t := time.NewTicker(u.n.opts.UpkeepEvery)
		defer t.Stop()
		for {
			select {
			case <-t.C:
			case <-u.done:
				return
			}
			ctx, cancel := context.WithCancel(context.Background())
			go func() {
				select {
				case <-u.done:
					cancel()
				case <-ctx.Done():
				}
			}()
			if _, err := u.n.Upkeep(ctx); err != nil && !errors.Is(err, context.Canceled) {
				u.n.log.Error("store upkeep failed; trying again later", "err", err)
			}
			cancel()
		}
	}()
}

func (u *upkeeper) stop() {
	u.once.Do(func() { close(u.done) })
	u.wg.Wait()
}

// Upkeep runs one round of store upkeep: it removes the settled incidents
// older than the retention, the schedule overrides that ended before it, and the canary attempts older than CanaryKeep, forgets the requests taken whose time passed
// (and the soonest to expire past MaxSeen), packs settled messages, truncates the log
// below what every live peer holds (keeping Options.LogKeep of it), and
// rewrites the file when more than half of it is free. A node that has
// not caught up with its peers truncates nothing.
func (n *Node) Upkeep(ctx context.Context) (Upkeep, error) {
	var up Upkeep
	now := n.opts.Now()
	var errs []error
	if n.opts.Retention > 0 {
		var err error
		up.Incidents, up.Messages, err = n.store.Prune(ctx, now, n.opts.Retention)
		errs = append(errs, err)
		up.Overrides, err = n.store.PruneOverrides(ctx, now.Add(-n.opts.Retention))
		errs = append(errs, err)
		n.upkeep.removed.Add(float64(up.Messages))
	}
	var err error
	up.Expired, up.Evicted, err = n.store.ForgetSeen(ctx, now, MaxSeen)
	n.upkeep.forgot.WithLabelValues("expired").Add(float64(up.Expired))
	n.upkeep.forgot.WithLabelValues("evicted").Add(float64(up.Evicted))
	errs = append(errs, err)
	if up.Evicted > 0 {
		n.log.Warn("the memory of requests taken is full: the keys that expire soonest were forgotten, and their requests would be taken again",
			"evicted", up.Evicted, "limit", MaxSeen)
	}
	login, err := n.store.PruneLogin(ctx, now, n.opts.Console.AuditKeep)
	up.Login = login
	errs = append(errs, err)
	up.Canaries, err = n.store.PruneCanaries(ctx, now.Add(-CanaryKeep))
	errs = append(errs, err)
	packed, err := n.store.Pack(ctx, now.Add(-packAfter))
	up.Packed = packed
	n.upkeep.packed.Add(float64(packed))
	errs = append(errs, err)
	if low, ok := n.repl.LowWater(); ok && n.repl.CaughtUp() {
		up.Truncated, err = n.store.TruncateLog(ctx, low, now.Add(-n.opts.LogKeep))
		n.upkeep.trunc.Add(float64(up.Truncated))
		errs = append(errs, err)
	}
	if st, err := n.store.Stats(); err == nil && st.Bytes > compactAbove && st.Free > st.Bytes/2 {
		up.Before, up.After, err = n.store.CompactFile(ctx)
		errs = append(errs, err)
	}
	n.upkeep.stats.clear()
	if up != (Upkeep{}) {
		n.log.Info("store upkeep", "incidents_removed", up.Incidents, "messages_removed", up.Messages,
			"messages_packed", up.Packed, "canaries_removed", up.Canaries, "overrides_removed", up.Overrides, "events_truncated", up.Truncated, "seen_expired", up.Expired, "bytes_before", up.Before, "bytes_after", up.After,
			"challenges_removed", up.Login.Challenges, "audit_removed", up.Login.Audit)
	}
	return up, errors.Join(errs...)
}

// statsCache keeps the store's stats for a few seconds: they walk the
// whole file.
type statsCache struct {
	mu sync.Mutex
	at time.Time
	st store.Stats
}

const statsFor = 10 * time.Second

func (c *statsCache) get(n *Node) (store.Stats, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.at.IsZero() && time.Since(c.at) < statsFor {
		return c.st, nil
	}
	st, err := n.store.Stats()
	if err != nil {
		return store.Stats{}, err
	}
	c.st, c.at = st, time.Now()
	return st, nil
}

func (c *statsCache) clear() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.at = time.Time{}
}

// StoreStats returns the store's size and what it holds, as of at most a
// few seconds ago.
func (n *Node) StoreStats() (store.Stats, error) { return n.upkeep.stats.get(n) }
