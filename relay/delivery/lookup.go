package delivery

import (
	"context"
	"errors"
	"time"

	"github.com/oob-relay/relay/relay"
)

// lookupSkew widens a lookup's window for the clocks of this node, the
// node that died and the provider disagreeing a little.
const lookupSkew = 2 * time.Second

// trackers returns the lane's providers that can be asked about an
// attempt, the one named first: the attempt was made there, but that
// provider may not be configured on this node, and another provider may
// hold the same account.
func (l *lane) trackers(named string) []relay.Tracker {
	var first, rest []relay.Tracker
	for _, p := range l.providers {
		t, ok := p.Sender.(relay.Tracker)
		switch {
		case !ok:
		case p.Name == named:
			first = append(first, t)
		default:
			rest = append(rest, t)
		}
	}
	return append(first, rest...)
}

// lookup looks for the attempt that a node made of j's delivery and never
// recorded the result of: it died, or was cut off, in the middle of it.
// When a provider holds that attempt, lookup returns the change that
// records it, so the delivery is not sent twice; otherwise ok is false
// and the attempt goes ahead. A lookup that fails is no reason to hold a
// delivery back: repeating an attempt is better than losing it.
func (l *lane) lookup(ctx context.Context, j *job, out *relay.Outgoing) (change relay.DeliveryChange, ok bool) {
	e := l.e
	since := j.d.UpdatedAt.Add(-lookupSkew)
	result := "not_found"
	defer func() { e.m.lookups.WithLabelValues(l.channel, result).Inc() }()
	ts := l.trackers(j.d.Provider)
	if len(ts) == 0 {
		result = "unsupported"
		return change, false
	}
	var errs []error
	for _, t := range ts {
		r, found, err := t.Find(ctx, out, since)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if !found {
			continue
		}
		result = "found"
		status := r.Status
		if status == "" {
			status = relay.StatusSent // accepted and on its way
		}
		change = relay.DeliveryChange{ID: j.d.ID, Status: status, Round: j.d.Round, Attempt: j.attempt,
			Provider: j.d.Provider, ProviderID: r.ProviderID, Segments: r.Segments, ProviderSegments: r.ProviderSegments,
			Error: r.Error, Reason: r.Reason, Code: r.Code, Owner: e.opts.Node, At: e.opts.Now()}
		if change.Provider == "" {
			change.Provider = j.provider.Name
		}
		e.log.Info("an attempt left in flight had reached the provider; not sending it again",
			"delivery", j.d.ID, "provider_id", r.ProviderID, "status", status)
		return change, true
	}
	if len(errs) > 0 {
		err := errors.Join(errs...)
		result = "error"
		if errors.Is(err, errors.ErrUnsupported) {
			result = "unsupported"
		}
		e.log.Debug("looking up an attempt left in flight failed; sending again", "delivery", j.d.ID, "err", err)
	}
	return change, false
}
