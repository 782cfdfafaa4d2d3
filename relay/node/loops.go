package node

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/oklog/ulid/v2"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/oob-relay/relay/relay"
)

// Replies never feed each other. Two phones with auto-responders in one
// incident would otherwise answer each other for ever, each answer posted
// to the incident and texted to the other phone. What stops them, in
// takeReply:
//
//   - An automatic answer, known by its channel (relay.Inbound.Automatic)
//     or its words (relay.AutomaticText), and a repeat of what the person
//     sent to the incident within ReplyLimits.RepeatWindow, are recorded
//     in the incident and sent to nobody.
//   - A person posts at most ReplyLimits.PerPerson replies to an incident
//     per Window. Later ones are recorded as held, and sent on in one
//     summary when the window ends (summaries.go).
//   - At most ReplyLimits.HighPriority replies to an incident per Window
//     go at high priority; later ones at normal priority, behind the
//     messages commanders and bots post.
//
// Every count is read from the incident's messages in the replicated log,
// so any node counts what the others took, as soon as it holds it: a
// reply is pushed to every peer at once and Receive returns only when a
// peer holds it. Two nodes that cannot reach each other each count only
// their own, so a partition may let through PerPerson per side.
//
// Everything withheld is a message of the incident without recipients,
// whose Reply.Withheld says why: durable, on every node, in the timeline.

// loops holds the metrics of what takeReply did, and limits its logs.
type loops struct {
	log       func(msg string, args ...any)
	automatic *prometheus.CounterVec
	held      *prometheus.CounterVec
	replies   *prometheus.CounterVec
	summaries prometheus.Counter
	// logged limits the log lines about withheld replies to one per
	// person and reason per minute.
	logged answerLimit
	// locks serialise the replies of one person on this node, so that
	// two arriving together are counted one after the other.
	locks [64]sync.Mutex
}

// Reasons an inbound counts as automatic, as metric labels.
const (
	autoMarked = "marked" // the channel said so (RFC 3834 headers)
	autoText   = "text"   // relay.AutomaticText
	autoRepeat = "repeat" // the same text again
)

func newLoops(n *Node) *loops {
	l := &loops{
		log: n.log.Info,
		automatic: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "relay_inbound_automatic_total",
			Help: "Inbound replies recorded and sent to nobody: automatic answers (marked by their channel, or known by their text) and repeats."},
			[]string{"channel", "reason"}),
		held: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "relay_inbound_held_total",
			Help: "Inbound replies over their author's limit, held to be sent on in a summary."}, []string{"channel"}),
		replies: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "relay_inbound_replies_total",
			Help: "Replies and summaries of held replies posted to their incident, by the priority they went at."}, []string{"priority"}),
		summaries: prometheus.NewCounter(prometheus.CounterOpts{Name: "relay_inbound_summaries_total",
			Help: "Summaries of held replies this node sent on."}),
	}
	for _, ch := range relay.Channels {
		for _, r := range []string{autoMarked, autoText, autoRepeat} {
			l.automatic.WithLabelValues(ch, r)
		}
		l.held.WithLabelValues(ch)
	}
	l.replies.WithLabelValues("high")
	l.replies.WithLabelValues("normal")
	n.opts.Registerer.MustRegister(l.automatic, l.held, l.replies, l.summaries)
	return l
}

// posted counts a reply or summary posted at a priority.
func (l *loops) posted(high bool) {
	if high {
		l.replies.WithLabelValues("high").Inc()
	} else {
		l.replies.WithLabelValues("normal").Inc()
	}
}

// dropped logs, at most once a minute per person, an automatic inbound
// that was not recorded.
func (l *loops) dropped(in *relay.Inbound, p *relay.Person, why string, now time.Time) {
	reason := autoText
	if in.Automatic {
		reason = autoMarked
	}
	l.automatic.WithLabelValues(in.Channel, reason).Inc()
	if l.logged.allow("dropped:"+p.ID, time.Minute, now) {
		l.log("an automatic reply was dropped", "person", p.ID, "channel", in.Channel, "why", why)
	}
}

// takeReply posts a person's reply to an incident, or records it
// withheld: see the comment at the top of this file.
func (n *Node) takeReply(ctx context.Context, p *relay.Person, incident, text string, in *relay.Inbound, now time.Time) (*relay.Answer, error) {
	mu := &n.loops.locks[stripe(p.ID)]
	mu.Lock()
	defer mu.Unlock()
	key := ""
	if in.ID != "" {
		key = "inbound:" + in.Channel + ":" + in.ID
		// A retried webhook or a resent mail is the same reply, even if
		// the incident's audience changed in between, and no repeat.
		switch prev, err := n.store.Message(relay.IdempotentMessageID(relay.ViaReply, p.ID, key)); {
		case err == nil:
			return &relay.Answer{Incident: incident, Message: prev}, nil
		case !errors.Is(err, relay.ErrNotFound):
			return nil, err
		}
	}
	msgs, err := n.store.IncidentMessages(incident)
	if err != nil {
		return nil, err
	}
	lim := n.opts.Replies
	info := &relay.ReplyInfo{Channel: in.Channel, Text: text}
	reason := ""
	switch {
	case in.Automatic:
		info.Withheld, reason = relay.WithheldAutomatic, autoMarked
	case relay.AutomaticText(text):
		info.Withheld, reason = relay.WithheldAutomatic, autoText
	case repeated(msgs, p.ID, text, now, lim.RepeatWindow):
		info.Withheld, reason = relay.WithheldRepeat, autoRepeat
	default:
		if due, over := overLimit(msgs, p.ID, now, lim); over {
			info.Withheld, info.Due = relay.WithheldHeld, due
		}
	}
	if info.Withheld == "" {
		high := highBudgetLeft(msgs, now, lim)
		m, err := n.postReply(ctx, p, incident, text, key, msgs, info, high)
		if err != nil {
			return nil, err
		}
		n.loops.posted(high)
		return &relay.Answer{Incident: incident, Message: m}, nil
	}
	m, err := n.withhold(ctx, p, incident, text, key, info, now)
	if err != nil {
		return nil, err
	}
	ans := &relay.Answer{Incident: incident, Message: m}
	if info.Withheld == relay.WithheldHeld {
		n.loops.held.WithLabelValues(in.Channel).Inc()
		if n.loops.logged.allow("held:"+p.ID, time.Minute, now) {
			n.log.Info("a person's replies are over their limit; held until the window ends", "person", p.ID,
				"incident", incident, "due", info.Due, "limit", lim.PerPerson, "window", lim.Window)
		}
		// The person is told at their first held reply of a window, on
		// whichever node takes it; an auto-responder this answer wakes
		// says the same again, which is a repeat.
		if firstHeld(msgs, p.ID, info.Due) {
			return n.autoAnswer(ans, p, p.LangOrDefault(), answerHeld, now), nil
		}
		return ans, nil
	}
	n.loops.automatic.WithLabelValues(in.Channel, reason).Inc()
	if n.loops.logged.allow(reason+":"+p.ID, time.Minute, now) {
		n.log.Info("an automatic reply was recorded and sent to nobody", "person", p.ID, "incident", incident,
			"channel", in.Channel, "reason", reason, "message", m.ID)
	}
	return ans, nil
}

// withhold records a reply in its incident, sent to nobody, once it is
// on disk here and, while a peer is alive, on a peer.
func (n *Node) withhold(ctx context.Context, p *relay.Person, incident, text, key string, info *relay.ReplyInfo, now time.Time) (*relay.Message, error) {
	post := relay.Post{Incident: incident, Text: replyText(p, text), To: []string{"person:" + p.ID}}
	if err := post.Validate(); err != nil {
		return nil, fmt.Errorf("reply cannot be recorded: %w", err)
	}
	id := ulid.Make().String()
	if key != "" {
		id = relay.IdempotentMessageID(relay.ViaReply, p.ID, key)
	}
	m := &relay.Message{ID: id, Incident: incident, Text: post.Text, Severity: relay.SeverityInfo, Author: p.ID,
		To: []string{}, AcceptedAt: now, AcceptedBy: n.opts.Name, Deadline: now, IdempotencyKey: key, Reply: info}
	evs, err := n.store.Append(ctx, relay.Event{Message: m})
	if err != nil {
		return nil, err
	}
	n.waitCopies(ctx, evs[0].Seq)
	return m, nil
}

// repeated reports whether person sent the same text to the incident
// within window before now.
func repeated(msgs []relay.Message, person, text string, now time.Time, window time.Duration) bool {
	for i := range msgs {
		m := &msgs[i]
		if m.Author == person && m.Reply != nil && m.Reply.Summarises == nil && now.Sub(m.AcceptedAt) < window &&
			relay.SameText(m.Reply.Text, text) {
			return true
		}
	}
	return false
}

// firstHeld reports whether msgs hold no reply of person held until due.
func firstHeld(msgs []relay.Message, person string, due time.Time) bool {
	return !slices.ContainsFunc(msgs, func(m relay.Message) bool {
		return m.Author == person && m.Reply != nil && m.Reply.Withheld == relay.WithheldHeld && m.Reply.Due.Equal(due)
	})
}

// overLimit reports whether person has posted lim.PerPerson replies to
// the incident within the window before now, and if so when the window
// ends: when the earliest of the last PerPerson leaves it.
func overLimit(msgs []relay.Message, person string, now time.Time, lim relay.ReplyLimits) (time.Time, bool) {
	var at []time.Time
	for i := range msgs {
		m := &msgs[i]
		if m.Author == person && m.Reply.Counts() && now.Sub(m.AcceptedAt) < lim.Window {
			at = append(at, m.AcceptedAt)
		}
	}
	if len(at) < lim.PerPerson {
		return time.Time{}, false
	}
	slices.SortFunc(at, time.Time.Compare)
	return at[len(at)-lim.PerPerson].Add(lim.Window), true
}

// highBudgetLeft reports whether fewer than lim.HighPriority replies and
// summaries went to the incident at high priority within the window
// before now.
func highBudgetLeft(msgs []relay.Message, now time.Time, lim relay.ReplyLimits) bool {
	high := 0
	for i := range msgs {
		m := &msgs[i]
		if m.Reply != nil && m.Reply.Withheld == "" && m.Priority == relay.PriorityHigh && now.Sub(m.AcceptedAt) < lim.Window {
			high++
		}
	}
	return high < lim.HighPriority
}
