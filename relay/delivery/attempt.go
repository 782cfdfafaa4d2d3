package delivery

import (
	"context"
	"errors"
	"time"

	"github.com/oob-relay/relay/relay"
)

// attempt makes one attempt and hands its outcome to the recorder. It
// first takes one of the lane's unrecorded tokens, which confirm gives
// back once the outcome is on disk and on the peers. Once the engine is
// stopping, a claimed delivery not yet begun is handed back instead
// (Stop records it pending again); an attempt cut short by Stop leaves
// its claim for a later run and records nothing.
func (l *lane) attempt(j *job) {
	e := l.e
	p := j.provider
	if j.probe {
		// However the attempt ends, the probe slot is free again after
		// it; a failure that blames the provider re-opens the breaker
		// first. The dispatcher waits for this.
		defer l.q.signal()
		defer p.breaker.settle()
	}
	if e.dispatchCtx.Err() != nil {
		l.handBack(j) // stopping: not in flight yet, so not begun
		return
	}
	if err := p.limiter.Wait(e.sendCtx); err != nil {
		return // stopping: the claim stands and a later run re-sends
	}
	if e.opts.Copied != nil && l.lookups {
		// The claim reaches the peers before the attempt: were this node
		// to die sending, the member that takes the delivery over finds
		// it claimed and asks the provider whether the attempt got
		// through, rather than sending it again unasked. Workers wait
		// side by side, so the dispatcher goes on claiming meanwhile.
		l.awaitCopies(e.dispatchCtx, j.claimSeq, j.claimed, "claim", 1) // stopping: handed back below
	}
	if e.dispatchCtx.Err() != nil {
		l.handBack(j)
		return
	}
	select {
	case l.unrecorded <- struct{}{}:
	case <-e.sendCtx.Done():
		return
	}
	recording := false
	defer func() {
		if !recording {
			<-l.unrecorded
		}
	}()
	if lease := e.opts.Lease; lease > 0 && e.opts.Now().Sub(j.claimed) > lease/2 {
		// The claim went stale waiting: leave the delivery to whoever
		// owns it now, this node included, through a fresh claim.
		l.setBusy(j.d.ID, false)
		l.q.push(item{id: j.d.ID, msgID: j.d.MessageID, priority: j.d.Priority, due: e.opts.Now()})
		e.m.staleClaims.WithLabelValues(l.channel).Inc()
		return
	}
	ctx, cancel := context.WithTimeout(e.sendCtx, e.opts.AttemptTimeout)
	ctx, cancelDeadline := context.WithDeadline(ctx, j.msg.Deadline)
	out := &relay.Outgoing{DeliveryID: j.d.ID, Channel: l.channel, Attempt: j.attempt,
		Message: j.msg.Message, Person: j.msg.person(j.d.Person)}
	if e.opts.ReplyCode != nil && j.d.Person != "" {
		out.ReplyCode = e.opts.ReplyCode(&j.d)
	}
	if e.opts.Link != nil && j.d.Person != "" {
		out.Link = e.opts.Link(&j.d)
	}
	if e.opts.Callbacks != nil {
		out.CallbackBase = e.opts.Callbacks(&j.d)
		out.StatusCallback = out.CallbackURL(relay.CallbackStatus)
	}
	if j.orphan {
		if change, ok := l.lookup(ctx, j, out); ok {
			cancelDeadline()
			cancel()
			e.m.settled(l.channel, change.Status)
			recording = true
			l.results <- outcome{change: change, d: &j.d}
			return
		}
	}
	start := e.opts.Now()
	rcpt, err := p.Sender.Send(ctx, out)
	cancelDeadline()
	cancel()
	now := e.opts.Now()
	e.m.attemptSeconds.WithLabelValues(l.channel, p.Name).Observe(now.Sub(start).Seconds())
	if err != nil && e.sendCtx.Err() != nil {
		return // cancelled by Stop: leave the claim for a later run
	}

	var change relay.DeliveryChange
	var retryAt time.Time
	if err == nil {
		status := relay.StatusSent
		if rcpt.Delivered {
			status = relay.StatusDelivered
		}
		change = relay.DeliveryChange{ID: j.d.ID, Status: status, Round: j.d.Round, Attempt: j.attempt, Provider: p.Name,
			ProviderID: rcpt.ProviderID, Segments: rcpt.Segments, ProviderSegments: rcpt.ProviderSegments, Owner: e.opts.Node, At: now}
		e.m.attempts.WithLabelValues(l.channel, p.Name, "ok").Inc()
		e.m.settled(l.channel, status)
		l.noteRecovery(p)
		if p.breaker.success() {
			e.log.Info("provider circuit closed", "channel", l.channel, "provider", p.Name)
			e.m.breakerOpen.WithLabelValues(l.channel, p.Name).Set(0)
		}
	} else {
		se := relay.Classify(err)
		if errors.Is(err, context.DeadlineExceeded) && !now.Before(j.msg.Deadline) {
			se = relay.Permanent(relay.ReasonExpired, err)
		}
		code := se.Code
		e.m.failures.WithLabelValues(l.channel, p.Name, string(se.Reason)).Inc()
		if se.Temporary {
			e.m.attempts.WithLabelValues(l.channel, p.Name, "temporary").Inc()
			retryAt = now.Add(e.opts.Backoff.Delay(j.attempt, se.RetryAfter))
		} else {
			e.m.attempts.WithLabelValues(l.channel, p.Name, "permanent").Inc()
		}
		l.noteFailure(p, j, se)
		if providerFault(se) {
			if p.breaker.failure(now) {
				e.log.Warn("provider circuit opened: deliveries go to the channel's other providers", "channel", l.channel, "provider", p.Name)
				e.m.breakerOpen.WithLabelValues(l.channel, p.Name).Set(1)
			}
			if !se.Temporary && len(l.providers) > 1 && j.attempt < 2*len(l.providers) {
				// The provider, not the recipient, refused: another
				// provider may well take it.
				se.Temporary = true
				retryAt = now
			}
		}
		if se.Temporary && !retryAt.Before(j.msg.Deadline) {
			// The backoff overshoots the deadline: one last attempt, early
			// enough to finish before it, beats giving up.
			last := j.msg.Deadline.Add(-e.opts.AttemptTimeout)
			if se.RetryAfter > 0 {
				last = later(last, now.Add(se.RetryAfter))
			}
			if last.After(now.Add(e.opts.Backoff.Initial/2)) && last.Before(j.msg.Deadline) {
				retryAt = last
			}
		}
		switch {
		case se.Temporary && retryAt.Before(j.msg.Deadline):
			change = relay.DeliveryChange{ID: j.d.ID, Status: relay.StatusPending, Round: j.d.Round, Attempt: j.attempt,
				Provider: p.Name, Error: se.Error(), Reason: se.Reason, Code: code, Owner: e.opts.Node,
				At: now, NextAt: retryAt}
		default:
			change = failure(&j.d, j.attempt, p.Name, se.Reason, se.Error(), code, e.opts.Node, now)
			e.m.settled(l.channel, relay.StatusFailed)
			retryAt = time.Time{}
		}
	}
	recording = true
	l.results <- outcome{change: change, d: &j.d, retryAt: retryAt}
}

func failure(d *relay.Delivery, attempt int, provider string, reason relay.Reason, msg, code, node string, at time.Time) relay.DeliveryChange {
	return relay.DeliveryChange{ID: d.ID, Status: relay.StatusFailed, Round: d.Round, Attempt: attempt, Provider: provider,
		Error: msg, Reason: reason, Code: code, Owner: node, At: at}
}

// noteFailure logs a provider's failure when it differs from the last one
// logged, so an outage across thousands of deliveries logs once, not once
// per delivery.
func (l *lane) noteFailure(p *provider, j *job, se *relay.SendError) {
	msg := se.Error()
	p.mu.Lock()
	changed := p.lastErr != msg
	p.lastErr = msg
	p.mu.Unlock()
	level := l.e.log.Debug
	if changed {
		level = l.e.log.Warn
	}
	level("delivery attempt failed", "channel", l.channel, "provider", p.Name, "delivery", j.d.ID,
		"attempt", j.attempt, "reason", se.Reason, "temporary", se.Temporary, "err", msg)
}

func (l *lane) noteRecovery(p *provider) {
	p.mu.Lock()
	recovered := p.lastErr != ""
	p.lastErr = ""
	p.mu.Unlock()
	if recovered {
		l.e.log.Info("provider sends again", "channel", l.channel, "provider", p.Name)
	}
}
