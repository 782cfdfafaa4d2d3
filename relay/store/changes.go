package store

import "sync"

// changes broadcasts that the state changed: a channel closed after each
// commit and replaced by a fresh one. Waiters that were busy when several
// commits came see one close for all of them.
type changes struct {
	mu     sync.Mutex
	ch     chan struct{}
	closed bool
}

func newChanges() *changes { return &changes{ch: make(chan struct{})} }

// current returns the channel the next change closes.
func (c *changes) current() <-chan struct{} {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.ch
}

// notify wakes every waiter and arms a new channel.
func (c *changes) notify() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return
	}
	close(c.ch)
	c.ch = make(chan struct{})
}

// close wakes every waiter for the last time: from then on, current
// returns a closed channel.
func (c *changes) close() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.closed {
		c.closed = true
		close(c.ch)
	}
}

// Changes returns a channel closed at the next commit that changed the
// state (events appended or merged, upkeep, a restore). Call it again
// after each close for the one after: commits that come while a waiter is
// busy are seen as one change. After Close the channel returned is
// closed; a waiter should then also watch Done.
func (s *Store) Changes() <-chan struct{} { return s.changed.current() }

// Done returns a channel closed once the store is closed.
func (s *Store) Done() <-chan struct{} { return s.stopped }
