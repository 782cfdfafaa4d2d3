package node

import (
	"cmp"
	"context"
	"errors"
	"time"

	"github.com/oob-relay/relay/relay"
)

// Held replies are sent on in one summary per person and incident when
// the person's window ends (relay.ReplyInfo.Due). The summary's timer is
// owned like a delivery: by the live member that ranks highest, by
// rendezvous hashing, for the summary's id (relay.SummaryID), which every
// node derives alike from the earliest held reply. Every node keeps the
// held replies it holds that no summary sends on yet, learnt from its
// store as events are folded (its own and its peers') and by a scan at
// start and after a catch-up. At the due time the owner posts the
// summary; the others park theirs until membership changes, which may
// make them the owner (its node died), or until the summary arrives. Two
// nodes that both post, in a partition, post one message: same id.

// summaryRetry is the wait before trying a failed summary again.
const summaryRetry = time.Second

// heldKey names the held replies of one person in one incident.
type heldKey struct{ incident, person string }

// summaries is the timer of the node's summaries, by person and
// incident: when the earliest held reply is due.
type summaries struct {
	ownedTimer[heldKey]
	n *Node
}

func newSummaries(n *Node) *summaries {
	s := &summaries{ownedTimer: newOwnedTimer[heldKey](), n: n}
	n.store.Observe(s.observe)
	return s
}

// observe learns of held replies and summaries as the store folds them.
// It runs on the store's writer: it only notes them.
func (s *summaries) observe(evs []relay.Event) {
	woke := false
	s.mu.Lock()
	for i := range evs {
		m := evs[i].Message
		if m == nil || m.Reply == nil {
			continue
		}
		k := heldKey{m.Incident, m.Author}
		switch cur, ok := s.pending[k]; {
		case m.Reply.Withheld == relay.WithheldHeld:
			if !ok || m.Reply.Due.Before(cur.due) {
				s.pending[k] = timerState{due: m.Reply.Due}
				woke = true
			}
		case m.Reply.Summarises != nil && ok:
			s.pending[k] = timerState{due: cur.due} // look again: it may cover them
			woke = true
		}
	}
	s.mu.Unlock()
	if woke {
		s.poke()
	}
}

// start runs the timer; its first round scans the store for the held
// replies a previous run left.
func (s *summaries) start() {
	s.ownedTimer.start(s.n.opts.Now, s.n.log, "sending summaries of held replies failed; trying again", summaryRetry,
		func(ctx context.Context) error { _, err := s.n.SendSummaries(ctx); return err })
}

// SendSummaries sends on, in one summary per person and incident, the
// held replies that are due and that no summary sent on yet, for each
// summary this node owns. It returns how many summaries it posted. The
// node's own timer calls it when a summary is due; calling it at other
// times does no harm.
func (n *Node) SendSummaries(ctx context.Context) (int, error) {
	s := n.summaries
	now := n.opts.Now()
	if s.takeRescan() {
		if err := n.scanHeld(now); err != nil {
			s.rescanSoon()
			return 0, err
		}
	}
	due := s.dueBy(now)
	sent := 0
	var errs []error
	for _, k := range due {
		posted, err := n.sendSummary(ctx, k, now)
		if posted {
			sent++
		}
		errs = append(errs, err)
	}
	return sent, errors.Join(errs...)
}

// sendSummary sends the summary of one person's held replies in one
// incident if it is due and this node owns it, and notes when the next
// is due.
func (n *Node) sendSummary(ctx context.Context, k heldKey, now time.Time) (bool, error) {
	s := n.summaries
	msgs, err := n.store.IncidentMessages(k.incident)
	if err != nil {
		return false, err
	}
	ready, next := pendingHeld(msgs, k.person, now)
	set := func(st timerState, keep bool) {
		s.mu.Lock()
		defer s.mu.Unlock()
		if keep {
			s.pending[k] = st
		} else {
			delete(s.pending, k)
		}
	}
	if len(ready) == 0 {
		set(timerState{due: next}, !next.IsZero())
		return false, nil
	}
	id := relay.SummaryID(k.person, ready[0].ID)
	if !n.repl.CaughtUp() || n.owners.Owner(&relay.Delivery{ID: id}) != n.opts.Name {
		set(timerState{due: ready[0].Reply.Due, parked: true}, true)
		return false, nil
	}
	posted, err := n.postSummary(ctx, k, ready, msgs, now)
	if err != nil {
		return false, err
	}
	if next.IsZero() {
		set(timerState{}, false)
	} else {
		set(timerState{due: next}, true)
	}
	return posted, nil
}

// postSummary posts the summary of ready, held replies of one person, to
// the incident's audience except them. It reports false when the summary
// was there already.
func (n *Node) postSummary(ctx context.Context, k heldKey, ready []relay.Message, msgs []relay.Message, now time.Time) (bool, error) {
	roster, err := n.Roster()
	if err != nil {
		return false, err
	}
	name, lang := k.person, relay.DefaultLang
	if p, ok := roster.Person(k.person); ok {
		name, lang = cmp.Or(p.Name, p.ID), p.LangOrDefault()
	}
	texts := make([]string, len(ready))
	ids := make([]string, len(ready))
	for i := range ready {
		texts[i], ids[i] = ready[i].Reply.Text, ready[i].ID
	}
	high := highBudgetLeft(msgs, now, n.opts.Replies)
	post := &relay.Post{Incident: k.incident, Text: relay.SummaryText(lang, name, n.opts.Replies.Window, texts),
		To: audience(msgs), Severity: relay.SeverityWarning}
	acc, err := n.post(ctx, post, Author{Name: k.person, Via: relay.ViaReply, Commander: high}, relay.SummaryKey(ids[0]), []string{k.person},
		&relay.ReplyInfo{Summarises: ids})
	var fe *relay.FieldError
	switch {
	case errors.Is(err, ErrKeyReused):
		return false, nil // another node's summary of the same replies
	case errors.As(err, &fe):
		// Nobody left to send it to: the held replies stay in the
		// timeline.
		n.log.Warn("held replies cannot be sent on", "person", k.person, "incident", k.incident, "err", err)
		return false, nil
	case err != nil:
		return false, err
	case acc.Replayed:
		return false, nil
	}
	n.loops.summaries.Inc()
	n.loops.posted(high)
	n.log.Info("held replies sent on in a summary", "person", k.person, "incident", k.incident, "replies", len(ids),
		"message", acc.Message.ID)
	return true, nil
}

// pendingHeld returns person's held replies in msgs that no summary sends
// on and that are due at now, in the order they were taken, and when the
// earliest of the others is due (zero if none).
func pendingHeld(msgs []relay.Message, person string, now time.Time) (ready []relay.Message, next time.Time) {
	summarised := map[string]bool{}
	for i := range msgs {
		if r := msgs[i].Reply; r != nil && msgs[i].Author == person {
			for _, id := range r.Summarises {
				summarised[id] = true
			}
		}
	}
	for i := range msgs {
		m := &msgs[i]
		if m.Author != person || m.Reply == nil || m.Reply.Withheld != relay.WithheldHeld || summarised[m.ID] {
			continue
		}
		if !m.Reply.Due.After(now) {
			ready = append(ready, *m)
		} else if next.IsZero() || m.Reply.Due.Before(next) {
			next = m.Reply.Due
		}
	}
	return ready, next
}

// scanHeld notes every held reply in the incidents open for replies that
// no summary sends on yet.
func (n *Node) scanHeld(now time.Time) error {
	incs, err := n.store.Incidents()
	if err != nil {
		return err
	}
	found := map[heldKey]time.Time{}
	for _, inc := range incs {
		if now.Sub(inc.LastMessageAt) > relay.ReplyWindow {
			continue
		}
		msgs, err := n.store.IncidentMessages(inc.ID)
		if err != nil {
			return err
		}
		for i := range msgs {
			m := &msgs[i]
			if m.Reply == nil || m.Reply.Withheld != relay.WithheldHeld {
				continue
			}
			k := heldKey{inc.ID, m.Author}
			if _, ok := found[k]; ok {
				continue
			}
			ready, next := pendingHeld(msgs, m.Author, time.Time{})
			if len(ready) > 0 || !next.IsZero() {
				found[k] = next
			}
		}
	}
	s := n.summaries
	s.mu.Lock()
	for k, due := range found {
		if cur, ok := s.pending[k]; !ok || due.Before(cur.due) {
			s.pending[k] = timerState{due: due}
		}
	}
	s.mu.Unlock()
	return nil
}
