// Package drill turns a drill's message, its deliveries and the
// acknowledgements it got into a report: who was reached, on which
// channel and how fast, who acknowledged, who was not reached and why,
// and how each provider and each site did, beside the drills before it.
//
// The report is computed from the replicated log alone, so every node
// gives the same report for the same drill. It is written as text, CSV
// (one row per person and channel) and a self-contained HTML page whose
// charts are SVG drawn on the server: no script, no outside resource.
package drill

import (
	"cmp"
	"math"
	"slices"
	"time"

	"github.com/oob-relay/relay/relay"
)

// Marker starts the text of every drill message, so nobody takes a drill
// for the real thing.
const Marker = "[훈련]"

// Input is what a report is made of.
type Input struct {
	Message    relay.Message
	Deliveries []relay.Delivery
	Acks       []relay.Ack
	// Sites maps a node to its site; a node not listed is its own site.
	Sites map[string]string
	// Previous are the reports of earlier drills, oldest first, for the
	// trend.
	Previous []Summary
	// At is when the report is made: deliveries still open then are
	// pending.
	At time.Time
}

// Outcomes of a person's drill.
const (
	OutcomeAcked       = "acknowledged"
	OutcomeReached     = "reached"
	OutcomeNoReceipt   = "no_receipt"
	OutcomePending     = "pending"
	OutcomeInvalid     = "invalid_number"
	OutcomeStopped     = "stopped"
	OutcomeFailed      = "failed"
	OutcomeNoContact   = "no_contact_method"
	OutcomeUnreachable = "unreachable"
)

// Person is one person's drill.
type Person struct {
	ID   string `json:"id"`
	Name string `json:"name"`
	// Outcome is the best of their channels' outcomes (OutcomeAcked
	// first); Reason says why they were not reached, when they were not.
	Outcome string `json:"outcome"`
	Reason  string `json:"reason,omitempty"`
	// Channel is the first channel that reached them; ToDelivery the
	// time from the drill's start to it.
	Channel    string        `json:"channel,omitempty"`
	ToDelivery time.Duration `json:"to_delivery,omitempty"`
	// AckChannel and ToAck are how and when they acknowledged.
	AckChannel string        `json:"ack_channel,omitempty"`
	ToAck      time.Duration `json:"to_ack,omitempty"`
	Rows       []Row         `json:"rows"`
}

// Row is one delivery of the drill: a line of the CSV.
type Row struct {
	Person   string       `json:"person"`
	Name     string       `json:"name"`
	Channel  string       `json:"channel"`
	Provider string       `json:"provider,omitempty"`
	Node     string       `json:"node,omitempty"`
	Site     string       `json:"site,omitempty"`
	Status   relay.Status `json:"status"`
	Outcome  string       `json:"outcome"`
	Reason   string       `json:"reason,omitempty"`
	// ToSend and ToDelivery count from the drill's start; zero when it
	// did not happen.
	ToSend     time.Duration `json:"to_send,omitempty"`
	ToDelivery time.Duration `json:"to_delivery,omitempty"`
	Attempts   int           `json:"attempts"`
}

// Group is the figures of a provider or a site.
type Group struct {
	Name       string `json:"name"`
	Deliveries int    `json:"deliveries"`
	Delivered  int    `json:"delivered"`
	Failed     int    `json:"failed"`
	// Latency percentiles of time to delivery, from receipts.
	P50 time.Duration `json:"p50"`
	P90 time.Duration `json:"p90"`
	P99 time.Duration `json:"p99"`
}

// Rate is the share of deliveries delivered.
func (g Group) Rate() float64 { return ratio(g.Delivered, g.Deliveries) }

// Summary is a drill's headline figures, kept for the trend.
type Summary struct {
	Message string    `json:"message"`
	At      time.Time `json:"at"`
	People  int       `json:"people"`
	Reached int       `json:"reached"`
	Acked   int       `json:"acknowledged"`
	// P90Delivery is the 90th percentile of the people's time to their
	// first delivery.
	P90Delivery time.Duration `json:"p90_delivery"`
}

// ReachedRate and AckedRate are shares of the people.
func (s Summary) ReachedRate() float64 { return ratio(s.Reached, s.People) }
func (s Summary) AckedRate() float64   { return ratio(s.Acked, s.People) }

// Report is a drill's report.
type Report struct {
	Summary   `json:"summary"`
	Text      string         `json:"text"`
	Author    string         `json:"author"`
	To        []string       `json:"to"`
	People    []Person       `json:"people"`
	Outcomes  map[string]int `json:"outcomes"`
	Providers []Group        `json:"providers"`
	Sites     []Group        `json:"sites"`
	Channels  []Group        `json:"channels"`
	Previous  []Summary      `json:"previous"`
	At        time.Time      `json:"at"`
}

// Build makes the report.
func Build(in Input) Report {
	m := &in.Message
	start := m.AcceptedAt
	rep := Report{
		Summary: Summary{Message: m.ID, At: start},
		Text:    m.Text, Author: m.Author, To: m.To,
		Outcomes: map[string]int{}, Previous: in.Previous, At: in.At,
	}
	acks := map[string]relay.Ack{}
	for _, a := range in.Acks {
		if cur, ok := acks[a.Person]; !ok || a.At.Before(cur.At) {
			acks[a.Person] = a
		}
	}
	byPerson := map[string][]relay.Delivery{}
	for _, d := range in.Deliveries {
		if d.Person != "" {
			byPerson[d.Person] = append(byPerson[d.Person], d)
		}
	}
	site := func(node string) string {
		if s, ok := in.Sites[node]; ok && s != "" {
			return s
		}
		return node
	}
	providers, sites, channels := map[string]*group{}, map[string]*group{}, map[string]*group{}
	var firsts []time.Duration
	for _, rc := range m.Recipients {
		p := Person{ID: rc.Person.ID, Name: rc.Person.Name}
		ds := byPerson[p.ID]
		slices.SortFunc(ds, func(a, b relay.Delivery) int { return cmp.Compare(a.Channel, b.Channel) })
		best := ""
		for _, d := range ds {
			r := row(&d, start, in.At)
			r.Person, r.Name, r.Site = p.ID, p.Name, site(d.Owner)
			if d.Owner == "" {
				r.Site = ""
			}
			p.Rows = append(p.Rows, r)
			for _, g := range []*group{at(providers, cmp.Or(d.Provider, "-")), at(sites, cmp.Or(r.Site, "-")), at(channels, d.Channel)} {
				g.add(r)
			}
			if r.Outcome == OutcomeReached && (p.Channel == "" || r.ToDelivery < p.ToDelivery) {
				p.Channel, p.ToDelivery = r.Channel, r.ToDelivery
			}
			if better(r.Outcome, best) {
				best, p.Reason = r.Outcome, r.Reason
			}
		}
		if best == "" {
			best, p.Reason = OutcomeNoContact, "no contact method"
		}
		if a, ok := acks[p.ID]; ok {
			best, p.Reason = OutcomeAcked, ""
			p.AckChannel, p.ToAck = a.Channel, a.At.Sub(start)
		}
		if best == OutcomeReached || best == OutcomeAcked {
			p.Reason = ""
			rep.Reached++
			if p.Channel != "" {
				firsts = append(firsts, p.ToDelivery)
			}
		}
		if best == OutcomeAcked {
			rep.Acked++
		}
		p.Outcome = best
		rep.Outcomes[best]++
		rep.People = append(rep.People, p)
	}
	for _, id := range m.Unreachable {
		rep.People = append(rep.People, Person{ID: id, Outcome: OutcomeNoContact, Reason: "no contact method"})
		rep.Outcomes[OutcomeNoContact]++
	}
	rep.Summary.People = len(rep.People)
	rep.P90Delivery = percentile(firsts, 0.90)
	// Not reached first, then by id: the people to call now are on top.
	slices.SortStableFunc(rep.People, func(a, b Person) int {
		return cmp.Or(cmp.Compare(rank(a.Outcome), rank(b.Outcome)), cmp.Compare(a.ID, b.ID))
	})
	rep.Providers, rep.Sites, rep.Channels = groups(providers), groups(sites), groups(channels)
	return rep
}

// rank orders outcomes from worst to best.
func rank(o string) int {
	return slices.Index([]string{OutcomeNoContact, OutcomeUnreachable, OutcomeInvalid, OutcomeStopped, OutcomeFailed,
		OutcomeNoReceipt, OutcomePending, OutcomeReached, OutcomeAcked}, o)
}

func better(o, than string) bool { return than == "" || rank(o) > rank(than) }

func row(d *relay.Delivery, start, now time.Time) Row {
	r := Row{Channel: d.Channel, Provider: d.Provider, Node: d.Owner, Status: d.Status, Attempts: d.Attempts}
	if !d.SentAt.IsZero() {
		r.ToSend = d.SentAt.Sub(start)
	}
	switch d.Status {
	case relay.StatusDelivered:
		r.Outcome = OutcomeReached
		r.ToDelivery = d.UpdatedAt.Sub(start)
	case relay.StatusSent:
		if !relay.ReportsReceipts(d.Channel) {
			// A mail accepted by the smarthost is as confirmed as a
			// mail gets.
			r.Outcome, r.ToDelivery = OutcomeReached, d.SentAt.Sub(start)
			break
		}
		// Sent, and no receipt came: the carrier may or may not have
		// handed it over.
		r.Outcome, r.Reason = OutcomeNoReceipt, "no receipt"
		if d.Deadline.After(now) {
			r.Outcome, r.Reason = OutcomePending, "waiting for a receipt"
		}
	case relay.StatusPending, relay.StatusSending:
		r.Outcome, r.Reason = OutcomePending, "not sent yet"
	case relay.StatusSkipped:
		r.Outcome, r.Reason = OutcomeUnreachable, cmp.Or(d.Error, "skipped")
	default:
		switch d.Reason {
		case relay.ReasonRecipient:
			r.Outcome, r.Reason = OutcomeInvalid, cmp.Or(d.Error, "invalid number or address")
		case relay.ReasonUnsubscribe:
			r.Outcome, r.Reason = OutcomeStopped, "STOP: the person opted out"
		default:
			r.Outcome, r.Reason = OutcomeFailed, string(d.Reason)
			if d.Error != "" {
				r.Reason += ": " + d.Error
			}
		}
	}
	return r
}

type group struct {
	Group
	lat []time.Duration
}

func at(m map[string]*group, name string) *group {
	g, ok := m[name]
	if !ok {
		g = &group{Group: Group{Name: name}}
		m[name] = g
	}
	return g
}

func (g *group) add(r Row) {
	g.Deliveries++
	switch r.Outcome {
	case OutcomeReached:
		g.Delivered++
		g.lat = append(g.lat, r.ToDelivery)
	case OutcomeInvalid, OutcomeStopped, OutcomeFailed, OutcomeUnreachable, OutcomeNoReceipt:
		g.Failed++
	}
}

func groups(m map[string]*group) []Group {
	out := make([]Group, 0, len(m))
	for _, g := range m {
		g.P50, g.P90, g.P99 = percentile(g.lat, .5), percentile(g.lat, .9), percentile(g.lat, .99)
		out = append(out, g.Group)
	}
	slices.SortFunc(out, func(a, b Group) int { return cmp.Compare(a.Name, b.Name) })
	return out
}

// percentile is the nearest-rank percentile; zero for no values.
func percentile(ds []time.Duration, p float64) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	i := int(math.Ceil(p*float64(len(s)))) - 1
	return s[min(max(i, 0), len(s)-1)]
}

func ratio(a, b int) float64 {
	if b == 0 {
		return 0
	}
	return float64(a) / float64(b)
}
