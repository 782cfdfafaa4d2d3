package store

import (
	"encoding/json"
	"reflect"
	"testing"
	"time"

	"pgregory.net/rapid"

	"github.com/oob-relay/relay/relay"
)

func genTime(t *rapid.T, label string) time.Time {
	if rapid.Bool().Draw(t, label+"-zero") {
		return time.Time{}
	}
	return time.Unix(0, rapid.Int64Range(1, 1<<62).Draw(t, label)).UTC()
}

func genVersion(t *rapid.T, label string) relay.Version {
	return relay.Version{
		Round: rapid.IntRange(0, 50).Draw(t, label+"-round"), Class: rapid.IntRange(0, 2).Draw(t, label+"-class"),
		Attempt: rapid.IntRange(0, 1000).Draw(t, label+"-attempt"), Phase: rapid.IntRange(0, 4).Draw(t, label+"-phase"),
		Clock: rapid.Uint64().Draw(t, label+"-clock"), Origin: rapid.String().Draw(t, label+"-origin"),
	}
}

// TestDeliveryRecordRoundTrip: every delivery comes back from its record
// as it went in.
func TestDeliveryRecordRoundTrip(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		msg := rapid.StringMatching(`[A-Z0-9]{1,26}`).Draw(t, "msg")
		ch := rapid.SampledFrom(relay.Channels).Draw(t, "channel")
		person := ""
		if ch != relay.ChannelNATS {
			person = rapid.StringMatching(`[a-z0-9-]{1,20}`).Draw(t, "person")
		}
		d := relay.Delivery{
			ID: relay.DeliveryID(msg, ch, person), MessageID: msg, Channel: ch, Person: person,
			Incident: rapid.String().Draw(t, "incident"), Priority: relay.Priority(rapid.IntRange(0, 1).Draw(t, "priority")),
			Status: rapid.SampledFrom(relay.Statuses).Draw(t, "status"), Attempts: rapid.IntRange(0, 1000).Draw(t, "attempts"),
			Round: rapid.IntRange(0, 20).Draw(t, "round"), Provider: rapid.String().Draw(t, "provider"),
			ProviderID: rapid.String().Draw(t, "provider-id"), Segments: rapid.IntRange(0, 10).Draw(t, "segments"),
			ProviderSegments: rapid.IntRange(0, 10).Draw(t, "provider-segments"), Error: rapid.String().Draw(t, "error"),
			Reason: relay.Reason(rapid.String().Draw(t, "reason")), Code: rapid.String().Draw(t, "code"),
			Owner: rapid.String().Draw(t, "owner"), CreatedAt: genTime(t, "created"), UpdatedAt: genTime(t, "updated"),
			NextAttemptAt: genTime(t, "next"), StartedAt: genTime(t, "started"), SentAt: genTime(t, "sent"),
			Deadline: genTime(t, "deadline"), Version: genVersion(t, "version"), Source: genVersion(t, "source"),
		}
		got, err := decodeDelivery(d.ID, encodeDelivery(nil, &d))
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, d) {
			t.Fatalf("round trip changed the delivery:\n got %+v\nwant %+v", got, d)
		}
	})
}

// TestDeliveryRecordReadsJSON: records written as JSON by earlier
// releases are still read.
func TestDeliveryRecordReadsJSON(t *testing.T) {
	d := relay.Delivery{ID: "M1.sms.kim", MessageID: "M1", Channel: "sms", Person: "kim", Incident: "fire",
		Status: relay.StatusSent, Attempts: 2, Provider: "tw", ProviderID: "SM1", Segments: 1,
		CreatedAt: time.Date(2026, 11, 24, 9, 0, 0, 0, time.UTC), Version: relay.Version{Class: 1, Attempt: 2, Phase: 3, Clock: 7, Origin: "o"}}
	raw, err := json.Marshal(&d)
	if err != nil {
		t.Fatal(err)
	}
	got, err := decodeDelivery(d.ID, raw)
	if err != nil || !reflect.DeepEqual(got, d) {
		t.Fatalf("JSON record read as %+v, %v; want %+v", got, err, d)
	}
}

// TestDeliveryRecordRefusesDamage: a truncated or unknown record is an
// error that names the delivery, never a panic or a half-read delivery.
func TestDeliveryRecordRefusesDamage(t *testing.T) {
	d := relay.Delivery{ID: "M1.sms.kim", Incident: "fire", Status: relay.StatusSent, Owner: "seoul"}
	raw := encodeDelivery(nil, &d)
	for i := range len(raw) {
		if _, err := decodeDelivery(d.ID, raw[:i]); err == nil {
			t.Fatalf("a record cut to %d of %d bytes decoded", i, len(raw))
		}
	}
	if _, err := decodeDelivery(d.ID, append([]byte{9}, raw[1:]...)); err == nil {
		t.Fatal("a record of an unknown format decoded")
	}
	if _, err := decodeDelivery(d.ID, append(raw, 0)); err == nil {
		t.Fatal("a record with bytes left over decoded")
	}
}

func FuzzDecodeDelivery(f *testing.F) {
	f.Add(encodeDelivery(nil, &relay.Delivery{ID: "M1.sms.kim", Status: relay.StatusSent}))
	f.Add([]byte(`{"id":"M1.sms.kim","status":"sent"}`))
	f.Fuzz(func(t *testing.T, raw []byte) {
		d, err := decodeDelivery("M1.sms.kim", raw)
		if err != nil || raw[0] != deliveryV1 {
			return
		}
		again, err := decodeDelivery("M1.sms.kim", encodeDelivery(nil, &d))
		if err != nil || !reflect.DeepEqual(again, d) {
			t.Fatalf("re-encoding a decoded record changed it: %+v, %v", again, err)
		}
	})
}
