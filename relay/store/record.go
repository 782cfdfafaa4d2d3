package store

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/oob-relay/relay/relay"
)

// Delivery records are the most written records of a fan-out: each
// delivery is written when its message is accepted, when it is claimed,
// when its attempt ends and when its receipt comes. They are kept in a
// compact binary form, about a third of their JSON, cheap to encode and
// decode. The id is the record's key, so the message, channel and person
// it names are not stored again.
//
// The form is a version byte (deliveryV1) and then the fields in a fixed
// order: strings as a uvarint length and bytes, numbers as uvarints,
// times as zigzag varint Unix nanoseconds (0 for the zero time), clocks as
// uvarints. Records written as JSON by earlier releases (starting with
// '{') are still read.
const deliveryV1 = 1

// encodeDelivery appends d's record to b.
func encodeDelivery(b []byte, d *relay.Delivery) []byte {
	b = append(b, deliveryV1)
	b = appendString(b, d.Incident)
	b = binary.AppendUvarint(b, uint64(max(d.Priority, 0)))
	b = appendString(b, string(d.Status))
	b = binary.AppendUvarint(b, uint64(max(d.Attempts, 0)))
	b = binary.AppendUvarint(b, uint64(max(d.Round, 0)))
	b = appendString(b, d.Provider)
	b = appendString(b, d.ProviderID)
	b = binary.AppendUvarint(b, uint64(max(d.Segments, 0)))
	b = binary.AppendUvarint(b, uint64(max(d.ProviderSegments, 0)))
	b = appendString(b, d.Error)
	b = appendString(b, string(d.Reason))
	b = appendString(b, d.Code)
	b = appendString(b, d.Owner)
	for _, t := range []time.Time{d.CreatedAt, d.UpdatedAt, d.NextAttemptAt, d.StartedAt, d.SentAt, d.Deadline} {
		b = appendTime(b, t)
	}
	b = appendVersion(b, d.Version)
	return appendVersion(b, d.Source)
}

// decodeDelivery reads the record of delivery id.
func decodeDelivery(id string, raw []byte) (relay.Delivery, error) {
	var d relay.Delivery
	if len(raw) > 0 && raw[0] == '{' {
		return d, decode(raw, &d)
	}
	if len(raw) == 0 || raw[0] != deliveryV1 {
		return d, fmt.Errorf("decode delivery %s: unknown record format", id)
	}
	r := reader{b: raw[1:]}
	d.ID = id
	d.MessageID, d.Channel, d.Person, _ = ParseDeliveryID(id)
	d.Incident = r.string()
	d.Priority = relay.Priority(r.int())
	d.Status = relay.Status(r.string())
	d.Attempts = r.int()
	d.Round = r.int()
	d.Provider = r.string()
	d.ProviderID = r.string()
	d.Segments = r.int()
	d.ProviderSegments = r.int()
	d.Error = r.string()
	d.Reason = relay.Reason(r.string())
	d.Code = r.string()
	d.Owner = r.string()
	for _, t := range []*time.Time{&d.CreatedAt, &d.UpdatedAt, &d.NextAttemptAt, &d.StartedAt, &d.SentAt, &d.Deadline} {
		*t = r.time()
	}
	d.Version = r.version()
	d.Source = r.version()
	if r.err != nil {
		return relay.Delivery{}, fmt.Errorf("decode delivery %s: %w", id, r.err)
	}
	if len(r.b) != 0 {
		return relay.Delivery{}, fmt.Errorf("decode delivery %s: %d bytes left over", id, len(r.b))
	}
	return d, nil
}

func appendString(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

func appendTime(b []byte, t time.Time) []byte {
	if t.IsZero() {
		return binary.AppendVarint(b, 0)
	}
	return binary.AppendVarint(b, t.UnixNano())
}

func appendVersion(b []byte, v relay.Version) []byte {
	for _, n := range []int{v.Round, v.Class, v.Attempt, v.Phase} {
		b = binary.AppendUvarint(b, uint64(max(n, 0)))
	}
	b = binary.AppendUvarint(b, v.Clock)
	return appendString(b, v.Origin)
}

// reader reads a record; the first problem sticks in err.
type reader struct {
	b   []byte
	err error
}

var errShort = errors.New("record ends early")

func (r *reader) uvarint() uint64 {
	if r.err != nil {
		return 0
	}
	v, n := binary.Uvarint(r.b)
	if n <= 0 {
		r.err = errShort
		return 0
	}
	r.b = r.b[n:]
	return v
}

// int reads a count: attempts, rounds, segments and the like.
func (r *reader) int() int {
	v := r.uvarint()
	if v > math.MaxInt32 {
		if r.err == nil {
			r.err = fmt.Errorf("count %d out of range", v)
		}
		return 0
	}
	return int(v)
}

func (r *reader) string() string {
	n := r.uvarint()
	if r.err != nil {
		return ""
	}
	if n > uint64(len(r.b)) {
		r.err = errShort
		return ""
	}
	s := string(r.b[:n])
	r.b = r.b[n:]
	return s
}

// bytes reads a string without copying it: valid while the record is.
func (r *reader) bytes() []byte {
	n := r.uvarint()
	if r.err != nil {
		return nil
	}
	if n > uint64(len(r.b)) {
		r.err = errShort
		return nil
	}
	b := r.b[:n]
	r.b = r.b[n:]
	return b
}

// skip reads past a string.
func (r *reader) skip() { r.bytes() }

func (r *reader) time() time.Time {
	if r.err != nil {
		return time.Time{}
	}
	v, n := binary.Varint(r.b)
	if n <= 0 {
		r.err = errShort
		return time.Time{}
	}
	r.b = r.b[n:]
	if v == 0 {
		return time.Time{}
	}
	return time.Unix(0, v).UTC()
}

func (r *reader) version() relay.Version {
	var v relay.Version
	for _, p := range []*int{&v.Round, &v.Class, &v.Attempt, &v.Phase} {
		*p = r.int()
	}
	v.Clock = r.uvarint()
	v.Origin = r.string()
	return v
}
