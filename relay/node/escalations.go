package node

import (
	"context"
	"errors"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/oob-relay/relay/relay"
)

// A message posted to an escalation policy notifies the policy's next
// step when nobody has acknowledged it by the step's due time. The timer
// of each escalation is owned like a delivery, and like the summary of
// held replies (summaries.go): by the live member that ranks highest, by
// rendezvous hashing, for relay.EscalationOwnerID of the message. Every
// node keeps the escalations it holds that have not ended, learnt from
// its store as events are folded and by a scan at start and after a
// catch-up. At the due time the owner fires the step; the others park
// it until membership changes, which may make them the owner (its node
// died), or until the step arrives. A step is named by (message, round,
// step) and the deliveries it adds by (message, channel, person), so two
// nodes that both fire it, in a partition, make one step.

// escalationRetry is the wait before trying a failed step again.
const escalationRetry = time.Second

// escalations is the timer of the node's escalations, by message id: when
// the next step is due (a zero due means "look now").
type escalations struct {
	ownedTimer[string]
	n *Node
	// firing lets one FireEscalations run at a time: the timer's and a
	// caller's would otherwise read the same step as not yet fired.
	firing sync.Mutex

	steps    *prometheus.CounterVec
	lateness prometheus.Histogram
}

func newEscalations(n *Node) *escalations {
	x := &escalations{ownedTimer: newOwnedTimer[string](), n: n,
		steps: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "relay_escalation_steps_total",
			Help: "Escalation steps this node fired, by whether they notified people (step) or told the commanders that nobody acknowledged (exhausted)."}, []string{"kind"}),
		lateness: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "relay_escalation_step_lateness_seconds",
			Help:    "How long after its due time this node fired an escalation step.",
			Buckets: []float64{0.01, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60}}),
	}
	for _, k := range []string{"step", "exhausted"} {
		x.steps.WithLabelValues(k)
	}
	n.opts.Registerer.MustRegister(x.steps, x.lateness)
	n.store.Observe(x.observe)
	return x
}

// observe learns of escalations, their steps and their acknowledgements
// as the store folds them. It runs on the store's writer: it only notes
// them.
func (x *escalations) observe(evs []relay.Event) {
	woke := false
	x.mu.Lock()
	for i := range evs {
		e := &evs[i]
		switch {
		case e.Message != nil && e.Message.Escalation != nil:
			x.pending[e.Message.ID] = timerState{}
			woke = true
		case e.Escalated != nil:
			x.pending[e.Escalated.Message] = timerState{}
			woke = true
		case e.Ack != nil:
			if _, ok := x.pending[e.Ack.Message]; ok {
				x.pending[e.Ack.Message] = timerState{}
				woke = true
			}
		}
	}
	x.mu.Unlock()
	if woke {
		x.poke()
	}
}

func (x *escalations) start() {
	x.ownedTimer.start(x.n.opts.Now, x.n.log, "escalation step failed; trying again", escalationRetry,
		func(ctx context.Context) error { _, err := x.n.FireEscalations(ctx); return err })
}

// FireEscalations fires every escalation step that is due and that this
// node owns, and notes when the next ones are due. It returns how many
// steps it fired. The node's own timer calls it; calling it at other
// times does no harm.
func (n *Node) FireEscalations(ctx context.Context) (int, error) {
	x := n.escalations
	x.firing.Lock()
	defer x.firing.Unlock()
	if x.takeRescan() {
		ids, err := n.store.Escalating()
		if err != nil {
			x.rescanSoon()
			return 0, err
		}
		x.mu.Lock()
		for _, id := range ids {
			if _, ok := x.pending[id]; !ok {
				x.pending[id] = timerState{}
			}
		}
		x.mu.Unlock()
	}
	now := n.opts.Now()
	due := x.dueBy(now)
	fired := 0
	var errs []error
	for _, id := range due {
		ok, err := n.escalate(ctx, id, now)
		if ok {
			fired++
		}
		errs = append(errs, err)
	}
	return fired, errors.Join(errs...)
}

// escalate fires the next step of message id's escalation if it is due
// and this node owns it, and notes when the step after is due.
func (n *Node) escalate(ctx context.Context, id string, now time.Time) (bool, error) {
	x := n.escalations
	set := func(st timerState, keep bool) {
		x.mu.Lock()
		defer x.mu.Unlock()
		if keep {
			x.pending[id] = st
		} else {
			delete(x.pending, id)
		}
	}
	m, err := n.store.Message(id)
	if errors.Is(err, relay.ErrNotFound) {
		set(timerState{}, false) // removed by retention
		return false, nil
	}
	if err != nil {
		return false, err
	}
	acks, err := n.store.Acks(id)
	if err != nil {
		return false, err
	}
	steps, err := n.store.Escalations(id)
	if err != nil {
		return false, err
	}
	plan := m.Escalation
	k := relay.NextEscalation(plan, steps)
	if plan == nil || len(acks) > 0 || k > plan.Positions() {
		set(timerState{}, false) // acknowledged, or run out
		return false, nil
	}
	due := plan.Due(m.AcceptedAt, k)
	if due.After(now) {
		set(timerState{due: due}, true)
		return false, nil
	}
	if !n.repl.CaughtUp() || n.owners.Owner(&relay.Delivery{ID: relay.EscalationOwnerID(id)}) != n.opts.Name {
		set(timerState{due: due, parked: true}, true)
		return false, nil
	}
	if k == plan.Positions() {
		err = n.exhaust(ctx, m, steps, due, now)
	} else {
		err = n.fireStep(ctx, m, steps, k, due, now)
	}
	if err != nil {
		return false, err
	}
	x.lateness.Observe(max(now.Sub(due), 0).Seconds())
	set(timerState{}, true) // look again: the next step
	return true, nil
}

// fireStep notifies position k of m's escalation: the step's audience as
// the roster says now, less the people notified in this round already.
// People notified in an earlier round have their deliveries opened again;
// the others are added to the message.
func (n *Node) fireStep(ctx context.Context, m *relay.Message, steps []relay.Escalated, k int, due, now time.Time) error {
	plan := m.Escalation
	round, step := plan.At(k)
	// Schedules say who is on call now, overrides added through the API
	// included.
	roster, err := n.OnCallRoster()
	if err != nil {
		return err
	}
	var people []relay.Person
	for _, t := range plan.Steps[step].To {
		ps, err := roster.ResolveAt([]string{t}, now)
		if err != nil {
			n.log.Warn("escalation step names what the roster no longer has; the rest of the step is notified",
				"message", m.ID, "policy", plan.Policy, "step", step+1, "err", err)
			continue
		}
		for _, p := range ps {
			if !slices.ContainsFunc(people, func(q relay.Person) bool { return q.ID == p.ID }) {
				people = append(people, p)
			}
		}
	}
	notified := relay.NotifiedInRound(m, steps, round)
	var fresh []relay.Person
	var reopen []relay.DeliveryChange
	var names []string
	var ds []relay.Delivery // read once, for the first person notified again
	for _, p := range people {
		if notified[p.ID] {
			continue
		}
		if _, ok := m.Recipient(p.ID); !ok {
			fresh = append(fresh, p)
			continue
		}
		if ds == nil {
			if ds, err = n.store.Deliveries(m.ID); err != nil {
				return err
			}
		}
		for i := range ds {
			d := &ds[i]
			if d.Person != p.ID || !d.Status.Settled() || d.Status == relay.StatusSkipped {
				continue
			}
			reopen = append(reopen, relay.DeliveryChange{ID: d.ID, Status: relay.StatusPending, Round: d.Round + 1,
				Attempt: d.Attempts, At: now.UTC(), NextAt: now.UTC()})
		}
		names = append(names, p.ID)
	}
	policy := n.opts.Policies.For(m.Severity)
	enabled := n.Channels()
	recs, unreachable := relay.Recipients(fresh, func(ch string) bool {
		return slices.Contains(enabled, ch) && policy.Allows(ch) && (len(m.Channels) == 0 || slices.Contains(m.Channels, ch))
	})
	for _, r := range recs {
		names = append(names, r.Person.ID)
	}
	ev := &relay.Escalated{Message: m.ID, Incident: m.Incident, Policy: plan.Policy, Round: round, Step: step,
		Due: due.UTC(), At: now.UTC(), Notified: names, Recipients: recs, Reopen: reopen, Unreachable: unreachable,
		Priority: m.Priority, Deadline: now.UTC().Add(n.opts.Deadline(m.Severity))}
	if _, err := n.store.Append(ctx, relay.Event{Escalated: ev}); err != nil {
		return err
	}
	n.escalations.steps.WithLabelValues("step").Inc()
	n.log.Info("escalation step fired: nobody acknowledged in time", "message", m.ID, "incident", m.Incident,
		"policy", plan.Policy, "round", round+1, "step", step+1, "notified", len(names), "late", now.Sub(due).Round(time.Millisecond))
	return nil
}

// namesEscalation reports whether targets name an escalation policy,
// whose first step may name a schedule.
func namesEscalation(targets []string) bool {
	return slices.ContainsFunc(targets, func(t string) bool { return strings.HasPrefix(t, relay.TargetEscalationPrefix) })
}

// exhaust tells the commanders that nobody acknowledged m, at high
// priority, in one message every node derives alike, and records that
// the escalation ran out.
func (n *Node) exhaust(ctx context.Context, m *relay.Message, steps []relay.Escalated, due, now time.Time) error {
	plan := m.Escalation
	author := Author{Name: relay.TargetEscalationPrefix + plan.Policy, Via: relay.ViaEscalation, Commander: true}
	key := relay.EscalationNoticeKey(m.ID)
	fired := relay.NextEscalation(plan, steps)
	post := &relay.Post{Incident: m.Incident, To: []string{relay.TargetRolePrefix + relay.PersonCommander},
		Severity: relay.SeverityCritical, Text: relay.EscalationNoticeText(plan, m, fired)}
	notice := relay.IdempotentMessageID(author.Via, author.Name, key)
	acc, err := n.post(ctx, post, author, key, nil, nil)
	switch {
	case errors.Is(err, ErrKeyReused):
		// Another node told them first, counting the steps differently.
	case err != nil:
		return err
	case len(acc.Message.Recipients) == 0:
		n.log.Warn("an escalation ran out and the roster has no commander to tell", "message", m.ID, "policy", plan.Policy)
	}
	round, step := plan.At(plan.Positions())
	ev := &relay.Escalated{Message: m.ID, Incident: m.Incident, Policy: plan.Policy, Round: round, Step: step,
		Due: due.UTC(), At: now.UTC(), Exhausted: true, Notice: notice}
	if _, err := n.store.Append(ctx, relay.Event{Escalated: ev}); err != nil {
		return err
	}
	n.escalations.steps.WithLabelValues("exhausted").Inc()
	n.log.Warn("escalation ran out: nobody acknowledged; commanders told", "message", m.ID, "incident", m.Incident,
		"policy", plan.Policy, "notice", notice)
	return nil
}
