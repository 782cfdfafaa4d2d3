package node

import (
	"context"
	"errors"

	"github.com/oob-relay/relay/relay"
)

// Roster returns the current roster; an empty one when none was ever set.
func (n *Node) Roster() (*relay.Roster, error) {
	r, _, err := n.store.Roster()
	if err != nil {
		return nil, err
	}
	if r == nil {
		r = &relay.Roster{}
	}
	return r, nil
}

// SetRoster replaces the roster after validating it whole: a roster with
// any problem is refused with every problem listed, and the current one
// stays. Messages already accepted keep the audience they resolved.
func (n *Node) SetRoster(ctx context.Context, r *relay.Roster, by string) error {
	if err := r.Validate(); err != nil {
		return &InvalidRosterError{err}
	}
	if len(r.People) == 0 {
		return &InvalidRosterError{errors.New("people: is empty; a roster without people would leave every message unreachable")}
	}
	_, err := n.store.Append(ctx, relay.Event{Roster: &relay.RosterChange{Roster: *r.Clone(), By: by}})
	return err
}

// InvalidRosterError is a roster refused for its content. Err joins every
// problem, each naming its key.
type InvalidRosterError struct{ Err error }

func (e *InvalidRosterError) Error() string { return "invalid roster: " + e.Err.Error() }

// Unwrap returns the problems.
func (e *InvalidRosterError) Unwrap() error { return e.Err }
