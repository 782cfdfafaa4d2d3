package node

import (
	"cmp"
	"context"
	"errors"
	"sync"
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

// heldState is when a person's earliest held reply in an incident is due,
// and whether another member owns its summary for now.
type heldState struct {
	due    time.Time
	parked bool
}

// summaries is the timer of the node's summaries.
type summaries struct {
	n    *Node
	mu   sync.Mutex
	held map[heldKey]heldState
	// rescan asks the next round to scan the open incidents for held
	// replies first.
	rescan bool
	kick   chan struct{}
	done   chan struct{}
	wg     sync.WaitGroup
	once   sync.Once
}

func newSummaries(n *Node) *summaries {
	s := &summaries{n: n, held: map[heldKey]heldState{}, rescan: true, kick: make(chan struct{}, 1), done: make(chan struct{})}
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
		switch cur, ok := s.held[k]; {
		case m.Reply.Withheld == relay.WithheldHeld:
			if !ok || m.Reply.Due.Before(cur.due) {
				s.held[k] = heldState{due: m.Reply.Due}
				woke = true
			}
		case m.Reply.Summarises != nil && ok:
			s.held[k] = heldState{due: cur.due} // look again: it may cover them
			woke = true
		}
	}
	s.mu.Unlock()
	if woke {
		s.poke()
	}
}

func (s *summaries) poke() {
	select {
	case s.kick <- struct{}{}:
	default:
	}
}

// unpark has every parked summary looked at again: membership changed,
// so this node may own it now.
func (s *summaries) unpark() {
	s.mu.Lock()
	for k, st := range s.held {
		s.held[k] = heldState{due: st.due}
	}
	s.mu.Unlock()
	s.poke()
}

// rescanSoon has the next round scan the open incidents and look at
// every parked summary again: the node caught up with its peers, so its
// store may have been replaced by a snapshot, which no observer sees,
// and it parked every summary while it had not caught up.
func (s *summaries) rescanSoon() {
	s.mu.Lock()
	s.rescan = true
	for k, st := range s.held {
		s.held[k] = heldState{due: st.due}
	}
	s.mu.Unlock()
	s.poke()
}

// next returns the earliest due time of a summary not parked.
func (s *summaries) next() (time.Time, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var at time.Time
	for _, st := range s.held {
		if !st.parked && (at.IsZero() || st.due.Before(at)) {
			at = st.due
		}
	}
	return at, !at.IsZero()
}

// start runs the timer; its first round scans the store for the held
// replies a previous run left.
func (s *summaries) start() {
	s.wg.Add(1)
	go s.run()
	s.poke()
}

func (s *summaries) stop() {
	s.once.Do(func() { close(s.done) })
	s.wg.Wait()
}

// run sends each summary this node owns when it is due.
func (s *summaries) run() {
	defer s.wg.Done()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		<-s.done
		cancel()
	}()
	for {
		var timer *time.Timer
		var fire <-chan time.Time
		if at, ok := s.next(); ok {
			timer = time.NewTimer(max(at.Sub(s.n.opts.Now()), 0))
			fire = timer.C
		}
		select {
		case <-s.kick:
		case <-fire:
		case <-s.done:
			if timer != nil {
				timer.Stop()
			}
			return
		}
		if timer != nil {
			timer.Stop()
		}
		if _, err := s.n.SendSummaries(ctx); err != nil && ctx.Err() == nil {
			s.n.log.Error("sending summaries of held replies failed; trying again", "err", err)
			select {
			case <-time.After(summaryRetry):
				s.poke()
			case <-s.done:
				return
			}
		}
	}
}

// SendSummaries sends on, in one summary per person and incident, the
// held replies that are due and that no summary sent on yet, for each
// summary this node owns. It returns how many summaries it posted. The
// node's own timer calls it when a summary is due; calling it at other
// times does no harm.
func (n *Node) SendSummaries(ctx context.Context) (int, error) {
	s := n.summaries
	s.mu.Lock()
	scan := s.rescan
	s.rescan = false
	s.mu.Unlock()
	now := n.opts.Now()
	if scan {
		if err := n.scanHeld(now); err != nil {
			s.rescanSoon()
			return 0, err
		}
	}
	s.mu.Lock()
	var due []heldKey
	for k, st := range s.held {
		if !st.parked && !st.due.After(now) {
			due = append(due, k)
		}
	}
	s.mu.Unlock()
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
	set := func(st heldState, keep bool) {
		s.mu.Lock()
		defer s.mu.Unlock()
		if keep {
			s.held[k] = st
		} else {
			delete(s.held, k)
		}
	}
	if len(ready) == 0 {
		set(heldState{due: next}, !next.IsZero())
		return false, nil
	}
	id := relay.SummaryID(k.person, ready[0].ID)
	if !n.repl.CaughtUp() || n.owners.Owner(&relay.Delivery{ID: id}) != n.opts.Name {
		set(heldState{due: ready[0].Reply.Due, parked: true}, true)
		return false, nil
	}
	posted, err := n.postSummary(ctx, k, ready, msgs, now)
	if err != nil {
		return false, err
	}
	if next.IsZero() {
		set(heldState{}, false)
	} else {
		set(heldState{due: next}, true)
	}
	return posted, nil
}

// postSummary posts the summary of ready, held replies of one person, to
// the incident's audience except them. It reports false when the summary
// was there already.
func (n *Node) postSummary(ctx context.Context, k heldKey, ready []relay.Message, msgs []relay.Message, now time.Time) (bool, error) {
	roster, _, err := n.store.Roster()
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
		if cur, ok := s.held[k]; !ok || due.Before(cur.due) {
			s.held[k] = heldState{due: due}
		}
	}
	s.mu.Unlock()
	return nil
}
