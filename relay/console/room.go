package console

import (
	"cmp"
	"errors"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/oob-relay/relay/relay"
	"github.com/oob-relay/relay/relay/store"
)

// Kinds of timeline entry: the data-kind of each #timeline .entry.
const (
	kindMessage    = "message"
	kindReply      = "reply"
	kindAck        = "ack"
	kindRollCall   = "rollcall"
	kindAnswer     = "answer"
	kindEscalation = "escalation"
)

// States of a delivery matrix cell: the data-state of each td.
const (
	stateReached = "reached"
	statePending = "pending"
	stateFailed  = "failed"
	stateStopped = "stopped"
	stateNone    = "none"
)

// maxTimeline bounds the entries the room shows, the latest kept; the
// export has them all.
const maxTimeline = 300

// entry is one line of the timeline.
type entry struct {
	Kind     string         `json:"kind"`
	At       time.Time      `json:"at"`
	ID       string         `json:"id,omitempty"`
	Author   string         `json:"author"`
	Text     string         `json:"text,omitempty"`
	Detail   string         `json:"detail,omitempty"`
	Severity relay.Severity `json:"severity,omitempty"`
}

// rollCallState is a roll-call with its tally.
type rollCallState struct {
	ID          string              `json:"id"`
	Incident    string              `json:"incident"`
	Question    string              `json:"question"`
	Options     []relay.OptionCount `json:"options"`
	Open        bool                `json:"open"`
	Audience    int                 `json:"audience"`
	Answered    int                 `json:"answered"`
	Unanswered  int                 `json:"unanswered"`
	Unreachable int                 `json:"unreachable"`
	answers     map[string]int
}

// rollCallView is a roll-call as one person sees it.
type rollCallView struct {
	*rollCallState
	// Asked says the viewer is in its audience; Mine is their answer.
	Asked bool
	Mine  int
}

// cell is one person × channel of the delivery matrix.
type cell struct {
	Channel string `json:"channel"`
	State   string `json:"state"`
	Reason  string `json:"reason,omitempty"`
}

type matrixRow struct {
	Person  string `json:"person"`
	Name    string `json:"name"`
	Reached bool   `json:"reached"`
	Acked   bool   `json:"acked"`
	Cells   []cell `json:"cells"`
}

type matrix struct {
	Channels  []string    `json:"channels"`
	Rows      []matrixRow `json:"rows"`
	Total     int         `json:"total"`
	Unreached int         `json:"unreached"`
	Shown     int         `json:"-"`
}

// roomState is an incident room as the store holds it, the same for
// every viewer.
type roomState struct {
	Incident  relay.Incident
	Timeline  []entry
	Earlier   int
	RollCalls []*rollCallState
	Matrix    matrix
	// acked holds who acknowledged some message of the incident.
	acked map[string]bool
	// asked holds each roll-call's audience.
	asked map[string]map[string]bool
	all   []entry
}

// roomData is what the room's template gets: the state with the
// viewer's own parts.
type roomData struct {
	*roomState
	RollCalls []rollCallView
	Matrix    matrix
	Acked     bool
	Nonce     string
}

var channelOrder = []string{relay.ChannelSMS, relay.ChannelVoice, relay.ChannelEmail}

// errNoIncident: the room asked for does not exist.
var errNoIncident = errors.New("no such incident")

// loadRoom reads an incident's room from the store.
func (c *Console) loadRoom(id string) (*roomState, error) {
	st := c.n.Store()
	inc, err := st.Incident(id)
	if errors.Is(err, relay.ErrNotFound) {
		return nil, errNoIncident
	}
	if err != nil {
		return nil, err
	}
	msgs, err := c.messages.of(st, id)
	if err != nil {
		return nil, err
	}
	rs := &roomState{Incident: *inc, acked: map[string]bool{}, asked: map[string]map[string]bool{}}
	rcs, err := c.n.RollCalls(id)
	if err != nil {
		return nil, err
	}
	byRC := map[string]*relay.RollCall{}
	for i := range rcs {
		byRC[rcs[i].ID] = &rcs[i]
	}
	size := 0
	for _, m := range msgs {
		size += len(m.Recipients) + len(m.Unreachable)
	}
	names := make(map[string]string, size)
	type key struct{ person, channel string }
	latest := make(map[key]store.DeliveryState, 2*size)
	people := make([]string, 0, size)
	seen := make(map[string]bool, size)
	addPerson := func(id, name string) {
		if name != "" {
			names[id] = name
		}
		if !seen[id] {
			seen[id] = true
			people = append(people, id)
		}
	}
	channels := map[string]bool{}
	now := c.opts.Now()
	var tl []entry
	for _, m := range msgs {
		for j := range m.Recipients {
			addPerson(m.Recipients[j].Person.ID, m.Recipients[j].Person.Name)
		}
		for _, p := range m.Unreachable {
			addPerson(p, "")
		}
		tl = append(tl, messageEntry(m, byRC))
		acks, err := st.Acks(m.ID)
		if err != nil {
			return nil, err
		}
		for _, a := range acks {
			rs.acked[a.Person] = true
			tl = append(tl, entry{Kind: kindAck, At: a.At, Author: a.Person, Detail: a.Channel})
		}
		steps, err := st.Escalations(m.ID)
		if err != nil {
			return nil, err
		}
		for _, s := range steps {
			for j := range s.Recipients {
				addPerson(s.Recipients[j].Person.ID, s.Recipients[j].Person.Name)
			}
			tl = append(tl, entry{Kind: kindEscalation, At: s.At, Author: s.Policy,
				Detail: "step " + strconv.Itoa(s.Step+1) + ": " + strings.Join(s.Notified, ", ")})
		}
		if m.Reply != nil && m.Reply.Withheld != "" {
			continue // sent to nobody
		}
		err = st.EachDeliveryState(m.ID, func(d store.DeliveryState) error {
			if d.Person == "" {
				return nil
			}
			channels[d.Channel] = true
			k := key{d.Person, d.Channel}
			if cur, ok := latest[k]; !ok || d.CreatedAt.After(cur.CreatedAt) || (d.CreatedAt.Equal(cur.CreatedAt) && reachRank(d.Status) > reachRank(cur.Status)) {
				latest[k] = d
			}
			return nil
		})
		if err != nil {
			return nil, err
		}
	}
	for _, rc := range rcs {
		t, err := c.n.RollCallTally(rc.ID)
		if err != nil {
			return nil, err
		}
		s := &rollCallState{ID: rc.ID, Incident: rc.Incident, Question: rc.Question, Options: t.Options, Open: rc.Open(now),
			Audience: t.Audience, Answered: t.Answered, Unanswered: t.Unanswered, Unreachable: t.Unreachable, answers: map[string]int{}}
		asked := map[string]bool{}
		for _, p := range t.People {
			asked[p.Person] = true
			if p.Digit != 0 {
				s.answers[p.Person] = p.Digit
				label := strconv.Itoa(p.Digit)
				if o, ok := rc.Option(p.Digit); ok {
					label += " · " + o.Label
				}
				tl = append(tl, entry{Kind: kindAnswer, At: p.At, Author: p.Person, Text: label, Detail: p.Channel})
			}
		}
		rs.asked[rc.ID] = asked
		rs.RollCalls = append(rs.RollCalls, s)
	}
	slices.SortStableFunc(tl, func(a, b entry) int { return a.At.Compare(b.At) })
	for i := range tl {
		if n, ok := names[tl[i].Author]; ok && tl[i].Kind != kindEscalation {
			tl[i].Author = n
		}
	}
	rs.all = tl
	if len(tl) > maxTimeline {
		rs.Earlier = len(tl) - maxTimeline
		tl = tl[len(tl)-maxTimeline:]
	}
	rs.Timeline = tl

	stopped, err := st.StoppedChannels()
	if err != nil {
		return nil, err
	}
	stop := map[key]bool{}
	for _, s := range stopped {
		if seen[s.Person] {
			stop[key{s.Person, s.Channel}] = true
			channels[s.Channel] = true
		}
	}
	mx := matrix{}
	for _, ch := range channelOrder {
		if channels[ch] {
			mx.Channels = append(mx.Channels, ch)
			delete(channels, ch)
		}
	}
	for _, ch := range slices.Sorted(mapKeys(channels)) {
		mx.Channels = append(mx.Channels, ch)
	}
	mx.Rows = make([]matrixRow, 0, len(people))
	for _, p := range people {
		row := matrixRow{Person: p, Name: cmp.Or(names[p], p), Acked: rs.acked[p], Cells: make([]cell, 0, len(mx.Channels))}
		for _, ch := range mx.Channels {
			cl := cell{Channel: ch, State: stateNone}
			if d, ok := latest[key{p, ch}]; ok {
				cl.State, cl.Reason = cellState(d)
			}
			if stop[key{p, ch}] && cl.State != stateReached {
				cl.State, cl.Reason = stateStopped, ""
			}
			row.Reached = row.Reached || cl.State == stateReached
			row.Cells = append(row.Cells, cl)
		}
		if !row.Reached {
			mx.Unreached++
		}
		mx.Rows = append(mx.Rows, row)
	}
	slices.SortFunc(mx.Rows, func(a, b matrixRow) int {
		if a.Reached != b.Reached {
			if a.Reached {
				return 1
			}
			return -1
		}
		return cmp.Or(strings.Compare(a.Name, b.Name), strings.Compare(a.Person, b.Person))
	})
	mx.Total = len(mx.Rows)
	rs.Matrix = mx
	return rs, nil
}

func mapKeys(m map[string]bool) func(func(string) bool) {
	return func(yield func(string) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}

// messageEntry is the timeline line of a message: a roll-call's
// question, a person's reply, or a post.
func messageEntry(m *relay.Message, rcs map[string]*relay.RollCall) entry {
	e := entry{Kind: kindMessage, At: m.AcceptedAt, ID: m.ID, Author: m.Author, Text: m.Text, Severity: m.Severity}
	switch {
	case m.RollCall != "":
		e.Kind = kindRollCall
		if rc, ok := rcs[m.RollCall]; ok {
			e.Text = rc.Question
			opts := make([]string, 0, len(rc.Options))
			for _, o := range rc.Options {
				opts = append(opts, strconv.Itoa(o.Digit)+" "+o.Label)
			}
			e.Detail = strings.Join(opts, " · ")
			if rc.Message != m.ID {
				e.Detail = "re-ping"
			}
		}
	case m.Reply != nil:
		e.Kind, e.Severity = kindReply, ""
		if m.Reply.Text != "" {
			e.Text = m.Reply.Text
		}
		if m.Reply.Channel != "" {
			e.Detail = m.Reply.Channel
		}
		if m.Reply.Withheld != "" {
			e.Detail = "withheld: " + string(m.Reply.Withheld)
		}
	}
	return e
}

func reachRank(s relay.Status) int {
	switch s {
	case relay.StatusDelivered:
		return 4
	case relay.StatusSent:
		return 3
	case relay.StatusSending, relay.StatusPending:
		return 2
	case relay.StatusFailed:
		return 1
	}
	return 0
}

// cellState says where a delivery stands in the matrix, and why it
// failed.
func cellState(d store.DeliveryState) (string, string) {
	switch d.Status {
	case relay.StatusSent, relay.StatusDelivered:
		return stateReached, ""
	case relay.StatusPending, relay.StatusSending:
		return statePending, d.Error
	case relay.StatusFailed:
		return stateFailed, cmp.Or(d.Error, string(d.Reason))
	}
	return stateNone, ""
}

// forViewer returns the room as u sees it, with at most rows rows of the
// matrix (every row when rows is 0).
func (rs *roomState) forViewer(u *user, rows int) *roomData {
	d := &roomData{roomState: rs, Matrix: rs.Matrix}
	if rows > 0 && len(d.Matrix.Rows) > rows {
		d.Matrix.Rows = d.Matrix.Rows[:rows]
	}
	d.Matrix.Shown = len(d.Matrix.Rows)
	person := ""
	if u != nil && u.person != nil {
		person = u.person.ID
	}
	d.Acked = rs.acked[person]
	for _, s := range rs.RollCalls {
		d.RollCalls = append(d.RollCalls, rollCallView{rollCallState: s, Asked: rs.asked[s.ID][person], Mine: s.answers[person]})
	}
	return d
}

// messageCache keeps the messages read, by id: a message never changes
// once accepted (the people later escalation steps add come in their own
// events), so a room loaded again after a change reads only new ones.
type messageCache struct {
	mu sync.Mutex
	m  map[string]*relay.Message
}

// maxCachedMessages bounds the cache; past it, it starts again empty.
const maxCachedMessages = 4096

func newMessageCache() *messageCache { return &messageCache{m: map[string]*relay.Message{}} }

// of returns an incident's messages in the order they were accepted.
// They are shared: read them, do not change them.
func (mc *messageCache) of(st *store.Store, incident string) ([]*relay.Message, error) {
	ids, err := st.IncidentMessageIDs(incident)
	if err != nil {
		return nil, err
	}
	out := make([]*relay.Message, 0, len(ids))
	for _, id := range ids {
		mc.mu.Lock()
		m := mc.m[id]
		mc.mu.Unlock()
		if m == nil {
			if m, err = st.Message(id); err != nil {
				return nil, err
			}
			mc.mu.Lock()
			if len(mc.m) >= maxCachedMessages {
				mc.m = map[string]*relay.Message{}
			}
			mc.m[id] = m
			mc.mu.Unlock()
		}
		out = append(out, m)
	}
	return out, nil
}
