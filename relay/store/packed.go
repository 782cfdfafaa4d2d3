package store

import (
	"encoding/binary"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/oob-relay/relay/relay"
)

// A settled message's deliveries are folded into one packed record, keyed
// by the message id, once nothing more can happen to them but a late
// receipt (see Store.Pack). Deliveries of one message repeat much:
// the incident, priority, deadline and creation time are the message's,
// and the statuses, providers, owners, origins, errors and reasons come
// from a handful of values. A packed record says each of those once, in a
// string table, and each delivery as indexes into it and small numbers:
// about 100 bytes a delivery instead of about 200 for its own record.
//
// The form is a version byte (packedV1); the string table (a uvarint count
// and the strings); the message's incident (a table index), priority,
// deadline and creation time; then a uvarint count of deliveries, each as
// its id's part after the message id (a table index for the channel and
// the person's id as a string), then its status, attempts, round,
// provider, provider id, segments, provider segments, error, reason, code
// and owner, its updated, next attempt, started and sent times (each a
// flag byte, 0 for none, or 1 and a zigzag varint of nanoseconds after the
// creation time), and its Version and Source with the origin as a table
// index.
//
// A change to a packed delivery (a late receipt) writes the delivery's own
// record again, which then takes precedence over its packed form.
const packedV1 = 1

// packer builds a packed record's string table.
type packer struct {
	table []string
	index map[string]uint64
}

func (p *packer) ref(s string) uint64 {
	if i, ok := p.index[s]; ok {
		return i
	}
	i := uint64(len(p.table))
	p.table = append(p.table, s)
	p.index[s] = i
	return i
}

// encodePacked packs the deliveries of message msgID, which all share the
// message's incident, priority, deadline and creation time.
func encodePacked(msgID string, ds []relay.Delivery) ([]byte, error) {
	if len(ds) == 0 {
		return nil, fmt.Errorf("pack %s: no deliveries", msgID)
	}
	p := &packer{index: map[string]uint64{}}
	first := &ds[0]
	var body []byte
	body = binary.AppendUvarint(body, p.ref(first.Incident))
	body = binary.AppendUvarint(body, uint64(max(first.Priority, 0)))
	body = appendTime(body, first.Deadline)
	body = appendTime(body, first.CreatedAt)
	body = binary.AppendUvarint(body, uint64(len(ds)))
	base := first.CreatedAt
	for i := range ds {
		d := &ds[i]
		if d.Incident != first.Incident || d.Priority != first.Priority || !d.Deadline.Equal(first.Deadline) ||
			!d.CreatedAt.Equal(first.CreatedAt) {
			return nil, fmt.Errorf("pack %s: delivery %s differs from the message", msgID, d.ID)
		}
		msg, ch, person, ok := ParseDeliveryID(d.ID)
		if !ok || msg != msgID {
			return nil, fmt.Errorf("pack %s: delivery %s is not the message's", msgID, d.ID)
		}
		body = binary.AppendUvarint(body, p.ref(ch))
		body = appendString(body, person)
		body = binary.AppendUvarint(body, p.ref(string(d.Status)))
		body = binary.AppendUvarint(body, uint64(max(d.Attempts, 0)))
		body = binary.AppendUvarint(body, uint64(max(d.Round, 0)))
		body = binary.AppendUvarint(body, p.ref(d.Provider))
		body = appendString(body, d.ProviderID)
		body = binary.AppendUvarint(body, uint64(max(d.Segments, 0)))
		body = binary.AppendUvarint(body, uint64(max(d.ProviderSegments, 0)))
		for _, s := range []string{d.Error, string(d.Reason), d.Code, d.Owner} {
			body = binary.AppendUvarint(body, p.ref(s))
		}
		for _, t := range []time.Time{d.UpdatedAt, d.NextAttemptAt, d.StartedAt, d.SentAt} {
			body = appendDelta(body, t, base)
		}
		for _, v := range []relay.Version{d.Version, d.Source} {
			for _, n := range []int{v.Round, v.Class, v.Attempt, v.Phase} {
				body = binary.AppendUvarint(body, uint64(max(n, 0)))
			}
			body = binary.AppendUvarint(body, v.Clock)
			body = binary.AppendUvarint(body, p.ref(v.Origin))
		}
	}
	out := []byte{packedV1}
	out = binary.AppendUvarint(out, uint64(len(p.table)))
	for _, s := range p.table {
		out = appendString(out, s)
	}
	return append(out, body...), nil
}

// appendDelta appends t as nanoseconds after base, with a leading flag:
// 0 for the zero time, 1 for a delta.
func appendDelta(b []byte, t, base time.Time) []byte {
	if t.IsZero() {
		return append(b, 0)
	}
	b = append(b, 1)
	return binary.AppendVarint(b, t.Sub(base).Nanoseconds())
}

// decodePacked unpacks the deliveries of message msgID, in the order
// they were packed.
func decodePacked(msgID string, raw []byte) ([]relay.Delivery, error) {
	if len(raw) == 0 || raw[0] != packedV1 {
		return nil, fmt.Errorf("decode packed deliveries of %s: unknown record format", msgID)
	}
	r := reader{b: raw[1:]}
	n := r.int()
	if r.err == nil && n > len(r.b) {
		r.err = errShort
	}
	table := make([]string, 0, max(n, 0))
	for range n {
		if r.err != nil {
			break
		}
		table = append(table, r.string())
	}
	ref := func() string {
		i := r.uvarint()
		if r.err != nil {
			return ""
		}
		if i >= uint64(len(table)) {
			r.err = fmt.Errorf("string %d of a table of %d", i, len(table))
			return ""
		}
		return table[i]
	}
	incident := ref()
	priority := relay.Priority(r.int())
	deadline, created := r.time(), r.time()
	count := r.int()
	if r.err == nil && count > len(r.b) {
		r.err = errShort
	}
	var out []relay.Delivery
	for range count {
		if r.err != nil {
			break
		}
		d := relay.Delivery{MessageID: msgID, Incident: incident, Priority: priority, Deadline: deadline, CreatedAt: created}
		d.Channel = ref()
		d.Person = r.string()
		d.ID = relay.DeliveryID(msgID, d.Channel, d.Person)
		d.Status = relay.Status(ref())
		d.Attempts, d.Round = r.int(), r.int()
		d.Provider = ref()
		d.ProviderID = r.string()
		d.Segments, d.ProviderSegments = r.int(), r.int()
		d.Error = ref()
		d.Reason = relay.Reason(ref())
		d.Code, d.Owner = ref(), ref()
		for _, t := range []*time.Time{&d.UpdatedAt, &d.NextAttemptAt, &d.StartedAt, &d.SentAt} {
			*t = r.delta(created)
		}
		for _, v := range []*relay.Version{&d.Version, &d.Source} {
			for _, p := range []*int{&v.Round, &v.Class, &v.Attempt, &v.Phase} {
				*p = r.int()
			}
			v.Clock = r.uvarint()
			v.Origin = ref()
		}
		out = append(out, d)
	}
	if r.err != nil {
		return nil, fmt.Errorf("decode packed deliveries of %s: %w", msgID, r.err)
	}
	if len(r.b) != 0 {
		return nil, fmt.Errorf("decode packed deliveries of %s: %d bytes left over", msgID, len(r.b))
	}
	return out, nil
}

// delta reads a time written by appendDelta.
func (r *reader) delta(base time.Time) time.Time {
	if r.err != nil {
		return time.Time{}
	}
	if len(r.b) == 0 {
		r.err = errShort
		return time.Time{}
	}
	flag := r.b[0]
	r.b = r.b[1:]
	switch flag {
	case 0:
		return time.Time{}
	case 1:
	default:
		r.err = fmt.Errorf("time flag %d", flag)
		return time.Time{}
	}
	v, n := binary.Varint(r.b)
	if n <= 0 {
		r.err = errShort
		return time.Time{}
	}
	r.b = r.b[n:]
	return base.Add(time.Duration(v)).UTC()
}

// packedDelivery finds delivery id among a message's packed deliveries.
func packedDelivery(ds []relay.Delivery, id string) (relay.Delivery, bool) {
	i := slices.IndexFunc(ds, func(d relay.Delivery) bool { return d.ID == id })
	if i < 0 {
		return relay.Delivery{}, false
	}
	return ds[i], true
}

// messageOf returns the message id of delivery id.
func messageOf(id string) string {
	msg, _, _ := strings.Cut(id, ".")
	return msg
}
