package node

import (
	"context"
	"errors"
	"maps"
	"slices"
	"time"

	"github.com/oob-relay/relay/relay"
)

// Re-pings ask the people who have not answered a roll-call again,
// every RollCall.Reping until RollCall.Until, each time on their next
// channel (round r uses the r-th of the channels the question went on,
// in turn). Each roll-call's timer is owned as a summary of held replies
// is: by the live member that ranks highest, by rendezvous hashing, for
// the roll-call's id. At each round the owner posts one message per
// channel to the people still silent; the others park the roll-call
// until membership changes, which may make them the owner (its node
// died), and then post the round that is due. A round's messages have
// idempotency keys every node derives alike (repingKey), so a round
// posted by two nodes, or again by a survivor, is sent once.

// repings is the timer of the node's roll-call re-pings, by roll-call id.
type repings struct {
	ownedTimer[string]
	n *Node
}

func newRepings(n *Node) *repings {
	r := &repings{ownedTimer: newOwnedTimer[string](), n: n}
	n.store.Observe(r.observe)
	return r
}

// observe learns of roll-calls as the store folds them. It runs on the
// store's writer: it only notes them.
func (r *repings) observe(evs []relay.Event) {
	woke := false
	r.mu.Lock()
	for i := range evs {
		rc := evs[i].RollCall
		if rc == nil {
			continue
		}
		if _, at, ok := rc.Round(rc.StartedAt); ok {
			r.pending[rc.ID] = timerState{due: at}
			woke = true
		}
	}
	r.mu.Unlock()
	if woke {
		r.poke()
	}
}

func (r *repings) start() {
	r.ownedTimer.start(r.n.opts.Now, r.n.log, "re-pinging a roll-call failed; trying again", summaryRetry,
		func(ctx context.Context) error { _, err := r.n.SendRepings(ctx); return err })
}

// SendRepings posts the re-ping rounds that are due of every roll-call
// whose timer this node owns, and returns how many messages it posted.
// The node's own timer calls it; calling it at other times does no harm.
func (n *Node) SendRepings(ctx context.Context) (int, error) {
	r := n.repings
	now := n.opts.Now()
	if r.takeRescan() {
		rcs, err := n.store.RollCalls("")
		if err != nil {
			r.rescanSoon()
			return 0, err
		}
		r.mu.Lock()
		for i := range rcs {
			if _, at, ok := rcs[i].Round(now); ok {
				if _, known := r.pending[rcs[i].ID]; !known {
					r.pending[rcs[i].ID] = timerState{due: at}
				}
			}
		}
		r.mu.Unlock()
	}
	due := r.dueBy(now)
	slices.Sort(due)
	sent := 0
	var errs []error
	for _, id := range due {
		k, err := n.reping(ctx, id, now)
		sent += k
		errs = append(errs, err)
	}
	return sent, errors.Join(errs...)
}

// reping posts the round of roll-call id due at now if this node owns
// its timer, and notes when the next is due.
func (n *Node) reping(ctx context.Context, id string, now time.Time) (int, error) {
	r := n.repings
	set := func(st timerState, keep bool) {
		r.mu.Lock()
		defer r.mu.Unlock()
		if keep {
			r.pending[id] = st
		} else {
			delete(r.pending, id)
		}
	}
	rc, err := n.store.RollCall(id)
	if err != nil {
		return 0, err
	}
	round, at, ok := rc.Round(now)
	if !ok {
		set(timerState{}, false)
		return 0, nil
	}
	if at.After(now) {
		set(timerState{due: at}, true)
		return 0, nil
	}
	if !n.repl.CaughtUp() || n.owners.Owner(&relay.Delivery{ID: "rollcall:" + id}) != n.opts.Name {
		set(timerState{due: at, parked: true}, true)
		return 0, nil
	}
	sent, err := n.postRound(ctx, rc, round)
	if err != nil {
		return sent, err
	}
	if _, next, ok := rc.Round(at.Add(rc.Reping)); ok {
		set(timerState{due: next}, true)
	} else {
		set(timerState{}, false)
	}
	return sent, nil
}

// postRound asks the people who have not answered rc again, on the
// round's channel of each, one message per channel.
func (n *Node) postRound(ctx context.Context, rc *relay.RollCall, round int) (int, error) {
	aud, err := n.rollCallAudience(rc)
	if err != nil {
		return 0, err
	}
	answers, err := n.store.RollCallAnswers(rc.ID)
	if err != nil {
		return 0, err
	}
	roster, err := n.Roster()
	if err != nil {
		return 0, err
	}
	byChannel := map[string][]string{}
	for _, p := range aud.list {
		chans := aud.channels[p.ID]
		if _, answered := answers[p.ID]; answered || len(chans) == 0 {
			continue
		}
		if _, ok := roster.Person(p.ID); !ok {
			continue // no longer on the roster
		}
		ch := chans[round%len(chans)]
		byChannel[ch] = append(byChannel[ch], relay.TargetPersonPrefix+p.ID)
	}
	sent := 0
	for _, ch := range slices.Sorted(maps.Keys(byChannel)) {
		post := &relay.Post{Incident: rc.Incident, Text: rc.RepingText(round), To: byChannel[ch], Severity: rc.Severity,
			Channels: []string{ch}}
		acc, err := n.postMarked(ctx, post, Author{Name: rc.StartedBy, Via: relay.ViaRollCall}, repingKey(rc.ID, round, ch), nil,
			func(m *relay.Message) { m.RollCall = rc.ID })
		switch {
		case errors.Is(err, ErrKeyReused):
			continue // this round went out on this channel already
		case err != nil:
			return sent, err
		case acc.Replayed:
			continue
		}
		sent++
		n.rollcall.repings.Inc()
		n.log.Info("roll-call re-ping sent", "rollcall", rc.ID, "round", round, "channel", ch, "people", len(byChannel[ch]),
			"message", acc.Message.ID)
	}
	return sent, nil
}
