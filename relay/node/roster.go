package node

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/oob-relay/relay/relay"
)

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
	evs, err := n.store.Append(ctx, relay.Event{Roster: &relay.RosterChange{Roster: *r.Clone(), By: by}})
	if err != nil {
		return err
	}
	// A change from another node committed with this one, or right after
	// it, with a later clock, is the roster now: say so rather than
	// answer as if this one were in place.
	v, err := n.store.RosterVersion()
	if err != nil {
		return err
	}
	if v.Clock != evs[0].Clock || v.Origin != evs[0].Origin {
		return &RosterSupersededError{By: v.By, At: v.Clock.Time()}
	}
	return nil
}

// RosterSupersededError says a roster change was recorded but another
// one, made at the same time on another node with a later clock, is the
// roster now. Setting the roster again replaces it: this node's clock is
// past the other change's now.
type RosterSupersededError struct {
	By string
	At time.Time
}

func (e *RosterSupersededError) Error() string {
	return fmt.Sprintf("the roster change was recorded, but a later change by %q (at %s) is in place; apply it again to replace that one",
		e.By, e.At.UTC().Format(time.RFC3339))
}

// InvalidRosterError is a roster refused for its content. Err joins every
// problem, each naming its key.
type InvalidRosterError struct{ Err error }

func (e *InvalidRosterError) Error() string { return "invalid roster: " + e.Err.Error() }

// Unwrap returns the problems.
func (e *InvalidRosterError) Unwrap() error { return e.Err }
