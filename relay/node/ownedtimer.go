package node

import (
	"context"
	"log/slog"
	"sync"
	"time"
)

// ownedTimer is the timer of work that one live member does at a due
// time, owned like a delivery (rendezvous hashing over live members): the
// summaries of held replies, roll-call re-pings and escalation steps. It
// keeps, by key, when the work is due and whether another member owns it
// for now (parked); it wakes at the earliest due time not parked, or when
// poked, and calls fire, which looks at what is due, does what this node
// owns and parks the rest. Membership changes unpark everything, since
// this node may own it now; a catch-up also asks fire to rescan the
// store (rescan), which may have been replaced by a snapshot that no
// observer sees.
type ownedTimer[K comparable] struct {
	mu      sync.Mutex
	pending map[K]timerState
	rescan  bool

	kick chan struct{}
	done chan struct{}
	wg   sync.WaitGroup
	once sync.Once
}

// timerState is when a key's work is due, and whether another member
// owns it for now.
type timerState struct {
	due    time.Time
	parked bool
}

func newOwnedTimer[K comparable]() ownedTimer[K] {
	return ownedTimer[K]{pending: map[K]timerState{}, rescan: true, kick: make(chan struct{}, 1), done: make(chan struct{})}
}

func (t *ownedTimer[K]) poke() {
	select {
	case t.kick <- struct{}{}:
	default:
	}
}

// unpark has every parked key looked at again: membership changed.
func (t *ownedTimer[K]) unpark() {
	t.mu.Lock()
	for k, st := range t.pending {
		t.pending[k] = timerState{due: st.due}
	}
	t.mu.Unlock()
	t.poke()
}

// rescanSoon has the next round rescan the store and look at every
// parked key again.
func (t *ownedTimer[K]) rescanSoon() {
	t.mu.Lock()
	t.rescan = true
	t.mu.Unlock()
	t.unpark()
}

// takeRescan reports whether a rescan was asked for, and clears it.
func (t *ownedTimer[K]) takeRescan() bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	scan := t.rescan
	t.rescan = false
	return scan
}

// next returns the earliest due time of a key not parked.
func (t *ownedTimer[K]) next() (time.Time, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	var at time.Time
	found := false
	for _, st := range t.pending {
		if !st.parked && (!found || st.due.Before(at)) {
			at, found = st.due, true
		}
	}
	return at, found
}

// dueBy returns the keys not parked whose work is due by now.
func (t *ownedTimer[K]) dueBy(now time.Time) []K {
	t.mu.Lock()
	defer t.mu.Unlock()
	var due []K
	for k, st := range t.pending {
		if !st.parked && !st.due.After(now) {
			due = append(due, k)
		}
	}
	return due
}

// start runs the timer: fire is called at each due time and poke, and
// again retry after it fails (logged as failed, with its error).
func (t *ownedTimer[K]) start(now func() time.Time, log *slog.Logger, failed string, retry time.Duration, fire func(context.Context) error) {
	t.wg.Add(1)
	go t.run(now, log, failed, retry, fire)
	t.poke()
}

func (t *ownedTimer[K]) stop() {
	t.once.Do(func() { close(t.done) })
	t.wg.Wait()
}

func (t *ownedTimer[K]) run(now func() time.Time, log *slog.Logger, failed string, retry time.Duration, fire func(context.Context) error) {
	defer t.wg.Done()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		<-t.done
		cancel()
	}()
	for {
		var timer *time.Timer
		var wake <-chan time.Time
		if at, ok := t.next(); ok {
			timer = time.NewTimer(max(at.Sub(now()), 0))
			wake = timer.C
		}
		select {
		case <-t.kick:
		case <-wake:
		case <-t.done:
			if timer != nil {
				timer.Stop()
			}
			return
		}
		if timer != nil {
			timer.Stop()
		}
		if err := fire(ctx); err != nil && ctx.Err() == nil {
			log.Error(failed, "err", err)
			select {
			case <-time.After(retry):
				t.poke()
			case <-t.done:
				return
			}
		}
	}
}
