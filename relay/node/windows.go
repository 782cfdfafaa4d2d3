package node

import (
	"slices"
	"sync"
	"time"
)

// windows counts events per key over a sliding window, in memory, for
// limits this node keeps itself. It keeps at most maxLimitKeys keys: past
// that it forgets the keys whose events all left the window, then any.
type windows struct {
	mu    sync.Mutex
	limit int
	per   time.Duration
	m     map[string][]time.Time
}

func newWindows(limit int, per time.Duration) *windows {
	return &windows{limit: limit, per: per, m: make(map[string][]time.Time)}
}

// take counts one event of key at now unless key already has limit
// events in the window; then it says how long until the oldest leaves.
func (w *windows) take(key string, now time.Time) (time.Duration, bool) {
	return w.takeWith(key, now, nil)
}

// takeWith is take counting, besides the events kept here, those of
// also (times from elsewhere, such as the log; a time both hold counts
// once).
func (w *windows) takeWith(key string, now time.Time, also []time.Time) (time.Duration, bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	ts := w.live(key, now)
	all := slices.Clone(ts)
	for _, t := range also {
		if !slices.ContainsFunc(ts, t.Equal) && now.Sub(t) < w.per {
			all = append(all, t)
		}
	}
	if len(all) >= w.limit {
		slices.SortFunc(all, time.Time.Compare)
		return all[len(all)-w.limit].Add(w.per).Sub(now), false
	}
	w.put(key, append(ts, now))
	return 0, true
}

// add counts one event of key at now, whatever the limit.
func (w *windows) add(key string, now time.Time) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.put(key, append(w.live(key, now), now))
}

// times returns the events of key in the window.
func (w *windows) times(key string, now time.Time) []time.Time {
	w.mu.Lock()
	defer w.mu.Unlock()
	return slices.Clone(w.live(key, now))
}

// live returns key's events still in the window at now.
func (w *windows) live(key string, now time.Time) []time.Time {
	ts := w.m[key]
	i := 0
	for i < len(ts) && now.Sub(ts[i]) >= w.per {
		i++
	}
	return ts[i:]
}

func (w *windows) put(key string, ts []time.Time) {
	if _, ok := w.m[key]; !ok && len(w.m) >= maxLimitKeys {
		w.sweep(ts[len(ts)-1])
	}
	if len(ts) > w.limit {
		ts = ts[len(ts)-w.limit:]
	}
	w.m[key] = ts
}

// sweep forgets keys with no event in the window at now and, if that
// frees nothing, one key.
func (w *windows) sweep(now time.Time) {
	for k := range w.m {
		if len(w.live(k, now)) == 0 {
			delete(w.m, k)
		}
	}
	if len(w.m) >= maxLimitKeys {
		for k := range w.m {
			delete(w.m, k)
			break
		}
	}
}
