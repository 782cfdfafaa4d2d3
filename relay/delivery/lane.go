package delivery

import (
	"context"
	"errors"
	"math"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/time/rate"

	"github.com/oob-relay/relay/relay"
)

// lane carries one channel: its queue, its providers in order of
// preference, and a fixed pool of workers.
type lane struct {
	e         *Engine
	channel   string
	providers []*provider
	q         *queue
	free      chan struct{} // one token per idle worker
	jobs      chan *job
	results   chan outcome // attempt results for the recorder
	recorded  chan recorded
	// unrecorded holds one token per attempt made and not yet confirmed
	// on disk and on the peers: its capacity bounds what a crash of this
	// node could make another node repeat.
	unrecorded chan struct{}
	swept      time.Time // the dispatcher's last sweep of expired deliveries

	// inflight holds the deliveries claimed here whose result is not yet
	// recorded: a second queue entry for one (a kick from a membership
	// change) must not claim it again.
	mu       sync.Mutex
	inflight map[string]bool
	// handedBack are the claims a stopping node did not attempt.
	handedBack []*job
	// lookups is set when a provider of the lane is a relay.Tracker: a
	// takeover asks it about an attempt in flight, so an attempt waits
	// until the peers hold its claim.
	lookups bool
}

func (l *lane) busy(id string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.inflight[id]
}

func (l *lane) setBusy(id string, busy bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if busy {
		l.inflight[id] = true
	} else {
		delete(l.inflight, id)
	}
}

type provider struct {
	Provider
	limiter *rate.Limiter
	breaker breaker
	// demoted puts the provider behind the others (SetDemoted).
	demoted atomic.Bool

	mu      sync.Mutex
	lastErr string // the last error logged, so a provider outage logs once
}

// job is one claimed attempt.
type job struct {
	claimed  time.Time
	d        relay.Delivery
	msg      *cachedMessage
	attempt  int
	provider *provider
	probe    bool // the attempt is its provider's half-open probe
	// orphan marks a delivery found in flight (sending): a node claimed
	// it and never recorded the result, so that attempt may have reached
	// the provider. It is looked up there before it is made again.
	orphan bool
	// claimSeq is the event that recorded the claim, which the peers hold
	// before the attempt starts (Options.Copied).
	claimSeq uint64
}

// dispatch claims due deliveries for idle workers until the engine stops.
func (l *lane) dispatch() {
	defer l.e.wg.Done()
	defer close(l.jobs)
	ctx := l.e.dispatchCtx
	for {
		// Wait for one idle worker, then take every other idle one.
		select {
		case <-l.free:
		case <-ctx.Done():
			return
		}
		n := 1
	more:
		for n < cap(l.free) {
			select {
			case <-l.free:
				n++
			default:
				break more
			}
		}
		// Behind a rate limit, claim only what the limit lets go now, so
		// that the highest priority due when a send slot opens takes it.
		now := l.e.opts.Now()
		if k, wait := l.capacity(now); k < n {
			l.release(n - k)
			n = k
			if n == 0 {
				// Behind a rate limit, or every provider's circuit is open:
				// wait for a token, a probe's turn or a probe's end. Now
				// and then, fail what waited past its deadline meanwhile.
				if now.Sub(l.swept) >= sweepEvery {
					l.swept = now
					due, _ := l.q.popDue(now, math.MaxInt)
					l.claim(ctx, due, true)
				}
				if !l.wait(ctx, now.Add(min(wait, sweepEvery))) {
					return
				}
				continue
			}
		}
		items, next := l.q.popDue(now, n)
		if len(items) == 0 {
			l.release(n)
			if !l.wait(ctx, next) {
				return
			}
			continue
		}
		jobs := l.claim(ctx, items, false)
		l.release(n - len(jobs))
		for _, j := range jobs {
			l.jobs <- j // never blocks: at most one job per worker token
		}
	}
}

// wait blocks until an item is pushed, the next item falls due, or ctx
// ends. It reports whether to go on.
func (l *lane) wait(ctx context.Context, next time.Time) bool {
	var timer <-chan time.Time
	if !next.IsZero() {
		t := time.NewTimer(max(next.Sub(l.e.opts.Now()), time.Millisecond))
		defer t.Stop()
		timer = t.C
	}
	select {
	case <-l.q.wake:
	case <-timer:
	case <-ctx.Done():
		return false
	}
	return true
}

func (l *lane) release(n int) {
	for range n {
		l.free <- struct{}{}
	}
}

// sweepEvery is how often a lane that cannot send (every provider's
// circuit open, or a rate limit) fails the deliveries that waited past
// their deadline.
const sweepEvery = time.Second

// claim turns due items into jobs. It drops items whose delivery settled
// or moved to another owner, fails those past their deadline, and records
// one durable "sending" change per remaining delivery, all in one event,
// before any of them is sent. With expireOnly it claims nothing: the
// items it would claim go back to the queue as they were.
func (l *lane) claim(ctx context.Context, items []item, expireOnly bool) []*job {
	e := l.e
	now := e.opts.Now()
	var jobs []*job
	var changes []relay.DeliveryChange
	for _, it := range items {
		d, err := e.store.Delivery(it.id)
		if errors.Is(err, relay.ErrNotFound) {
			continue // a fallback kick for a channel the person lacks
		}
		if err != nil {
			e.log.Error("queued delivery cannot be read", "delivery", it.id, "err", err)
			continue
		}
		if d.Status.Settled() || (it.fresh && d.Attempts > 0) || l.busy(d.ID) || (e.opts.Owns != nil && !e.opts.Owns(d)) {
			continue
		}
		msg, err := e.msgs.get(d.MessageID)
		if err != nil {
			e.log.Error("message of queued delivery cannot be read", "delivery", d.ID, "err", err)
			continue
		}
		if !now.Before(msg.Deadline) {
			why := "the message deadline passed before an attempt could start"
			if d.Error != "" {
				why += "; last error: " + d.Error
			}
			changes = append(changes, failure(d, d.Attempts, d.Provider, relay.ReasonExpired, why, d.Code, e.opts.Node, now))
			e.m.settled(l.channel, relay.StatusFailed)
			continue
		}
		t, err := l.fallbackTurn(d, msg, now)
		switch {
		case err != nil:
			e.log.Error("fallback state of queued delivery cannot be read", "delivery", d.ID, "err", err)
			l.q.push(item{id: d.ID, msgID: d.MessageID, priority: d.Priority, due: now.Add(time.Second)})
			continue
		case t.skip != "":
			changes = append(changes, relay.DeliveryChange{ID: d.ID, Status: relay.StatusSkipped, Round: d.Round,
				Attempt: d.Attempts, Error: t.skip, Owner: e.opts.Node, At: now})
			e.m.settled(l.channel, relay.StatusSkipped)
			continue
		case !t.wait.IsZero():
			l.q.push(item{id: d.ID, msgID: d.MessageID, priority: d.Priority, due: t.wait, fresh: true})
			continue
		}
		if expireOnly {
			l.q.push(it)
			continue
		}
		p, probe := l.pick(d, now)
		if p == nil {
			l.q.push(item{id: d.ID, msgID: d.MessageID, priority: d.Priority, due: now, fresh: it.fresh})
			continue
		}
		j := &job{claimed: now, d: *d, msg: msg, attempt: d.Attempts + 1, provider: p, probe: probe,
			orphan: d.Status == relay.StatusSending}
		jobs = append(jobs, j)
		changes = append(changes, relay.DeliveryChange{ID: d.ID, Status: relay.StatusSending, Round: d.Round,
			Attempt: j.attempt, Provider: p.Name, Owner: e.opts.Node, At: now})
	}
	if len(changes) == 0 {
		return nil
	}
	evs, err := e.store.Append(ctx, relay.Event{Deliveries: changes})
	if err == nil {
		for _, j := range jobs {
			j.claimSeq = evs[len(evs)-1].Seq
		}
	} else {
		if !errors.Is(err, context.Canceled) {
			e.log.Error("recording claims failed; retrying later", "deliveries", len(changes), "err", err)
		}
		for _, j := range jobs {
			l.q.push(item{id: j.d.ID, msgID: j.d.MessageID, priority: j.d.Priority, due: now.Add(time.Second)})
		}
		return nil
	}
	for _, j := range jobs {
		l.setBusy(j.d.ID, true)
	}
	return jobs
}

// pick chooses the provider for a delivery's next attempt. It starts from
// the first provider, or, when the previous attempt failed on a provider,
// from the one after it, and takes the first whose circuit breaker lets
// it through; probe reports that the attempt is that provider's
// half-open probe. It returns nil when every breaker is open: the
// dispatcher claimed more than the breakers let through (another lane
// took the probe), and the delivery waits.
func (l *lane) pick(d *relay.Delivery, now time.Time) (p *provider, probe bool) {
	start := 0
	if d.Error != "" && len(l.providers) > 1 {
		for i, p := range l.providers {
			if p.Name == d.Provider {
				start = (i + 1) % len(l.providers)
				break
			}
		}
	}
	return l.pickFrom(start, now)
}

// work makes the attempts the dispatcher hands over.
func (l *lane) work() {
	defer l.e.wg.Done()
	for j := range l.jobs {
		l.attempt(j)
		l.free <- struct{}{}
	}
}

// handBack notes a claimed delivery this node will not attempt after all
// (it is stopping): Stop records it pending again, due at once, for
// another node or the next run.
func (l *lane) handBack(j *job) {
	l.mu.Lock()
	defer l.mu.Unlock()
	delete(l.inflight, j.d.ID)
	l.handedBack = append(l.handedBack, j)
}

// capacity returns how many attempts the lane's providers let go at now:
// unlimited when a provider with a closed breaker has no rate limit, else
// the tokens of the richest such provider, or one when the best that is
// left is a half-open probe. When that is none it also returns how long
// until one is: the next rate token, or the end of the first cool-down.
// While a probe is in flight and nothing else may go, it waits for the
// probe (whose end signals the queue), at most probeWait.
func (l *lane) capacity(now time.Time) (int, time.Duration) {
	best, wait := 0, time.Duration(-1)
	soonest := func(d time.Duration) {
		if wait < 0 || d < wait {
			wait = d
		}
	}
	for _, p := range l.providers {
		closed, probe, until := p.breaker.state(now)
		switch {
		case probe:
			best = max(best, 1)
			continue
		case !closed && until.IsZero():
			soonest(l.e.opts.AttemptTimeout)
			continue
		case !closed:
			soonest(until.Sub(now))
			continue
		}
		lim := p.limiter.Limit()
		if lim == rate.Inf {
			return math.MaxInt, 0
		}
		tok := p.limiter.TokensAt(now)
		if tok >= 1 {
			best = max(best, int(tok))
			continue
		}
		soonest(time.Duration((1 - tok) / float64(lim) * float64(time.Second)))
	}
	if best > 0 {
		return best, 0
	}
	return 0, max(wait, time.Millisecond)
}
