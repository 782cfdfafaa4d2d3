package nats

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3"

	"github.com/oob-relay/relay/relay"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

// koreanText is the text of the Korean fixture; tests check it arrives
// byte for byte.
const koreanText = "[긴급] 판교 데이터센터 화재로 메신저 장애 중입니다.\n안전하면 1을 회신해 주세요."

// koreanOutgoing is a broadcast delivery of a Korean critical message.
func koreanOutgoing() *relay.Outgoing {
	kst := time.FixedZone("KST", 9*60*60)
	m := &relay.Message{
		ID:       "01JC3Z7M8Q4X2V5T9R6N1B0K7D",
		Incident: "pangyo-fire",
		Text:     koreanText,
		Severity: relay.SeverityCritical,
		Author:   "oncall-bot",
		To:       []string{"group:infra", "person:lee"},
		Recipients: []relay.Recipient{
			{Person: relay.Person{ID: "kim", Name: "김민준", Phone: "+821012345678"}, Channels: []string{"sms", "email"}},
			{Person: relay.Person{ID: "lee", Name: "이서연", Email: "lee@example.com", Lang: "en"}, Channels: []string{"email"}},
			{Person: relay.Person{ID: "park", Phone: "+821098765432"}, Channels: []string{"sms", "voice"}},
		},
		Broadcasts:  []string{relay.ChannelNATS},
		Unreachable: []string{"choi"},
		AcceptedAt:  time.Date(2022, 10, 15, 15, 33, 12, 345678000, kst),
		AcceptedBy:  "relay-seoul-1",
		Deadline:    time.Date(2022, 10, 15, 16, 3, 12, 0, kst),
	}
	return &relay.Outgoing{
		DeliveryID: relay.DeliveryID(m.ID, relay.ChannelNATS, ""),
		Channel:    relay.ChannelNATS,
		Attempt:    1,
		Message:    m,
	}
}

// minimalOutgoing has no recipients, no deadline, and text that JSON
// encoders like to escape.
func minimalOutgoing() *relay.Outgoing {
	m := &relay.Message{
		ID:         "msg-2",
		Incident:   "db",
		Text:       `Failover <b>done</b> & "verified" \ ok 🚒 탭	end`,
		Severity:   relay.SeverityInfo,
		Author:     "kim",
		To:         []string{"everyone"},
		AcceptedAt: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC),
		AcceptedBy: "relay-tokyo-2",
	}
	return &relay.Outgoing{DeliveryID: "msg-2.nats", Channel: relay.ChannelNATS, Attempt: 3, Message: m}
}

func TestRenderGolden(t *testing.T) {
	for _, tc := range []struct {
		name string
		out  *relay.Outgoing
	}{
		{"korean-critical", koreanOutgoing()},
		{"minimal", minimalOutgoing()},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Render(tc.out)
			if err != nil {
				t.Fatal(err)
			}
			golden := filepath.Join("testdata", tc.name+".json")
			if *update {
				if err := os.WriteFile(golden, got, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run go test -update to create it)", err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("Render differs from %s (run go test -update after checking):\ngot:  %s\nwant: %s", golden, got, want)
			}
			var back Event
			if err := json.Unmarshal(got, &back); err != nil {
				t.Fatalf("payload is not JSON: %v", err)
			}
			if back.Text != tc.out.Message.Text {
				t.Errorf("text did not survive: got %q, want %q", back.Text, tc.out.Message.Text)
			}
			validateSchema(t, got)
		})
	}
}

func TestRenderKoreanIntact(t *testing.T) {
	got, err := Render(koreanOutgoing())
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(got, []byte(`판교 데이터센터 화재로`)) || !bytes.Contains(got, []byte(`"name":"김민준"`)) {
		t.Errorf("Korean text is not raw UTF-8 in the payload: %s", got)
	}
	if bytes.Contains(got, []byte(`\u`)) {
		t.Errorf("payload escapes characters: %s", got)
	}
	if bytes.Contains(got, []byte("+8210")) || bytes.Contains(got, []byte("@example.com")) {
		t.Errorf("payload carries contact details: %s", got)
	}
}

func TestRenderIsDeterministic(t *testing.T) {
	a, err := Render(koreanOutgoing())
	if err != nil {
		t.Fatal(err)
	}
	out := koreanOutgoing()
	out.Attempt = 7
	out.Message.AcceptedAt = out.Message.AcceptedAt.In(time.UTC)
	b, err := Render(out)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(a, b) {
		t.Errorf("attempt or time zone changed the payload:\n%s\n%s", a, b)
	}
}

func TestEventLangDefault(t *testing.T) {
	ev, err := NewEvent(koreanOutgoing())
	if err != nil {
		t.Fatal(err)
	}
	got := []string{ev.Recipients[0].Lang, ev.Recipients[1].Lang, ev.Recipients[2].Lang}
	if strings.Join(got, ",") != "ko,en,ko" {
		t.Errorf("langs = %v, want [ko en ko]", got)
	}
}

func TestHeaderAndSubject(t *testing.T) {
	msg, err := NewMsg("relay.prod", koreanOutgoing())
	if err != nil {
		t.Fatal(err)
	}
	if want := "relay.prod.incident.pangyo-fire.message"; msg.Subject != want {
		t.Errorf("subject = %q, want %q", msg.Subject, want)
	}
	want := map[string]string{
		"Relay-Schema":      "relay.message.v1",
		"Relay-Message-Id":  "01JC3Z7M8Q4X2V5T9R6N1B0K7D",
		"Relay-Delivery-Id": "01JC3Z7M8Q4X2V5T9R6N1B0K7D.nats",
		"Nats-Msg-Id":       "01JC3Z7M8Q4X2V5T9R6N1B0K7D.nats",
	}
	for k, v := range want {
		if got := msg.Header.Get(k); got != v {
			t.Errorf("header %s = %q, want %q", k, got, v)
		}
	}
	if len(msg.Header) != len(want) {
		t.Errorf("headers = %v, want exactly %v", msg.Header, want)
	}
}

func TestRenderRejects(t *testing.T) {
	for _, tc := range []struct {
		name   string
		mutate func(*relay.Outgoing)
		want   string
	}{
		{"no message", func(o *relay.Outgoing) { o.Message = nil }, "delivery has no message"},
		{"no delivery id", func(o *relay.Outgoing) { o.DeliveryID = "" }, "delivery has no id"},
		{"personal", func(o *relay.Outgoing) { o.Person = &relay.Person{ID: "kim"} }, `names person "kim"`},
		{"wildcard incident", func(o *relay.Outgoing) { o.Message.Incident = "a.>" }, `incident: "a.>" must be`},
		{"empty incident", func(o *relay.Outgoing) { o.Message.Incident = "" }, `incident: "" must be`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out := koreanOutgoing()
			tc.mutate(out)
			_, err := Render(out)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Render error = %v, want one containing %q", err, tc.want)
			}
		})
	}
}

// TestSchemaRejectsDrift proves the schema check below can fail: payloads
// that break the documented shape are refused.
func TestSchemaRejectsDrift(t *testing.T) {
	good, err := Render(koreanOutgoing())
	if err != nil {
		t.Fatal(err)
	}
	for name, mutate := range map[string]func(map[string]any){
		"unknown field":        func(v map[string]any) { v["phone"] = "+821012345678" },
		"missing incident":     func(v map[string]any) { delete(v, "incident") },
		"bad severity":         func(v map[string]any) { v["severity"] = "urgent" },
		"other schema":         func(v map[string]any) { v["schema"] = "relay.message.v2" },
		"recipient without id": func(v map[string]any) { delete(v["recipients"].([]any)[0].(map[string]any), "id") },
		"personal channel nats": func(v map[string]any) {
			v["recipients"].([]any)[0].(map[string]any)["channels"] = []any{"nats"}
		},
	} {
		t.Run(name, func(t *testing.T) {
			var v map[string]any
			if err := json.Unmarshal(good, &v); err != nil {
				t.Fatal(err)
			}
			mutate(v)
			if err := loadSchema(t).VisitJSON(v, openapi3.EnableJSONSchema2020()); err == nil {
				t.Errorf("schema accepted a payload with %s", name)
			}
		})
	}
}

func loadSchema(t *testing.T) *openapi3.Schema {
	t.Helper()
	data, err := os.ReadFile("message.v1.schema.json")
	if err != nil {
		t.Fatal(err)
	}
	var s openapi3.Schema
	if err := json.Unmarshal(data, &s); err != nil {
		t.Fatalf("message.v1.schema.json: %v", err)
	}
	return &s
}

// validateSchema checks a rendered payload against message.v1.schema.json.
func validateSchema(t *testing.T, payload []byte) {
	t.Helper()
	var v any
	if err := json.Unmarshal(payload, &v); err != nil {
		t.Fatal(err)
	}
	if err := loadSchema(t).VisitJSON(v, openapi3.EnableJSONSchema2020()); err != nil {
		t.Errorf("payload does not match message.v1.schema.json: %v\n%s", err, payload)
	}
}
