package node

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"sync"

	"github.com/oklog/ulid/v2"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/oob-relay/relay/relay"
)

// Roll-calls. A roll-call is started on any node: its question message
// and the roll-call itself are appended in one commit, so no node holds
// one without the other. Answers come by SMS, mail, a key in a call,
// NATS or the API (AnswerRollCall), each one event; the latest answer of
// a person counts. An answer picking an urgent option is told to the
// roster's commanders by the node that took it, in one message per
// person and roll-call (a deterministic idempotency key). Re-pings are
// timers owned like summaries of held replies (see repings.go).

// ErrRollCallClosed is returned for an answer to a roll-call past its
// end.
var ErrRollCallClosed = errors.New("the roll-call has ended")

// RollCallStarted is the answer to StartRollCall.
type RollCallStarted struct {
	RollCall *relay.RollCall
	// Replayed is true when an idempotency key found an earlier start.
	Replayed bool
	Copies   int
	OnlyCopy bool
}

// rollCallMetrics count what roll-calls do on this node.
type rollCallMetrics struct {
	answers *prometheus.CounterVec
	repings prometheus.Counter
	urgent  prometheus.Counter
}

func newRollCallMetrics(reg prometheus.Registerer) *rollCallMetrics {
	m := &rollCallMetrics{
		answers: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: "relay", Subsystem: "rollcall", Name: "answers_total",
			Help: "Roll-call answers this node took, by the channel they came on."}, []string{"channel"}),
		repings: prometheus.NewCounter(prometheus.CounterOpts{Namespace: "relay", Subsystem: "rollcall", Name: "repings_total",
			Help: "Re-ping messages this node sent to people who had not answered a roll-call."}),
		urgent: prometheus.NewCounter(prometheus.CounterOpts{Namespace: "relay", Subsystem: "rollcall", Name: "urgent_total",
			Help: "Urgent answers this node told the commanders of."}),
	}
	for _, ch := range append([]string{relay.ChannelAPI}, relay.Channels...) {
		m.answers.WithLabelValues(ch)
	}
	reg.MustRegister(m.answers, m.repings, m.urgent)
	return m
}

// StartRollCall starts a roll-call: it posts the question to the
// audience and records the roll-call, durably, as Post does. With an
// idempotency key, a retry by the same author on the same way returns
// the earlier roll-call; another request under the key gets
// ErrKeyReused.
func (n *Node) StartRollCall(ctx context.Context, req *relay.RollCallStart, author Author, key string) (*RollCallStarted, error) {
	post := &relay.Post{Incident: req.Incident, To: req.To, Severity: req.Severity, Text: "-"}
	if err := errors.Join(req.Validate(), post.CheckTo(n.opts.MaxTo)); err != nil {
		return nil, err
	}
	if len(key) > relay.MaxIdempotencyKey {
		return nil, &relay.FieldError{Field: "Idempotency-Key", Message: "is longer than 255 characters"}
	}
	hash := rollCallHash(req)
	id := ulid.Make().String()
	if key != "" {
		id = relay.IdempotentMessageID(author.Via, author.Name, "rollcall:"+key)
		mu := &n.keyed[stripe(id)]
		mu.Lock()
		defer mu.Unlock()
		switch prev, err := n.store.RollCall(id); {
		case err == nil && prev.RequestHash == hash:
			peers := len(n.repl.Peers())
			return &RollCallStarted{RollCall: prev, Replayed: true, Copies: 1 + peers, OnlyCopy: peers == 0}, nil
		case err == nil:
			return nil, ErrKeyReused
		case !errors.Is(err, relay.ErrNotFound):
			return nil, err
		}
	}
	now := n.opts.Now().UTC()
	rc, err := relay.NewRollCall(req, id, author.Name, relay.IdempotentMessageID(relay.ViaRollCall, id, "question"), now)
	if err != nil {
		return nil, err
	}
	rc.RequestHash = hash
	post.Text, post.Severity = rc.QuestionText(), rc.Severity
	m, err := n.newMessage(post, author, rc.Message, "", nil)
	if err != nil {
		return nil, err
	}
	m.RollCall = rc.ID
	evs, err := n.store.Append(ctx, relay.Event{Message: m}, relay.Event{RollCall: rc})
	if err != nil {
		return nil, err
	}
	copies := n.waitCopies(ctx, evs[len(evs)-1].Seq)
	n.log.Info("roll-call started", "rollcall", rc.ID, "incident", rc.Incident, "by", rc.StartedBy,
		"recipients", len(m.Recipients), "unreachable", len(m.Unreachable))
	return &RollCallStarted{RollCall: rc, Copies: 1 + copies, OnlyCopy: copies == 0}, nil
}

func rollCallHash(req *relay.RollCallStart) string {
	b, _ := json.Marshal(req) // strings, ints and bools cannot fail to marshal
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:16])
}

// AnswerRollCall records a person's answer to a roll-call, durably: the
// option with the given digit, come on channel (by names the bot or
// admin that answered for them, if one did). It refuses an answer to a
// roll-call that does not exist (relay.ErrNotFound), that has ended
// (ErrRollCallClosed), from someone outside its audience or with a digit
// it does not offer (*relay.FieldError). An urgent option is told to the
// commanders. The answer acknowledges the incident for the person, as an
// answer by SMS, mail, voice or NATS does: whoever answered is reached.
func (n *Node) AnswerRollCall(ctx context.Context, id, person string, digit int, channel, by string) (*relay.RollCallAnswer, error) {
	rc, err := n.store.RollCall(id)
	if err != nil {
		return nil, err
	}
	a, _, err := n.answer(ctx, rc, person, digit, channel, by, true)
	return a, err
}

// answer records a person's answer to rc, with the commanders' notice
// of an urgent one, and, when ack is set, the person's acknowledgement
// of every message of the incident sent to them, all in one commit; it
// returns the answer and the messages acknowledged.
func (n *Node) answer(ctx context.Context, rc *relay.RollCall, person string, digit int, channel, by string, ack bool) (*relay.RollCallAnswer, []string, error) {
	now := n.opts.Now().UTC()
	if !rc.Open(now) {
		return nil, nil, fmt.Errorf("%w: roll-call %s took answers until %s", ErrRollCallClosed, rc.ID, rc.Until.Format("2006-01-02 15:04:05Z07:00"))
	}
	aud, err := n.rollCallAudience(rc)
	if err != nil {
		return nil, nil, err
	}
	if _, ok := aud.people[person]; !ok {
		return nil, nil, &relay.FieldError{Field: "person", Message: strconv.Quote(person) + " was not asked in roll-call " + rc.ID}
	}
	opt, ok := rc.Option(digit)
	if !ok {
		return nil, nil, &relay.FieldError{Field: "answer", Message: fmt.Sprintf("%d is not an option of roll-call %s (%s)", digit, rc.ID, digits(rc))}
	}
	a := &relay.RollCallAnswer{RollCall: rc.ID, Incident: rc.Incident, Person: person, Digit: digit, Channel: channel, By: by, At: now}
	drafts := []relay.Event{{RollCallAnswer: a}}
	var notice *relay.Message
	if opt.Urgent {
		// The commanders' notice is written in the same commit as the
		// answer: a node that dies after taking it cannot lose it.
		p := aud.people[person]
		mu := &n.keyed[stripe(urgentID(rc, p))]
		mu.Lock()
		defer mu.Unlock()
		if notice, err = n.urgentNotice(rc, p, opt); err != nil {
			return nil, nil, err
		}
		if notice != nil {
			drafts = append(drafts, relay.Event{Message: notice})
		}
	}
	var acked []string
	if ack {
		// Whoever answered read the question: the answer acknowledges,
		// as ACK does. Unacked reads no message whole, so an answer to a
		// roll-call of thousands stays cheap.
		if acked, err = n.store.Unacked(rc.Incident, person); err != nil {
			return nil, nil, err
		}
		drafts = append(drafts, ackEvents(acked, rc.Incident, person, channel, now)...)
	}
	evs, err := n.store.Append(ctx, drafts...)
	if err != nil {
		return nil, nil, err
	}
	n.waitCopies(ctx, evs[len(evs)-1].Seq)
	n.rollcall.answers.WithLabelValues(channel).Inc()
	if notice != nil {
		n.rollcall.urgent.Inc()
		n.log.Info("urgent roll-call answer told to the commanders", "rollcall", rc.ID, "person", person, "digit", digit,
			"message", notice.ID)
	}
	return a, acked, nil
}

func digits(rc *relay.RollCall) string {
	s := ""
	for i, o := range rc.Options {
		if i > 0 {
			s += ", "
		}
		s += strconv.Itoa(o.Digit)
	}
	return s
}

// urgentAuthor and urgentKey make the id of the notice of a person's
// urgent answer, the same on every node: the commanders are told once
// per person and roll-call, whichever node takes the answer.
func urgentAuthor(rc *relay.RollCall) Author {
	return Author{Name: rc.StartedBy, Via: relay.ViaRollCall, Commander: true}
}

func urgentKey(rc *relay.RollCall, p *relay.Person) string {
	return "rollcall:" + rc.ID + ":urgent:" + p.ID
}

func urgentID(rc *relay.RollCall, p *relay.Person) string {
	a := urgentAuthor(rc)
	return relay.IdempotentMessageID(a.Via, a.Name, urgentKey(rc, p))
}

// urgentNotice returns the message that tells the roster's commanders,
// at high priority, on their own channels (not on broadcast ones), that
// a person picked an urgent option; nil when they were told already (of
// this or another urgent answer of the person) or cannot be told here.
func (n *Node) urgentNotice(rc *relay.RollCall, p *relay.Person, o relay.RollCallOption) (*relay.Message, error) {
	id := urgentID(rc, p)
	switch _, err := n.store.Message(id); {
	case err == nil:
		return nil, nil // told already
	case !errors.Is(err, relay.ErrNotFound):
		return nil, err
	}
	// The notice carries the person's contact: it goes to the
	// commanders' own channels, never out on a broadcast channel.
	policy := n.opts.Policies.For(relay.SeverityCritical)
	var chans []string
	for _, ch := range n.Channels() {
		if !relay.Broadcast(ch) && policy.Allows(ch) {
			chans = append(chans, ch)
		}
	}
	if len(chans) == 0 {
		n.log.Warn("an urgent roll-call answer has no channel to the commanders on this node", "rollcall", rc.ID, "person", p.ID)
		return nil, nil
	}
	post := &relay.Post{Incident: rc.Incident, Text: rc.UrgentText(p, o), To: []string{relay.TargetRolePrefix + relay.PersonCommander},
		Severity: relay.SeverityCritical, Channels: chans}
	if err := post.Validate(); err != nil {
		return nil, err
	}
	m, err := n.newMessage(post, urgentAuthor(rc), id, urgentKey(rc, p), nil)
	var fe *relay.FieldError
	var ae *relay.AudienceError
	switch {
	case errors.As(err, &fe) || errors.As(err, &ae):
		n.log.Warn("an urgent roll-call answer has no commander to tell", "rollcall", rc.ID, "person", p.ID, "err", err)
		return nil, nil
	case err != nil:
		return nil, err
	}
	return m, nil
}

// asked is the people a roll-call asked: the question message's
// recipients and the people it found unreachable.
type asked struct {
	people map[string]*relay.Person
	// channels are each recipient's channels, in the order tried.
	channels map[string][]string
	list     []relay.Person
}

// rollCallAudiences caches the audiences of roll-calls: a question
// message never changes, and reading a large one for every answer would
// cost more than the answer.
type rollCallAudiences struct {
	mu sync.Mutex
	m  map[string]*asked
}

// maxCachedAudiences bounds the cache; past it the cache starts afresh.
const maxCachedAudiences = 64

func (n *Node) rollCallAudience(rc *relay.RollCall) (*asked, error) {
	c := &n.audiences
	c.mu.Lock()
	a, ok := c.m[rc.ID]
	c.mu.Unlock()
	if ok {
		return a, nil
	}
	m, err := n.store.Message(rc.Message)
	if err != nil {
		return nil, fmt.Errorf("roll-call %s: its question: %w", rc.ID, err)
	}
	roster, err := n.Roster()
	if err != nil {
		return nil, err
	}
	a = &asked{people: map[string]*relay.Person{}, channels: map[string][]string{}}
	for _, r := range m.Recipients {
		a.list = append(a.list, r.Person)
		a.channels[r.Person.ID] = r.Channels
	}
	for _, id := range m.Unreachable {
		p := relay.Person{ID: id}
		if rp, ok := roster.Person(id); ok {
			p = *rp
		}
		a.list = append(a.list, p)
	}
	for i := range a.list {
		a.people[a.list[i].ID] = &a.list[i]
	}
	c.mu.Lock()
	if c.m == nil || len(c.m) >= maxCachedAudiences {
		c.m = map[string]*asked{}
	}
	c.m[rc.ID] = a
	c.mu.Unlock()
	return a, nil
}

// RollCallTally counts a roll-call from what this node holds.
func (n *Node) RollCallTally(id string) (*relay.Tally, error) {
	rc, err := n.store.RollCall(id)
	if err != nil {
		return nil, err
	}
	aud, err := n.rollCallAudience(rc)
	if err != nil {
		return nil, err
	}
	answers, err := n.store.RollCallAnswers(id)
	if err != nil {
		return nil, err
	}
	reach := map[string]relay.Reach{}
	for _, p := range aud.list {
		if len(aud.channels[p.ID]) == 0 {
			reach[p.ID] = relay.Reach{Lost: true}
		}
	}
	msgs, err := n.rollCallMessages(rc, aud)
	if err != nil {
		return nil, err
	}
	open := map[string]bool{}
	for _, msg := range msgs {
		ds, err := n.store.Deliveries(msg)
		if err != nil {
			return nil, err
		}
		for _, d := range ds {
			if d.Person == "" {
				continue
			}
			r := reach[d.Person]
			switch d.Status {
			case relay.StatusSent, relay.StatusDelivered:
				r.Reached = true
			case relay.StatusFailed, relay.StatusSkipped:
				r.Lost = true
			default:
				open[d.Person] = true
			}
			reach[d.Person] = r
		}
	}
	for p := range open {
		r := reach[p]
		r.Lost = false // a channel is still being tried
		reach[p] = r
	}
	return relay.NewTally(rc, aud.list, answers, reach), nil
}

// rollCallMessages lists the messages a roll-call sent that this node
// holds: the question and each re-ping so far.
func (n *Node) rollCallMessages(rc *relay.RollCall, aud *asked) ([]string, error) {
	out := []string{rc.Message}
	last, _, ok := rc.Round(n.opts.Now())
	if !ok && rc.Reping > 0 {
		last = int(rc.Until.Sub(rc.StartedAt) / rc.Reping)
	}
	chans := map[string]bool{}
	for _, cs := range aud.channels {
		for _, c := range cs {
			chans[c] = true
		}
	}
	for r := 1; r <= last; r++ {
		for c := range chans {
			id := relay.IdempotentMessageID(relay.ViaRollCall, rc.StartedBy, repingKey(rc.ID, r, c))
			switch _, err := n.store.Message(id); {
			case err == nil:
				out = append(out, id)
			case !errors.Is(err, relay.ErrNotFound):
				return nil, err
			}
		}
	}
	return out, nil
}

// repingKey is the idempotency key of round r of a roll-call's re-pings
// on one channel.
func repingKey(rollcall string, r int, channel string) string {
	return "rollcall:" + rollcall + ":reping:" + strconv.Itoa(r) + ":" + channel
}

// RollCalls returns the roll-calls of an incident, earliest first.
func (n *Node) RollCalls(incident string) ([]relay.RollCall, error) {
	return n.store.RollCalls(incident)
}
