package delivery

import (
	"container/heap"
	"sync"
	"time"

	"github.com/oob-relay/relay/relay"
)

// item is a delivery waiting in a lane.
type item struct {
	id       string
	msgID    string
	priority relay.Priority
	due      time.Time
	seq      uint64 // insertion order, for fairness among equals
	// fresh items are for a delivery's first attempt only: the claim drops
	// them once the delivery has been attempted. Only they may be moved
	// sooner, so a retry's or a takeover's entry is never replaced.
	fresh bool
}

// entry is what the queue knows of a delivery's live item.
type entry struct {
	due   time.Time
	fresh bool
}

// queue holds a lane's waiting deliveries, each at most once: one heap per
// priority, each ordered by due time then insertion. A due item of high
// priority is always taken before any normal one, so replies and
// commanders' messages never wait behind a large broadcast.
type queue struct {
	mu     sync.Mutex
	heaps  [relay.PriorityHigh + 1]itemHeap
	queued map[string]entry // id -> its live item
	seq    uint64
	wake   chan struct{} // signalled when an item is pushed
}

func newQueue() *queue {
	return &queue{queued: make(map[string]entry), wake: make(chan struct{}, 1)}
}

// push adds it unless its delivery is already queued. It reports whether
// it was added.
func (q *queue) push(it item) bool {
	it.priority = min(max(it.priority, relay.PriorityNormal), relay.PriorityHigh)
	q.mu.Lock()
	if e, ok := q.queued[it.id]; ok && (e.fresh == it.fresh || !e.fresh) {
		// Already queued; only a fresh item gives way, to a retry's or a
		// takeover's, which the claim does not drop.
		q.mu.Unlock()
		return false
	}
	q.add(it)
	q.mu.Unlock()
	q.signal()
	return true
}

// pushSooner adds fresh item it, or moves its delivery's turn earlier
// when a fresh item of it is queued for later than it.due. The item left
// behind is dropped when it surfaces.
func (q *queue) pushSooner(it item) {
	it.priority = min(max(it.priority, relay.PriorityNormal), relay.PriorityHigh)
	it.fresh = true
	q.mu.Lock()
	if e, ok := q.queued[it.id]; ok && (!e.fresh || !it.due.Before(e.due)) {
		q.mu.Unlock()
		return
	}
	q.add(it)
	q.mu.Unlock()
	q.signal()
}

// add pushes it as its delivery's live entry; q.mu is held.
func (q *queue) add(it item) {
	q.seq++
	it.seq = q.seq
	q.queued[it.id] = entry{due: it.due, fresh: it.fresh}
	heap.Push(&q.heaps[it.priority], it)
}

func (q *queue) signal() {
	select {
	case q.wake <- struct{}{}:
	default:
	}
}

// popDue removes up to n items due at now, high priority first. When none
// is due it returns the time the next one falls due, or the zero time if
// the queue is empty.
func (q *queue) popDue(now time.Time, n int) ([]item, time.Time) {
	q.mu.Lock()
	defer q.mu.Unlock()
	var out []item
	var next time.Time
	for p := len(q.heaps) - 1; p >= 0; p-- {
		h := &q.heaps[p]
		for len(out) < n && h.Len() > 0 && !(*h)[0].due.After(now) {
			it := heap.Pop(h).(item)
			if e, ok := q.queued[it.id]; !ok || !e.due.Equal(it.due) || e.fresh != it.fresh {
				continue // superseded by a sooner entry
			}
			delete(q.queued, it.id)
			out = append(out, it)
		}
		if h.Len() > 0 && (next.IsZero() || (*h)[0].due.Before(next)) {
			next = (*h)[0].due
		}
	}
	if len(out) > 0 {
		return out, time.Time{}
	}
	return nil, next
}

func (q *queue) len() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	n := 0
	for i := range q.heaps {
		n += q.heaps[i].Len()
	}
	return n
}

type itemHeap []item

func (h itemHeap) Len() int { return len(h) }
func (h itemHeap) Less(i, j int) bool {
	if !h[i].due.Equal(h[j].due) {
		return h[i].due.Before(h[j].due)
	}
	return h[i].seq < h[j].seq
}
func (h itemHeap) Swap(i, j int) { h[i], h[j] = h[j], h[i] }
func (h *itemHeap) Push(x any)   { *h = append(*h, x.(item)) }
func (h *itemHeap) Pop() any {
	old := *h
	it := old[len(old)-1]
	*h = old[:len(old)-1]
	return it
}
