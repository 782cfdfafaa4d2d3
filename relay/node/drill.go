package node

import (
	"context"
	"errors"
	"slices"
	"time"

	"github.com/oklog/ulid/v2"

	"github.com/oob-relay/relay/relay"
	"github.com/oob-relay/relay/relay/drill"
)

// Drills. A drill's message and the drill itself are appended in one
// commit, as a roll-call's question and the roll-call are. The message is
// a critical one sent on every channel at once (so that each channel is
// measured), at normal priority (a drill never goes ahead of real
// traffic), marked as a drill by every channel, in an incident of its
// own that only drills post to; any answer to it acknowledges it (see
// Receive). It follows no escalation policy and asks no roll-call
// question. Its report is built from the log alone (drill.Build), so it
// is the same on every node.

// kst is Korea's time, which names a drill's incident: Korea has kept
// standard time without daylight saving since 1988, so a fixed zone is
// exact and needs no time zone database.
var kst = time.FixedZone("KST", 9*60*60)

// DrillStarted is the answer to StartDrill.
type DrillStarted struct {
	Drill   *relay.Drill
	Message *relay.Message
	// Replayed is true when the drill had been started already: a
	// retried start, or a scheduled drill another node fired.
	Replayed bool
	Copies   int
	OnlyCopy bool
}

// StartDrill starts a drill: it sends the marked message to the
// audience and records the drill, durably, as Post does. With an
// idempotency key, a retry by the same author on the same way returns
// the earlier drill; another request under the key gets ErrKeyReused.
func (n *Node) StartDrill(ctx context.Context, req *relay.DrillStart, author Author, key string) (*DrillStarted, error) {
	post := &relay.Post{Incident: "drill-x", To: req.To, Text: "-"}
	if err := errors.Join(req.Validate(), post.CheckTo(n.opts.MaxTo)); err != nil {
		return nil, err
	}
	if len(key) > relay.MaxIdempotencyKey {
		return nil, &relay.FieldError{Field: "Idempotency-Key", Message: "is longer than 255 characters"}
	}
	id := ulid.Make().String()
	if key != "" {
		id = relay.IdempotentMessageID(author.Via, author.Name, "drill:"+key)
	}
	return n.startDrill(ctx, req, author, id, "", time.Time{})
}

// startDrill starts drill id, or returns it when it was started already
// (ErrKeyReused when by another request). schedule and at name the
// scheduled drill and its time, for a drill a schedule fired.
func (n *Node) startDrill(ctx context.Context, req *relay.DrillStart, author Author, id, schedule string, at time.Time) (*DrillStarted, error) {
	hash := req.Hash()
	mu := &n.keyed[stripe(id)]
	mu.Lock()
	defer mu.Unlock()
	switch prev, err := n.store.Drill(id); {
	case err == nil && prev.RequestHash == hash:
		m, err := n.store.Message(prev.Message)
		if err != nil && !errors.Is(err, relay.ErrNotFound) {
			return nil, err
		}
		peers := len(n.repl.Peers())
		return &DrillStarted{Drill: prev, Message: m, Replayed: true, Copies: 1 + peers, OnlyCopy: peers == 0}, nil
	case err == nil:
		return nil, ErrKeyReused
	case !errors.Is(err, relay.ErrNotFound):
		return nil, err
	}
	now := n.opts.Now().UTC()
	channels := req.Channels
	if len(channels) == 0 {
		channels = relay.DrillChannels
	}
	d := &relay.Drill{ID: id, Incident: relay.DrillIncident(cmpTime(at, now), kst), Message: relay.DrillMessageID(id),
		To: req.To, Channels: req.Channels, Text: req.Text, Lang: req.Lang, StartedAt: now, StartedBy: author.Name,
		Schedule: schedule, ScheduledAt: at.UTC(), RequestHash: hash}
	if at.IsZero() {
		d.ScheduledAt = time.Time{}
	}
	post := &relay.Post{Incident: d.Incident, To: req.To, Text: req.Text, Severity: relay.SeverityCritical, Channels: channels}
	if err := post.Validate(); err != nil {
		return nil, err
	}
	m, err := n.newMessage(post, Author{Name: author.Name, Via: relay.ViaDrill}, d.Message, "", nil)
	if err != nil {
		return nil, err
	}
	m.Drill, m.Mode, m.Priority, m.Broadcasts = d.ID, relay.ModeAll, relay.PriorityNormal, nil
	evs, err := n.store.Append(ctx, relay.Event{Message: m}, relay.Event{Drill: d})
	if err != nil {
		return nil, err
	}
	copies := n.waitCopies(ctx, evs[len(evs)-1].Seq)
	n.log.Info("drill started", "drill", d.ID, "incident", d.Incident, "by", d.StartedBy, "schedule", d.Schedule,
		"recipients", len(m.Recipients), "unreachable", len(m.Unreachable))
	return &DrillStarted{Drill: d, Message: m, Copies: 1 + copies, OnlyCopy: copies == 0}, nil
}

func cmpTime(a, b time.Time) time.Time {
	if a.IsZero() {
		return b
	}
	return a
}

// Drill returns a drill, or relay.ErrNotFound.
func (n *Node) Drill(id string) (*relay.Drill, error) { return n.store.Drill(id) }

// Drills returns every drill the log holds, earliest first.
func (n *Node) Drills() ([]relay.Drill, error) { return n.store.Drills() }

// maxTrend is how many earlier drills a report compares with.
const maxTrend = 12

// DrillReport builds drill id's report from the log as it stands at at
// (deliveries still open then are pending; zero means now): its message,
// the deliveries and acknowledgements, each node's site and the
// summaries of up to maxTrend earlier drills. It returns
// relay.ErrNotFound for an unknown drill or one whose message retention
// removed.
func (n *Node) DrillReport(id string, at time.Time) (*drill.Report, error) {
	in, err := n.drillAt(id, at)
	if err != nil {
		return nil, err
	}
	all, err := n.store.Drills()
	if err != nil {
		return nil, err
	}
	i := slices.IndexFunc(all, func(x relay.Drill) bool { return x.ID == id })
	for _, prev := range all[max(0, i-maxTrend):max(i, 0)] {
		pin, err := n.drillInput(&prev, in.Sites, in.At)
		if errors.Is(err, relay.ErrNotFound) {
			continue // removed by retention
		}
		if err != nil {
			return nil, err
		}
		r := drill.Build(*pin)
		in.Previous = append(in.Previous, r.Summary)
	}
	r := drill.Build(*in)
	return &r, nil
}

func (n *Node) drillInput(d *relay.Drill, sites map[string]string, now time.Time) (*drill.Input, error) {
	m, err := n.store.Message(d.Message)
	if err != nil {
		return nil, err
	}
	ds, err := n.store.Deliveries(m.ID)
	if err != nil {
		return nil, err
	}
	acks, err := n.store.Acks(m.ID)
	if err != nil {
		return nil, err
	}
	return &drill.Input{Message: *m, Deliveries: ds, Acks: acks, Sites: sites, At: now}, nil
}

// DrillSummary builds drill id's summary alone (no trend) from the log
// as it stands at at (zero means now), for lists of drills. It returns
// relay.ErrNotFound for an unknown drill or one whose message retention
// removed.
func (n *Node) DrillSummary(id string, at time.Time) (*drill.Summary, error) {
	in, err := n.drillAt(id, at)
	if err != nil {
		return nil, err
	}
	r := drill.Build(*in)
	return &r.Summary, nil
}

// drillAt reads what drill id's report is made of, as the log stands at
// at (zero means now), with every node's site.
func (n *Node) drillAt(id string, at time.Time) (*drill.Input, error) {
	d, err := n.store.Drill(id)
	if err != nil {
		return nil, err
	}
	now := at.UTC()
	if at.IsZero() {
		now = n.opts.Now().UTC()
	}
	sites, err := n.Sites()
	if err != nil {
		return nil, err
	}
	return n.drillInput(d, sites, now)
}
