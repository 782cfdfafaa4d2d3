package store

import (
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"

	bolt "go.etcd.io/bbolt"

	"github.com/oob-relay/relay/relay"
	"github.com/oob-relay/relay/relay/hlc"
)

// messageRecord is a stored message with the clock and origin of the
// event that accepted it. When two nodes accept the same message id (a
// retried post with one idempotency key), the lowest (clock, origin) wins
// everywhere.
type messageRecord struct {
	relay.Message
	Clock  hlc.Timestamp `json:"clock"`
	Origin string        `json:"origin"`
}

func (r *messageRecord) before(clock hlc.Timestamp, origin string) bool {
	return r.Clock < clock || (r.Clock == clock && r.Origin < origin)
}

// rosterRecord is the stored roster with the clock of its change.
type rosterRecord struct {
	Roster relay.Roster  `json:"roster"`
	By     string        `json:"by"`
	Clock  hlc.Timestamp `json:"clock"`
	Origin string        `json:"origin"`
}

// StatusCounts counts a message's deliveries by status.
type StatusCounts map[relay.Status]int

// folder applies events inside one transaction. It caches the records a
// batch touches, so a fan-out batch decodes and encodes each delivery and
// counter once, and writes them all in flush.
type folder struct {
	tx         *bolt.Tx
	deliveries map[string]*relay.Delivery
	counts     map[string]StatusCounts
	incidents  map[string]*relay.Incident
	marks      map[string]uint64
	hot        *hotSet // may be nil
	// rosterChanged is set when a roster change, or a person's own
	// contact change, won.
	rosterChanged bool
	// owners caches the node each origin belongs to (bucketOrigins).
	owners map[string]string
	// ahead is the furthest clock a node now accepts from elsewhere
	// (Options.MaxDrift past the wall clock); zero means no bound.
	ahead hlc.Timestamp
	// indexed says, for each delivery read from the store, whether the
	// open and awaiting indexes held it then: flush touches an index only
	// when that changes. A delivery created here was in neither.
	indexed map[string]indexes
}

type indexes struct{ open, awaiting bool }

func newFolder(tx *bolt.Tx) *folder {
	return &folder{
		tx:         tx,
		deliveries: make(map[string]*relay.Delivery),
		counts:     make(map[string]StatusCounts),
		incidents:  make(map[string]*relay.Incident),
		marks:      make(map[string]uint64),
		indexed:    make(map[string]indexes),
		owners:     make(map[string]string),
	}
}

// has reports whether the event (origin, seq) is held: at or below the
// origin's mark (whether or not the log still keeps it), or in the log.
func (f *folder) has(origin string, seq uint64) (bool, error) {
	mark, ok := f.marks[origin]
	if !ok {
		mark = getU64(f.tx.Bucket(bucketMarks).Get([]byte(origin)))
	}
	if seq <= mark {
		return true, nil
	}
	lb := f.tx.Bucket(bucketLog).Bucket([]byte(origin))
	return lb != nil && lb.Get(u64(seq)) != nil, nil
}

// originOwner returns the node that wrote under origin, as the first
// event of that origin held here said.
func (f *folder) originOwner(origin string) (string, bool) {
	if n, ok := f.owners[origin]; ok {
		return n, true
	}
	v := f.tx.Bucket(bucketOrigins).Get([]byte(origin))
	if v == nil {
		return "", false
	}
	f.owners[origin] = string(v)
	return string(v), true
}

// add writes e to the log and folds it into state.
func (f *folder) add(e *relay.Event) error {
	if _, ok := f.originOwner(e.Origin); !ok && e.Node != "" {
		// The first event of an origin binds it to its node: every
		// later one must come from the same node.
		if err := f.tx.Bucket(bucketOrigins).Put([]byte(e.Origin), []byte(e.Node)); err != nil {
			return err
		}
		f.owners[e.Origin] = e.Node
	}
	lb, err := f.tx.Bucket(bucketLog).CreateBucketIfNotExists([]byte(e.Origin))
	if err != nil {
		return err
	}
	raw, err := json.Marshal(e)
	if err != nil {
		return err
	}
	if err := lb.Put(u64(e.Seq), raw); err != nil {
		return err
	}
	if err := f.advanceMark(lb, e.Origin, e.Seq); err != nil {
		return err
	}
	return f.fold(e)
}

// fold folds e into state.
func (f *folder) fold(e *relay.Event) error {
	switch {
	case e.Message != nil:
		return f.message(e)
	case e.Deliveries != nil:
		for i := range e.Deliveries {
			if err := f.change(&e.Deliveries[i], e); err != nil {
				return err
			}
		}
		return nil
	case e.Roster != nil:
		return f.roster(e)
	case e.Ack != nil:
		return f.ack(e)
	case e.Consent != nil:
		return f.consent(e)
	case e.Seen != nil:
		return f.seen(e)
	case e.Override != nil:
		return f.override(e)
	case e.RollCall != nil:
		return f.rollCall(e)
	case e.RollCallAnswer != nil:
		return f.rollCallAnswer(e)
	case e.Escalated != nil:
		return f.escalated(e)
	case e.Code != nil:
		return f.code(e)
	case e.Revoke != nil:
		return f.revoke(e)
	case e.Audit != nil:
		return f.audit(e)
	case e.Site != nil:
		return f.site(e)
	case e.WatchReport != nil:
		return f.watchReport(e)
	case e.Beat != nil:
		return f.beat(e)
	case e.WatchVerdict != nil:
		return f.watchVerdict(e)
	case e.Contact != nil:
		return f.contact(e)
	case e.Drill != nil:
		return f.drill(e)
	case e.Canary != nil:
		return f.canary(e)
	}
	return fmt.Errorf("event %s/%d has no payload", e.Origin, e.Seq)
}

// advanceMark moves origin's contiguous high mark past seq and any events
// after it that arrived early.
func (f *folder) advanceMark(lb *bolt.Bucket, origin string, seq uint64) error {
	mark, ok := f.marks[origin]
	if !ok {
		mark = getU64(f.tx.Bucket(bucketMarks).Get([]byte(origin)))
	}
	if seq == mark+1 {
		mark = seq
		for lb.Get(u64(mark+1)) != nil {
			mark++
		}
	}
	f.marks[origin] = mark
	return nil
}

func (f *folder) message(e *relay.Event) error {
	m := e.Message
	if f.pruned(m.ID) {
		return nil
	}
	mb := f.tx.Bucket(bucketMessages)
	tb := f.tx.Bucket(bucketTimeline)
	winner := true
	if raw := mb.Get([]byte(m.ID)); raw != nil {
		// The same message accepted again (a retried post carrying one
		// idempotency key, on two nodes): the earliest acceptance stands.
		var old messageRecord
		if err := decode(raw, &old); err != nil {
			return err
		}
		winner = !old.before(e.Clock, e.Origin)
		if winner {
			if err := tb.Delete(timelineKey(old.Incident, uint64(old.Clock), old.ID)); err != nil {
				return err
			}
		}
	}
	if err := f.noteIncident(m, mb.Get([]byte(m.ID)) == nil); err != nil {
		return err
	}
	if err := f.noteEscalating(m); err != nil {
		return err
	}
	if winner {
		raw, err := json.Marshal(&messageRecord{Message: *m, Clock: e.Clock, Origin: e.Origin})
		if err != nil {
			return err
		}
		if err := mb.Put([]byte(m.ID), raw); err != nil {
			return err
		}
		if err := tb.Put(timelineKey(m.Incident, uint64(e.Clock), m.ID), nil); err != nil {
			return err
		}
	}
	return f.createDeliveries(m, relay.Version{Clock: uint64(e.Clock), Origin: e.Origin})
}

// noteIncident opens the message's incident or updates its times. Every
// acceptance counts for the times (min and max commute); only a new
// message id counts as a message.
func (f *folder) noteIncident(m *relay.Message, newID bool) error {
	inc, err := f.incident(m.Incident)
	if err != nil {
		return err
	}
	if inc == nil {
		inc = &relay.Incident{ID: m.Incident, OpenedAt: m.AcceptedAt, OpenedBy: m.Author, Severity: m.Severity}
		f.incidents[m.Incident] = inc
	}
	if m.AcceptedAt.Before(inc.OpenedAt) || (m.AcceptedAt.Equal(inc.OpenedAt) && m.Author < inc.OpenedBy) {
		inc.OpenedAt, inc.OpenedBy = m.AcceptedAt, m.Author
	}
	if m.AcceptedAt.After(inc.LastMessageAt) {
		inc.LastMessageAt = m.AcceptedAt
	}
	if severityRank(m.Severity) < severityRank(inc.Severity) {
		inc.Severity = m.Severity
	}
	if newID {
		inc.Messages++
	}
	return nil
}

func severityRank(s relay.Severity) int {
	for i, v := range relay.Severities {
		if v == s {
			return i
		}
	}
	return len(relay.Severities)
}

// createDeliveries creates m's deliveries that do not exist yet, and sets
// what only the message knows on each delivery whose fields no earlier
// acceptance (by clock, then origin) has set.
func (f *folder) createDeliveries(m *relay.Message, source relay.Version) error {
	for _, ref := range m.Deliveries() {
		d, err := f.delivery(ref.ID)
		if err != nil {
			return err
		}
		if d == nil {
			d = &relay.Delivery{ID: ref.ID, MessageID: m.ID, Person: ref.Person, Channel: ref.Channel,
				Status: relay.StatusPending}
			f.count(m.ID, "", relay.StatusPending)
		}
		if d.Source != (relay.Version{}) && !source.Less(d.Source) {
			continue
		}
		d.Source = source
		d.Incident, d.Priority, d.Deadline, d.CreatedAt = m.Incident, m.Priority, m.Deadline, m.AcceptedAt
		if d.Version == (relay.Version{}) {
			d.UpdatedAt = m.AcceptedAt
		}
		f.deliveries[d.ID] = d
	}
	return nil
}

func (f *folder) change(c *relay.DeliveryChange, e *relay.Event) error {
	if f.pruned(messageOf(c.ID)) {
		return nil
	}
	d, err := f.delivery(c.ID)
	if err != nil {
		return err
	}
	if d == nil {
		// The change outran its message. Keep it: the delivery is created
		// from its id and completed when the message arrives.
		msg, ch, person, ok := ParseDeliveryID(c.ID)
		if !ok {
			return nil
		}
		d = &relay.Delivery{ID: c.ID, MessageID: msg, Channel: ch, Person: person, Status: relay.StatusPending}
		f.count(msg, "", relay.StatusPending)
	}
	before := d.Status
	if d.Apply(c, uint64(e.Clock), e.Origin) {
		f.count(d.MessageID, before, d.Status)
	}
	f.deliveries[d.ID] = d
	return nil
}

// ParseDeliveryID splits a delivery id into its message, channel and
// person (empty for broadcasts).
func ParseDeliveryID(id string) (msg, channel, person string, ok bool) {
	parts := strings.SplitN(id, ".", 3)
	switch len(parts) {
	case 2:
		return parts[0], parts[1], "", parts[0] != "" && parts[1] != ""
	case 3:
		return parts[0], parts[1], parts[2], parts[0] != "" && parts[1] != "" && parts[2] != ""
	}
	return "", "", "", false
}

func (f *folder) roster(e *relay.Event) error {
	rb := f.tx.Bucket(bucketRoster)
	if raw := rb.Get(keyCurrent); raw != nil {
		var cur rosterRecord
		if err := decode(raw, &cur); err != nil {
			return err
		}
		// A roster whose clock is far ahead of every wall clock (written
		// before such clocks were refused) would win every change to
		// come: any change replaces it.
		poisoned := f.ahead != 0 && cur.Clock > f.ahead
		if !poisoned && (cur.Clock > e.Clock || (cur.Clock == e.Clock && cur.Origin >= e.Origin)) {
			return nil // a later roster is already in place
		}
	}
	raw, err := json.Marshal(&rosterRecord{Roster: e.Roster.Roster, By: e.Roster.By, Clock: e.Clock, Origin: e.Origin})
	if err != nil {
		return err
	}
	f.rosterChanged = true
	return rb.Put(keyCurrent, raw)
}

func (f *folder) delivery(id string) (*relay.Delivery, error) {
	if d, ok := f.deliveries[id]; ok {
		return d, nil
	}
	if f.hot != nil {
		if d, ok := f.hot.get(id); ok {
			f.indexed[id] = indexes{open: true} // the hot set holds only open ones
			return &d, nil
		}
	}
	raw := f.tx.Bucket(bucketDeliv).Get([]byte(id))
	if raw == nil {
		return f.packed(id) // packed deliveries are in no index
	}
	d, err := decodeDelivery(id, raw)
	if err == nil && f.indexed != nil {
		f.indexed[id] = indexes{open: !d.Status.Settled(), awaiting: awaitsReceipt(&d)}
	}
	return &d, err
}

// packed returns delivery id from its message's packed record, or nil.
func (f *folder) packed(id string) (*relay.Delivery, error) {
	msg := messageOf(id)
	raw := f.tx.Bucket(bucketPacked).Get([]byte(msg))
	if raw == nil {
		return nil, nil
	}
	ds, err := decodePacked(msg, raw)
	if err != nil {
		return nil, err
	}
	if d, ok := packedDelivery(ds, id); ok {
		return &d, nil
	}
	return nil, nil
}

// pruned reports whether message msgID was removed by retention: events
// about it that come late are dropped, so it does not come back in part.
func (f *folder) pruned(msgID string) bool {
	return f.tx.Bucket(bucketPruned).Get([]byte(msgID)) != nil
}

func (f *folder) incident(id string) (*relay.Incident, error) {
	if inc, ok := f.incidents[id]; ok {
		return inc, nil
	}
	raw := f.tx.Bucket(bucketIncidents).Get([]byte(id))
	if raw == nil {
		return nil, nil
	}
	inc := new(relay.Incident)
	if err := decode(raw, inc); err != nil {
		return nil, err
	}
	f.incidents[id] = inc
	return inc, nil
}

func (f *folder) count(msgID string, from, to relay.Status) {
	c, ok := f.counts[msgID]
	if !ok {
		c = StatusCounts{}
		if raw := f.tx.Bucket(bucketCounts).Get([]byte(msgID)); raw != nil {
			_ = decode(raw, &c)
		}
		f.counts[msgID] = c
	}
	if from != "" {
		c[from]--
		if c[from] == 0 {
			delete(c, from)
		}
	}
	c[to]++
}

// flush writes every record the batch touched.
func (f *folder) flush() error {
	db, ob, ab := f.tx.Bucket(bucketDeliv), f.tx.Bucket(bucketOpen), f.tx.Bucket(bucketAwaiting)
	// In key order: bbolt inserts sorted keys without shifting its pages.
	buf := make([]byte, 0, 200*len(f.deliveries))
	for _, id := range slices.Sorted(maps.Keys(f.deliveries)) {
		d := f.deliveries[id]
		// bbolt keeps the value's bytes until the commit: each needs its
		// own slice, so buf only grows.
		start := len(buf)
		buf = encodeDelivery(buf, d)
		if err := db.Put([]byte(id), buf[start:len(buf):len(buf)]); err != nil {
			return err
		}
		was, now := f.indexed[id], indexes{open: !d.Status.Settled(), awaiting: awaitsReceipt(d)}
		if now.open != was.open {
			if err := index(ob, id, now.open); err != nil {
				return err
			}
		}
		if now.awaiting != was.awaiting {
			if err := index(ab, id, now.awaiting); err != nil {
				return err
			}
		}
	}
	cb := f.tx.Bucket(bucketCounts)
	for id, c := range f.counts {
		raw, err := json.Marshal(c)
		if err != nil {
			return err
		}
		if err := cb.Put([]byte(id), raw); err != nil {
			return err
		}
	}
	ib := f.tx.Bucket(bucketIncidents)
	for id, inc := range f.incidents {
		raw, err := json.Marshal(inc)
		if err != nil {
			return err
		}
		if err := ib.Put([]byte(id), raw); err != nil {
			return err
		}
	}
	mb := f.tx.Bucket(bucketMarks)
	for origin, mark := range f.marks {
		if err := mb.Put([]byte(origin), u64(mark)); err != nil {
			return err
		}
	}
	return nil
}

// awaitsReceipt reports whether d was sent on a channel whose provider
// reports arrival, and the report has not come yet.
func awaitsReceipt(d *relay.Delivery) bool {
	return d.Status == relay.StatusSent && d.ProviderID != "" && relay.ReportsReceipts(d.Channel)
}

// index puts id in an index bucket, or deletes it from there.
func index(b *bolt.Bucket, id string, in bool) error {
	if in {
		return b.Put([]byte(id), nil)
	}
	return b.Delete([]byte(id))
}

func decode(raw []byte, v any) error {
	if err := json.Unmarshal(raw, v); err != nil {
		return fmt.Errorf("decode stored record: %w", err)
	}
	return nil
}

// ackRecord is a stored acknowledgement with the event that made it.
type ackRecord struct {
	relay.Ack
	Clock  uint64 `json:"clock"`
	Origin string `json:"origin"`
}

// ack keeps the earliest acknowledgement of a message by a person, by
// event clock, so that any arrival order keeps the same one.
func (f *folder) ack(e *relay.Event) error {
	if f.pruned(e.Ack.Message) {
		return nil
	}
	// Any acknowledgement stops the message's escalation.
	if err := f.tx.Bucket(bucketEscalating).Delete([]byte(e.Ack.Message)); err != nil {
		return err
	}
	ab := f.tx.Bucket(bucketAcks)
	key := ackKey(e.Ack.Message, e.Ack.Person)
	if raw := ab.Get(key); raw != nil {
		var cur ackRecord
		if err := decode(raw, &cur); err != nil {
			return err
		}
		if cur.Clock < uint64(e.Clock) || (cur.Clock == uint64(e.Clock) && cur.Origin <= e.Origin) {
			return nil
		}
	}
	raw, err := json.Marshal(&ackRecord{Ack: *e.Ack, Clock: uint64(e.Clock), Origin: e.Origin})
	if err != nil {
		return err
	}
	return ab.Put(key, raw)
}

// consentRecord is a stored consent change with the event that made it.
type consentRecord struct {
	relay.Consent
	Clock  uint64 `json:"clock"`
	Origin string `json:"origin"`
}

// consent keeps the latest consent change of a person on a channel, by
// event clock.
func (f *folder) consent(e *relay.Event) error {
	b := f.tx.Bucket(bucketConsent)
	key := ackKey(e.Consent.Person, e.Consent.Channel)
	if raw := b.Get(key); raw != nil {
		var cur consentRecord
		if err := decode(raw, &cur); err != nil {
			return err
		}
		if cur.Clock > uint64(e.Clock) || (cur.Clock == uint64(e.Clock) && cur.Origin >= e.Origin) {
			return nil
		}
	}
	raw, err := json.Marshal(&consentRecord{Consent: *e.Consent, Clock: uint64(e.Clock), Origin: e.Origin})
	if err != nil {
		return err
	}
	return b.Put(key, raw)
}
