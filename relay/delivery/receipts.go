package delivery

import (
	"context"
	"sync"
	"time"

	"github.com/oob-relay/relay/relay"
)

// receiptCheckers bounds the provider lookups of late receipts at once,
// so that reconciling after an outage never crowds out sending.
const receiptCheckers = 4

// maxReceiptWait caps the wait between two checks of one delivery.
const maxReceiptWait = time.Hour

// lateReceipts remembers, per delivery, when to ask its provider next.
type lateReceipts struct {
	mu   sync.Mutex
	next map[string]receiptCheck
}

type receiptCheck struct {
	at    time.Time
	tries int
}

// reconcile asks providers about deliveries whose receipt is late, until
// the engine stops. A delivery sent on a channel whose provider reports
// arrival (SMS, voice) and still sent after Options.ReceiptTimeout is
// looked up (relay.Tracker.Track) by the node that owns it now; a final
// answer is recorded as its receipt would have been (Options.Receipt).
// When the provider has no news, it asks again after twice the wait, up
// to an hour, until the message's deadline.
func (e *Engine) reconcile() {
	defer e.wg.Done()
	every := min(max(e.opts.ReceiptTimeout/4, 100*time.Millisecond), time.Minute)
	tick := time.NewTicker(every)
	defer tick.Stop()
	for {
		select {
		case <-tick.C:
			e.checkReceipts(e.dispatchCtx)
		case <-e.dispatchCtx.Done():
			return
		}
	}
}

// checkReceipts makes one round of reconcile.
func (e *Engine) checkReceipts(ctx context.Context) {
	ds, err := e.store.AwaitingReceipts()
	if err != nil {
		e.log.Error("reading deliveries that await a receipt failed", "err", err)
		return
	}
	now := e.opts.Now()
	held := make(map[string]bool, len(ds))
	sem := make(chan struct{}, receiptCheckers)
	var wg sync.WaitGroup
	for i := range ds {
		d := &ds[i]
		held[d.ID] = true
		if e.opts.Owns != nil && !e.opts.Owns(d) {
			continue
		}
		e.late.mu.Lock()
		c, ok := e.late.next[d.ID]
		e.late.mu.Unlock()
		if !ok {
			c = receiptCheck{at: d.UpdatedAt.Add(e.opts.ReceiptTimeout)}
		}
		if now.Before(c.at) || (!d.Deadline.IsZero() && c.tries > 0 && now.After(d.Deadline.Add(maxReceiptWait))) {
			continue
		}
		l := e.lanes[d.Channel]
		if l == nil {
			continue
		}
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
			wg.Wait()
			return
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			e.checkReceipt(ctx, l, d, c)
		}()
	}
	wg.Wait()
	e.late.mu.Lock()
	for id := range e.late.next {
		if !held[id] {
			delete(e.late.next, id)
		}
	}
	e.late.mu.Unlock()
}

// checkReceipt asks the providers of d's channel about d's attempt.
func (e *Engine) checkReceipt(ctx context.Context, l *lane, d *relay.Delivery, c receiptCheck) {
	result := "pending"
	defer func() { e.m.receiptChecks.WithLabelValues(l.channel, result).Inc() }()
	c.tries++
	c.at = e.opts.Now().Add(min(e.opts.ReceiptTimeout<<min(c.tries, 20), maxReceiptWait))
	e.late.mu.Lock()
	e.late.next[d.ID] = c
	e.late.mu.Unlock()

	ts := l.trackers(d.Provider)
	if len(ts) == 0 || e.opts.Receipt == nil {
		result = "unsupported"
		return
	}
	var r relay.Report
	var err error
	for _, t := range ts {
		tctx, cancel := context.WithTimeout(ctx, e.opts.AttemptTimeout)
		r, err = t.Track(tctx, d.ProviderID)
		cancel()
		if err == nil {
			break
		}
	}
	if err != nil {
		result = "error"
		e.log.Debug("asking a provider about a late receipt failed", "delivery", d.ID, "err", err)
		return
	}
	if !r.Status.Final() {
		return
	}
	r.ProviderID = d.ProviderID
	if err := e.opts.Receipt(ctx, d.ID, r); err != nil {
		result = "error"
		e.log.Warn("recording a receipt from a provider lookup failed", "delivery", d.ID, "err", err)
		return
	}
	result = "final"
	e.log.Info("late receipt fetched from the provider", "delivery", d.ID, "status", r.Status)
}
