package store

import (
	"context"
	"testing"

	"github.com/oob-relay/relay/relay"
)

// TestChangesAfterCommit: a waiter's channel is closed by the next commit
// that changes state, local or merged, not before; several commits while
// nobody waits are one change; Close closes it for good.
func TestChangesAfterCommit(t *testing.T) {
	ctx := context.Background()
	s := open(t, t.TempDir(), "seoul")
	other := open(t, t.TempDir(), "busan")
	defer other.Close()
	ch := s.Changes()
	select {
	case <-ch:
		t.Fatal("closed before any commit")
	default:
	}
	if _, err := s.Append(ctx, relay.Event{Message: testMessage("M1", "fire", "kim")}); err != nil {
		t.Fatal(err)
	}
	<-ch // closed by the commit before Append returned
	next := s.Changes()
	if next == ch {
		t.Fatal("the same channel again after a change")
	}
	select {
	case <-next:
		t.Fatal("the next channel is closed before another commit")
	default:
	}
	evs, err := other.Append(ctx, relay.Event{Message: testMessage("M2", "fire", "lee")}, relay.Event{Message: testMessage("M3", "fire", "lee")})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Merge(ctx, evs); err != nil {
		t.Fatal(err)
	}
	<-next
	// Merging what is already held changes nothing and closes nothing.
	idle := s.Changes()
	if _, err := s.Merge(ctx, evs); err != nil {
		t.Fatal(err)
	}
	select {
	case <-idle:
		t.Fatal("a merge of events already held was told as a change")
	default:
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	<-idle
	<-s.Changes()
}
