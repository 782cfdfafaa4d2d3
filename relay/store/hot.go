package store

import (
	"sync"

	"github.com/oob-relay/relay/relay"
)

// maxHot bounds the unsettled deliveries kept decoded in memory: enough
// for a 100,000-person blast on two channels, about 100 MB at most.
const maxHot = 200_000

// hotSet keeps the unsettled deliveries decoded, as of the last commit.
// Unsettled deliveries are the ones changed over and over (claimed, sent,
// retried) and read by the engine before each attempt, so keeping them
// spares a JSON decode per change. It holds values, never pointers the
// folder changes, so a failed transaction leaves it untouched.
type hotSet struct {
	mu sync.RWMutex
	m  map[string]relay.Delivery
}

func newHotSet() *hotSet { return &hotSet{m: make(map[string]relay.Delivery)} }

func (h *hotSet) get(id string) (relay.Delivery, bool) {
	h.mu.RLock()
	defer h.mu.RUnlock()
	d, ok := h.m[id]
	return d, ok
}

// update records the deliveries a commit wrote.
func (h *hotSet) update(ds map[string]*relay.Delivery) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for id, d := range ds {
		if d.Status.Settled() {
			delete(h.m, id)
		} else if _, ok := h.m[id]; ok || len(h.m) < maxHot {
			h.m[id] = *d
		}
	}
}

// clear forgets everything, after a failed commit.
func (h *hotSet) clear() {
	h.mu.Lock()
	defer h.mu.Unlock()
	clear(h.m)
}
