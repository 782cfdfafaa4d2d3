package node

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/oklog/ulid/v2"

	"github.com/oob-relay/relay/relay"
)

// OnCallRoster returns the roster with the overrides added through the
// API layered over its schedules (relay.Roster.WithOverrides). It is
// shared: read it, do not change it.
func (n *Node) OnCallRoster() (*relay.Roster, error) {
	r, err := n.Roster()
	if err != nil {
		return nil, err
	}
	if len(r.Schedules) == 0 {
		return r, nil
	}
	added, err := n.store.Overrides()
	if err != nil {
		return nil, err
	}
	return r.WithOverrides(added), nil
}

// InvalidOverrideError is an override refused for its content, each
// problem naming its field.
type InvalidOverrideError struct{ Problems []*relay.FieldError }

func (e *InvalidOverrideError) Error() string {
	parts := make([]string, len(e.Problems))
	for i, p := range e.Problems {
		parts[i] = p.Error()
	}
	return "invalid override: " + strings.Join(parts, "; ")
}

// ErrNoSchedule is returned for a schedule the roster does not have.
var ErrNoSchedule = fmt.Errorf("schedule %w", relay.ErrNotFound)

// AddOverride adds an override to the schedule id, over the applied
// roster, and returns it with its new id and its times in the schedule's
// zone. It is refused when it names someone the roster does not have, or
// covers the same person (or the whole schedule) as another override
// at some common instant.
func (n *Node) AddOverride(ctx context.Context, id string, o relay.Override, by string) (relay.Override, error) {
	mu := &n.keyed[stripe(relay.TargetSchedulePrefix+id)]
	mu.Lock()
	defer mu.Unlock()
	r, err := n.OnCallRoster()
	if err != nil {
		return relay.Override{}, err
	}
	s, ok := r.Schedule(id)
	if !ok {
		return relay.Override{}, ErrNoSchedule
	}
	now := n.opts.Now()
	current := 0
	for _, so := range s.Overrides {
		if to, err := time.Parse(time.RFC3339, so.To); so.ID != "" && (err != nil || to.After(now)) {
			current++
		}
	}
	if current >= relay.MaxScheduleOverrides {
		return relay.Override{}, &InvalidOverrideError{[]*relay.FieldError{{Field: "id", Message: fmt.Sprintf(
			"schedule %q has %d overrides that have not ended; remove some first", id, current)}}}
	}
	o.ID, o.By = "", ""
	prepared, problems := r.PrepareOverride(id, o)
	if len(problems) > 0 {
		return relay.Override{}, &InvalidOverrideError{problems}
	}
	prepared.ID = strings.ToLower(ulid.Make().String())
	if _, err := n.store.Append(ctx, relay.Event{Override: &relay.OverrideChange{Schedule: id, Add: &prepared, By: by}}); err != nil {
		return relay.Override{}, err
	}
	prepared.By = by
	return prepared, nil
}

// RemoveOverride removes an override added to the schedule id; the
// overrides of the roster file are the file's to change.
func (n *Node) RemoveOverride(ctx context.Context, id, override, by string) error {
	mu := &n.keyed[stripe(relay.TargetSchedulePrefix+id)]
	mu.Lock()
	defer mu.Unlock()
	added, err := n.store.Overrides()
	if err != nil {
		return err
	}
	if !slices.ContainsFunc(added, func(so relay.ScheduleOverride) bool {
		return so.Schedule == id && so.Override.ID == override
	}) {
		return fmt.Errorf("override %q of schedule %q: %w", override, id, relay.ErrNotFound)
	}
	_, err = n.store.Append(ctx, relay.Event{Override: &relay.OverrideChange{Schedule: id, Remove: override, By: by}})
	return err
}

// Now is the node's time, which schedule targets are resolved at.
func (n *Node) Now() time.Time { return n.opts.Now() }

// namesSchedule reports whether any target is a schedule.
func namesSchedule(targets []string) bool {
	return slices.ContainsFunc(targets, func(t string) bool { return strings.HasPrefix(t, relay.TargetSchedulePrefix) })
}
