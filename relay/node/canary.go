package node

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/oob-relay/relay/relay"
	"github.com/oob-relay/relay/relay/store"
)

// Provider canaries. Each canary of the config (the same on every node)
// belongs, like a delivery, to the live member that ranks highest for
// "canary:<provider>". Every Every the owner sends one test message
// through the provider's own Sender (not the delivery engine: a canary
// reaches no person and no incident, and must go through that provider
// and no other), with the attempt timeout, and records it. Its receipt
// comes to the cluster's webhooks like a delivery's and is recorded by
// the node it reaches. When LateAfter has passed without a receipt, or
// the attempt or its receipt failed, the owner demotes the provider; a
// delivered receipt promotes it again. Verdicts are events, so every
// node applies them to its engine alike (delivery.Engine.SetDemoted).
// Only the receipt-reporting channels (SMS, voice) have canaries.

// Canary is a provider canary of the config.
type Canary struct {
	// Provider names the provider, one of Options.Providers on sms or
	// voice.
	Provider string
	// To is the number the canary is sent to.
	To string
	// Every is how often a canary is sent; LateAfter how long its
	// receipt may take.
	Every, LateAfter time.Duration
}

// canaryRetry is the wait before trying a failed canary round again.
const canaryRetry = 5 * time.Second

// canaryText is what a canary says, to whoever holds the canary phone.
const canaryText = "relay provider canary: a test message, no action needed."

// canaries is the timer of the provider canaries, by provider.
type canaries struct {
	ownedTimer[string]
	n      *Node
	byName map[string]Canary
	firing sync.Mutex

	sent     *prometheus.CounterVec
	verdicts *prometheus.CounterVec
}

func newCanaries(n *Node) (*canaries, error) {
	c := &canaries{ownedTimer: newOwnedTimer[string](), n: n, byName: map[string]Canary{},
		sent: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: "relay", Subsystem: "canary", Name: "sent_total",
			Help: "Provider canaries this node sent, by provider and result (ok, failed)."}, []string{"provider", "result"}),
		verdicts: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: "relay", Subsystem: "canary", Name: "verdicts_total",
			Help: "Verdicts this node gave on providers from their canaries, by provider and verdict (demoted, promoted)."}, []string{"provider", "verdict"}),
	}
	var errs []error
	for _, cn := range n.opts.Canaries {
		p, ok := n.engine.Provider(cn.Provider)
		switch {
		case !ok:
			errs = append(errs, fmt.Errorf("node: canary names provider %q, which the node does not have", cn.Provider))
		case !relay.ReportsReceipts(p.Channel):
			errs = append(errs, fmt.Errorf("node: canary of provider %q: %s reports no receipts", cn.Provider, p.Channel))
		case cn.Every <= 0 || cn.LateAfter <= 0 || cn.LateAfter >= cn.Every:
			errs = append(errs, fmt.Errorf("node: canary of provider %q: late_after must be positive and shorter than every", cn.Provider))
		case cn.To == "":
			errs = append(errs, fmt.Errorf("node: canary of provider %q has no number", cn.Provider))
		case cmp.Or(n.opts.CallbackURL, n.opts.PublicURL) == "":
			errs = append(errs, fmt.Errorf("node: canary of provider %q: receipts need a public or callback URL", cn.Provider))
		}
		c.byName[cn.Provider] = cn
		c.pending[cn.Provider] = timerState{}
		for _, r := range []string{"ok", "failed"} {
			c.sent.WithLabelValues(cn.Provider, r)
		}
		for _, v := range []string{"demoted", "promoted"} {
			c.verdicts.WithLabelValues(cn.Provider, v)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	n.opts.Registerer.MustRegister(c.sent, c.verdicts)
	n.store.Observe(c.observe)
	return c, nil
}

// observe looks again at a provider whose canary got a receipt or a
// verdict. It runs on the store's writer: it only notes them.
func (c *canaries) observe(evs []relay.Event) {
	woke := false
	c.mu.Lock()
	for i := range evs {
		if e := evs[i].Canary; e != nil {
			if _, ok := c.byName[e.Provider]; ok {
				c.pending[e.Provider] = timerState{}
				woke = true
			}
		}
	}
	c.mu.Unlock()
	if woke {
		c.poke()
	}
}

// applyDemotions sets each provider's standing in the engine from the
// log, and logs each change.
func (n *Node) applyDemotions() {
	ds, err := n.store.Demotions()
	if err != nil {
		n.log.Error("reading provider demotions failed", "err", err)
		return
	}
	for _, d := range ds {
		if !n.engine.SetDemoted(d.Provider, d.Demoted) {
			continue
		}
		if d.Demoted {
			n.log.Warn("provider demoted behind the others of its channel", "provider", d.Provider, "channel", d.Channel,
				"why", d.Reason, "by", d.By)
		} else {
			n.log.Info("provider promoted back to its place", "provider", d.Provider, "channel", d.Channel, "why", d.Reason, "by", d.By)
		}
	}
}

func (c *canaries) start() {
	if len(c.byName) > 0 {
		c.ownedTimer.start(c.n.opts.Now, c.n.log, "provider canary failed; trying again", canaryRetry,
			func(ctx context.Context) error { return c.n.FireCanaries(ctx) })
	}
}

func (c *canaries) stop() {
	if len(c.byName) > 0 {
		c.ownedTimer.stop()
	}
}

// FireCanaries gives the verdicts that are due on the canaries this node
// owns and sends the canaries that are due, and notes when the next ones
// are. The node's own timer calls it; calling it at other times does no
// harm.
func (n *Node) FireCanaries(ctx context.Context) error {
	c := n.canaries
	c.firing.Lock()
	defer c.firing.Unlock()
	c.takeRescan()
	n.applyDemotions()
	var errs []error
	for _, name := range c.dueBy(n.opts.Now()) {
		errs = append(errs, n.canary(ctx, c.byName[name]))
	}
	return errors.Join(errs...)
}

func (n *Node) canary(ctx context.Context, cn Canary) error {
	c := n.canaries
	set := func(st timerState) {
		c.mu.Lock()
		c.pending[cn.Provider] = st
		c.mu.Unlock()
	}
	now := n.opts.Now().UTC()
	last, err := n.store.LatestCanary(cn.Provider)
	if err != nil && !errors.Is(err, relay.ErrNotFound) {
		return err
	}
	next := now // when the next canary is due
	if last != nil {
		next = last.Sent.At.Add(cn.Every)
	}
	if !n.repl.CaughtUp() || n.owners.Owner(&relay.Delivery{ID: "canary:" + cn.Provider}) != n.opts.Name {
		set(timerState{due: next, parked: true})
		return nil
	}
	if last != nil {
		due, err := n.judgeCanary(ctx, cn, last, now)
		if err != nil {
			return err
		}
		if !due.IsZero() && due.Before(next) {
			next = due
		}
	}
	if next.After(now) {
		set(timerState{due: next})
		return nil
	}
	if err := n.sendCanary(ctx, cn, now); err != nil {
		return err
	}
	set(timerState{due: now.Add(cn.LateAfter)})
	return nil
}

// judgeCanary gives the verdict the latest canary calls for, if it
// changes the provider's standing. It returns when to look again for a
// canary still waiting for its receipt.
func (n *Node) judgeCanary(ctx context.Context, cn Canary, last *store.CanaryAttempt, now time.Time) (time.Time, error) {
	ds, err := n.store.Demotions()
	if err != nil {
		return time.Time{}, err
	}
	cur := ds[cn.Provider]
	var demote bool
	var why string
	switch {
	case last.Sent.ProviderID == "":
		demote, why = true, "the canary was refused: "+last.Sent.Error
	case last.Receipt != nil && last.Receipt.Status == relay.StatusDelivered:
		demote, why = false, "the canary's receipt came in "+last.Receipt.At.Sub(last.Sent.At).Round(time.Millisecond).String()
	case last.Receipt != nil:
		demote, why = true, "the canary's receipt says it failed"
	case now.Sub(last.Sent.At) >= cn.LateAfter:
		demote, why = true, "no receipt for the canary after "+cn.LateAfter.String()
	default:
		return last.Sent.At.Add(cn.LateAfter), nil // still waiting
	}
	if cur.Demoted == demote {
		return time.Time{}, nil // no change
	}
	p, _ := n.engine.Provider(cn.Provider)
	v := &relay.CanaryVerdict{Demoted: demote, Reason: why, Canary: last.ID, At: now, By: n.opts.Name}
	if _, err := n.store.Append(ctx, relay.Event{Canary: &relay.Canary{Provider: cn.Provider, Channel: p.Channel, Verdict: v}}); err != nil {
		return time.Time{}, err
	}
	verdict := "promoted"
	if demote {
		verdict = "demoted"
	}
	n.canaries.verdicts.WithLabelValues(cn.Provider, verdict).Inc()
	n.log.Warn("provider canary verdict", "provider", cn.Provider, "verdict", verdict, "why", why, "canary", last.ID)
	return time.Time{}, nil
}

// sendCanary sends one canary through the provider's own sender and
// records it, sent or refused.
func (n *Node) sendCanary(ctx context.Context, cn Canary, now time.Time) error {
	p, _ := n.engine.Provider(cn.Provider)
	id := relay.CanaryID(cn.Provider, now)
	base := strings.TrimSuffix(cmp.Or(n.opts.CallbackURL, n.opts.PublicURL), "/") + relay.WebhookPrefix + id
	out := &relay.Outgoing{DeliveryID: id, Channel: p.Channel, Attempt: 1,
		Message: &relay.Message{ID: id, Incident: "canary", Text: canaryText, Severity: relay.SeverityInfo,
			AcceptedAt: now, AcceptedBy: n.opts.Name, Deadline: now.Add(cn.LateAfter)},
		Person:         &relay.Person{ID: "canary", Name: "canary", Phone: cn.To, Lang: "en"},
		StatusCallback: base + "/" + relay.CallbackStatus, CallbackBase: base}
	actx, cancel := context.WithTimeout(ctx, cmp.Or(n.opts.AttemptTimeout, 30*time.Second))
	rc, err := p.Sender.Send(actx, out)
	cancel()
	sent := &relay.CanarySent{ProviderID: rc.ProviderID, At: now, By: n.opts.Name}
	result := "ok"
	if err != nil {
		sent.ProviderID, sent.Error, result = "", err.Error(), "failed"
		n.log.Warn("provider canary refused", "provider", cn.Provider, "err", err)
	}
	n.canaries.sent.WithLabelValues(cn.Provider, result).Inc()
	_, err = n.store.Append(ctx, relay.Event{Canary: &relay.Canary{Provider: cn.Provider, Channel: p.Channel, ID: id, Sent: sent}})
	return err
}

// RecordCanaryReceipt records the receipt of a canary attempt that came
// to this node's webhooks. It returns relay.ErrNotFound for an unknown
// canary and relay.ErrStaleReceipt for a receipt about another attempt;
// a repeated receipt changes nothing.
func (n *Node) RecordCanaryReceipt(ctx context.Context, id string, r relay.Report) error {
	if r.Status != relay.StatusDelivered && r.Status != relay.StatusFailed {
		return fmt.Errorf("node: a receipt is delivered or failed, not %q", r.Status)
	}
	name, ok := relay.CanaryProvider(id)
	p, known := n.engine.Provider(name)
	if !ok || !known {
		return fmt.Errorf("canary %s: %w", id, relay.ErrNotFound)
	}
	// The receipt may come before the record of its attempt reached
	// this node: it is kept, and the attempt joins it when it comes.
	a, err := n.store.CanaryAttempt(id)
	switch {
	case errors.Is(err, relay.ErrNotFound):
	case err != nil:
		return err
	case a.Sent != nil && a.Sent.ProviderID != r.ProviderID:
		return relay.ErrStaleReceipt
	case a.Receipt != nil:
		return nil
	}
	rc := &relay.CanaryReceipt{ProviderID: r.ProviderID, Status: r.Status, At: n.opts.Now().UTC()}
	_, err = n.store.Append(ctx, relay.Event{Canary: &relay.Canary{Provider: name, Channel: p.Channel, ID: id, Receipt: rc}})
	return err
}
