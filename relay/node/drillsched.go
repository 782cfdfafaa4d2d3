package node

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/oob-relay/relay/relay"
)

// Scheduled drills. Each scheduled drill of the config (the same on every
// node) is a timer owned like a delivery: by the live member that ranks
// highest, by rendezvous hashing, for "drill-schedule:<name>". At each
// scheduled time the owner starts the drill under an id every node
// derives alike from the name and the time (relay.ScheduledDrillID), so a
// survivor that fires it after the owner died, or two nodes that both
// fire it in a partition, start one drill. The others park the time
// until membership changes or the drill arrives. A time missed by more
// than DrillMissWindow (the cluster was down, or took that long to
// notice its owner's death) is skipped and logged, and of several missed
// times only the latest is fired: a drill is never sent late in a burst.

// DrillMissWindow is how late a scheduled drill may still start.
const DrillMissWindow = time.Hour

// drillRetry is the wait before trying a failed scheduled drill again.
const drillRetry = 5 * time.Second

// ScheduledDrill is a drill the config schedules.
type ScheduledDrill struct {
	// Name names it, unique among the scheduled drills.
	Name string
	// Schedule gives the scheduled time after a given one, in the
	// schedule's own time zone (a parsed cron expression).
	Schedule interface{ Next(time.Time) time.Time }
	Start    relay.DrillStart
}

// drillOwnerID is what the owner of a scheduled drill is ranked by.
func drillOwnerID(name string) string { return "drill-schedule:" + name }

// drillSchedules is the timer of the scheduled drills, by name.
type drillSchedules struct {
	ownedTimer[string]
	n      *Node
	byName map[string]ScheduledDrill
	// next is each schedule's next time not yet started or skipped;
	// firing guards it and lets one round run at a time.
	firing sync.Mutex
	next   map[string]time.Time

	fired *prometheus.CounterVec
}

func newDrillSchedules(n *Node) *drillSchedules {
	s := &drillSchedules{ownedTimer: newOwnedTimer[string](), n: n, byName: map[string]ScheduledDrill{}, next: map[string]time.Time{},
		fired: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: "relay", Subsystem: "drill", Name: "scheduled_total",
			Help: "Scheduled drill times this node acted on: started (it started the drill) or skipped (missed by more than an hour, or behind a later time)."},
			[]string{"outcome"})}
	for _, o := range []string{"started", "skipped"} {
		s.fired.WithLabelValues(o)
	}
	n.opts.Registerer.MustRegister(s.fired)
	for _, sd := range n.opts.ScheduledDrills {
		s.byName[sd.Name] = sd
		s.pending[sd.Name] = timerState{}
	}
	n.store.Observe(s.observe)
	return s
}

// observe looks again at a schedule whose drill another node started.
func (s *drillSchedules) observe(evs []relay.Event) {
	woke := false
	s.mu.Lock()
	for i := range evs {
		if d := evs[i].Drill; d != nil && d.Schedule != "" {
			if _, ok := s.byName[d.Schedule]; ok {
				s.pending[d.Schedule] = timerState{}
				woke = true
			}
		}
	}
	s.mu.Unlock()
	if woke {
		s.poke()
	}
}

func (s *drillSchedules) start() {
	if len(s.byName) == 0 {
		return
	}
	s.ownedTimer.start(s.n.opts.Now, s.n.log, "scheduled drill failed; trying again", drillRetry,
		func(ctx context.Context) error { _, err := s.n.FireScheduledDrills(ctx); return err })
}

func (s *drillSchedules) stop() {
	if len(s.byName) > 0 {
		s.ownedTimer.stop()
	}
}

// FireScheduledDrills starts every scheduled drill that is due and that
// this node owns, and notes when the next ones are due. It returns how
// many drills it started. The node's own timer calls it; calling it at
// other times does no harm.
func (n *Node) FireScheduledDrills(ctx context.Context) (int, error) {
	s := n.drills
	s.firing.Lock()
	defer s.firing.Unlock()
	s.takeRescan()
	now := n.opts.Now()
	started := 0
	var errs []error
	for _, name := range s.dueBy(now) {
		ok, err := n.fireScheduledDrill(ctx, s.byName[name], now)
		if ok {
			started++
		}
		errs = append(errs, err)
	}
	return started, errors.Join(errs...)
}

func (n *Node) fireScheduledDrill(ctx context.Context, sd ScheduledDrill, now time.Time) (bool, error) {
	s := n.drills
	set := func(st timerState) {
		s.mu.Lock()
		s.pending[sd.Name] = st
		s.mu.Unlock()
	}
	at, ok := s.next[sd.Name]
	if !ok {
		// The first look: the latest time up to DrillMissWindow ago may
		// still be due, if its owner died before starting it; the ones
		// before it are passed over silently.
		at = sd.Schedule.Next(now.Add(-DrillMissWindow))
		for t := sd.Schedule.Next(at); !at.IsZero() && !at.After(now) && !t.IsZero() && !t.After(now); t = sd.Schedule.Next(t) {
			at = t
		}
	}
	if at.IsZero() {
		s.mu.Lock()
		delete(s.pending, sd.Name) // a schedule that never comes
		s.mu.Unlock()
		return false, nil
	}
	for t := sd.Schedule.Next(at); !at.After(now) && !t.After(now) && !t.IsZero(); t = sd.Schedule.Next(t) {
		n.skipDrill(sd, at, "a later time of the schedule is due too")
		at = t
	}
	s.next[sd.Name] = at
	if at.After(now) {
		set(timerState{due: at})
		return false, nil
	}
	id := relay.ScheduledDrillID(sd.Name, at)
	switch _, err := n.store.Drill(id); {
	case err == nil:
		s.next[sd.Name] = sd.Schedule.Next(at) // started already, here or elsewhere
		set(timerState{})
		return false, nil
	case !errors.Is(err, relay.ErrNotFound):
		return false, err
	}
	if now.Sub(at) > DrillMissWindow {
		n.skipDrill(sd, at, "missed by more than an hour")
		s.next[sd.Name] = sd.Schedule.Next(at)
		set(timerState{})
		return false, nil
	}
	if !n.repl.CaughtUp() || n.owners.Owner(&relay.Delivery{ID: drillOwnerID(sd.Name)}) != n.opts.Name {
		set(timerState{due: at, parked: true})
		return false, nil
	}
	req := sd.Start
	st, err := n.startDrill(ctx, &req, Author{Name: drillOwnerID(sd.Name), Via: relay.ViaDrill}, id, sd.Name, at)
	if err != nil && !errors.Is(err, ErrKeyReused) {
		return false, err
	}
	s.next[sd.Name] = sd.Schedule.Next(at)
	set(timerState{})
	if err != nil || st.Replayed {
		return false, nil
	}
	s.fired.WithLabelValues("started").Inc()
	n.log.Info("scheduled drill started", "schedule", sd.Name, "scheduled_at", at.UTC(), "drill", id,
		"late", now.Sub(at).Round(time.Millisecond))
	return true, nil
}

// skipDrill logs a scheduled time that will not be started, unless its
// drill was started already.
func (n *Node) skipDrill(sd ScheduledDrill, at time.Time, why string) {
	if _, err := n.store.Drill(relay.ScheduledDrillID(sd.Name, at)); err == nil {
		return
	}
	n.drills.fired.WithLabelValues("skipped").Inc()
	n.log.Warn("scheduled drill skipped", "schedule", sd.Name, "scheduled_at", at.UTC(), "why", why)
}

func checkScheduledDrills(sds []ScheduledDrill) error {
	seen := map[string]bool{}
	var errs []error
	for i, sd := range sds {
		switch {
		case !relay.ValidID(sd.Name) || len(sd.Name) > relay.MaxDrillName:
			errs = append(errs, fmt.Errorf("node: scheduled drill %d: name %q is not a valid name", i, sd.Name))
		case seen[sd.Name]:
			errs = append(errs, fmt.Errorf("node: scheduled drill %q is named twice", sd.Name))
		case sd.Schedule == nil:
			errs = append(errs, fmt.Errorf("node: scheduled drill %q has no schedule", sd.Name))
		}
		seen[sd.Name] = true
		if err := sd.Start.Validate(); err != nil {
			errs = append(errs, fmt.Errorf("node: scheduled drill %q: %w", sd.Name, err))
		}
	}
	return errors.Join(errs...)
}
