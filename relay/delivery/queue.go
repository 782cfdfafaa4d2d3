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
}

// queue holds a lane's waiting deliveries, each at most once: one heap per
// priority, each ordered by due time then insertion. A due item of high
// priority is always taken before any normal one, so replies and
// commanders' messages never wait behind a large broadcast.
type queue struct {
	mu     sync.Mutex
	heaps  [relay.PriorityHigh + 1]itemHeap
	queued map[string]bool
	seq    uint64
	wake   chan struct{} // signalled when an item is pushed
}

func newQueue() *queue {
	return &queue{queued: make(map[string]bool), wake: make(chan struct{}, 1)}
}

// push adds it unless its delivery is already queued. It reports whether
// it was added.
func (q *queue) push(it item) bool {
	it.priority = min(max(it.priority, relay.PriorityNormal), relay.PriorityHigh)
	q.mu.Lock()
	if q.queued[it.id] {
		q.mu.Unlock()
		return false
	}
	q.seq++
	it.seq = q.seq
	q.queued[it.id] = true
	heap.Push(&q.heaps[it.priority], it)
	q.mu.Unlock()
	select {
	case q.wake <- struct{}{}:
	default:
	}
	return true
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
