package cluster

import (
	"slices"
	"time"
)

// A member the failure detector counts dead may be alive: memberlist
// declares a member dead when it misses probes, which a busy member (a
// saturated CPU, a long pause) does while it goes on sending. Taking over
// its deliveries then sends again what it is sending. So a member whose
// frames keep coming, signed by its key where the cluster is
// authenticated, still counts (Members) for Options.SpeakingFor after its
// last frame, though memberlist counts it dead. A member that is really
// dead, or cut off, sends nothing; the window is shorter than the failure
// detector takes to declare a member dead, so failover is not delayed. A
// member that left counts no more, and a frame sent long ago (a replay, or
// a clock far off) is no sign of life.

// DefaultSpeakingFor is how long a member's last frame keeps it counted
// when the membership counts it dead: shorter than the lan preset's
// quickest verdict (about 0.7 s).
const DefaultSpeakingFor = 500 * time.Millisecond

// noteFrame records that member from sent a frame at at, by its clock.
func (r *Replicator) noteFrame(from string, at time.Time) {
	now := r.opts.Now()
	if d := now.Sub(at); d >= r.opts.SpeakingFor || d <= -r.opts.SpeakingFor {
		return
	}
	if at.After(now) {
		at = now
	}
	r.mu.Lock()
	if at.After(r.lastFrame[from]) {
		r.lastFrame[from] = at
	}
	news := r.peers[from] == nil && !slices.Contains(r.speaking, from) && !r.closed
	r.mu.Unlock()
	if news {
		r.poke()
	}
}

// updateSpeaking works out which members count by their frames alone
// (see above), and reports whether that changed, and how long until the
// first of them stops counting (zero for none).
func (r *Replicator) updateSpeaking() (changed bool, next time.Duration) {
	var states map[string]string // nil: the transport lists no states
	if ms, ok := r.transport().(Membership); ok {
		states = map[string]string{}
		for _, m := range ms.Members() {
			states[m.Name] = m.State
		}
	}
	now := r.opts.Now()
	r.mu.Lock()
	defer r.mu.Unlock()
	var speaking []string
	for name, at := range r.lastFrame {
		left := r.opts.SpeakingFor - now.Sub(at)
		if left <= 0 {
			delete(r.lastFrame, name)
			continue
		}
		if r.peers[name] != nil {
			continue
		}
		if states != nil && states[name] != memberDead {
			continue // left, or never a member
		}
		speaking = append(speaking, name)
		if next == 0 || left < next {
			next = left
		}
	}
	slices.Sort(speaking)
	if changed = !slices.Equal(speaking, r.speaking); changed {
		more := slices.ContainsFunc(speaking, func(n string) bool { return !slices.Contains(r.speaking, n) })
		r.speaking = speaking
		if more {
			r.log.Warn("members the failure detector counts dead still send; their deliveries stay theirs while they do",
				"members", speaking)
		}
	}
	return changed, next
}

// memberDead is Member.State of a member declared dead.
const memberDead = "dead"
