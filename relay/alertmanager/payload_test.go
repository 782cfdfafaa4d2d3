package alertmanager_test

import (
	"bytes"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/oob-relay/relay/relay"
	"github.com/oob-relay/relay/relay/alertmanager"
)

func TestDecodeFixtures(t *testing.T) {
	n, err := alertmanager.Decode(bytes.NewReader(fixture(t, "firing")), 0)
	if err != nil {
		t.Fatal(err)
	}
	if n.Receiver != "relay" || n.Status != alertmanager.StatusFiring || n.Version != "4" ||
		n.GroupKey != `{}/{severity="critical"}:{alertname="ProbeFailure"}` || n.ExternalURL != "http://alertmanager.example.co.kr:9093" {
		t.Errorf("notification fields: %+v", n)
	}
	if len(n.Alerts) != 1 {
		t.Fatalf("%d alerts, want 1", len(n.Alerts))
	}
	a := n.Alerts[0]
	if want := time.Date(2026, 11, 3, 5, 2, 45, 828e6, time.UTC); !a.StartsAt.Equal(want) {
		t.Errorf("startsAt %v, want %v", a.StartsAt, want)
	}
	if !a.EndsAt.IsZero() || !a.Firing() {
		t.Errorf("a firing alert: endsAt %v, firing %v", a.EndsAt, a.Firing())
	}
	if got := a.Annotations["summary"]; got != "블랙박스 점검 실패: https://status.example.co.kr" {
		t.Errorf("Korean annotation changed in decoding: %q", got)
	}
	if a.GeneratorURL != "http://prometheus.example.co.kr:9090/graph?g0.expr=probe_success+%3D%3D+0&g0.tab=1" {
		t.Errorf("generatorURL %q", a.GeneratorURL)
	}
	if a.Fingerprint != "1a30ba71cca2921f" || n.GroupLabels["alertname"] != "ProbeFailure" || n.CommonLabels["severity"] != "critical" {
		t.Errorf("labels or fingerprint: %+v", a)
	}

	tr, err := alertmanager.Decode(bytes.NewReader(fixture(t, "truncated")), 0)
	if err != nil {
		t.Fatal(err)
	}
	if tr.TruncatedAlerts != 5 || len(tr.Alerts) != 2 {
		t.Errorf("truncated: %d alerts, %d truncated", len(tr.Alerts), tr.TruncatedAlerts)
	}
	res, err := alertmanager.Decode(bytes.NewReader(fixture(t, "resolved")), 0)
	if err != nil {
		t.Fatal(err)
	}
	if res.Alerts[0].Firing() || res.Alerts[0].EndsAt.IsZero() {
		t.Errorf("resolved alert: %+v", res.Alerts[0])
	}
}

// A field Alertmanager adds to version 4 later must not make relay refuse
// its notifications.
func TestDecodeIgnoresNewFields(t *testing.T) {
	body := strings.Replace(string(fixture(t, "firing")), `"version": "4",`, `"version": "4", "newField": {"x": [1]},`, 1)
	body = strings.Replace(body, `"fingerprint": "1a30ba71cca2921f"`, `"fingerprint": "1a30ba71cca2921f", "silenceURL": "http://x"`, 1)
	if _, err := alertmanager.Decode(strings.NewReader(body), 0); err != nil {
		t.Fatal(err)
	}
}

// valid is a minimal notification; cases replace one part of it.
const valid = `{"version":"4","groupKey":"{}:{alertname=\"A\"}","status":"firing","receiver":"relay",` +
	`"alerts":[{"status":"firing","labels":{"alertname":"A"},"startsAt":"2026-11-03T05:00:00Z","endsAt":"0001-01-01T00:00:00Z"}]}`

func TestDecodeRefuses(t *testing.T) {
	alert := func(s string) string {
		return `{"version":"4","groupKey":"k","status":"firing","alerts":[` + s + `]}`
	}
	cases := []struct {
		name, body string
		want       string // the whole error text
		fields     []string
	}{
		{"empty", "", "payload is empty; send a JSON object", nil},
		{"not JSON", "version=4", "malformed JSON at byte 1: invalid character 'v' looking for beginning of value", nil},
		{"array", "[]", "payload must be a JSON object, not an array", nil},
		{"cut", `{"version":"4"`, "payload ends in the middle of the JSON object", nil},
		{"trailing", valid + " {}", "payload: unexpected data after the JSON object", nil},
		{"version missing", strings.Replace(valid, `"version":"4",`, "", 1),
			`version: is required and must be "4"`, []string{"version"}},
		{"version 3", strings.Replace(valid, `"version":"4"`, `"version":"3"`, 1),
			`version: is "3"; only payload version "4" is understood`, []string{"version"}},
		{"version number", strings.Replace(valid, `"version":"4"`, `"version":4`, 1),
			"version: must be a string, not number", []string{"version"}},
		{"groupKey missing", strings.Replace(valid, `"groupKey":"{}:{alertname=\"A\"}",`, "", 1),
			"groupKey: is required", []string{"groupKey"}},
		{"status", strings.Replace(valid, `"status":"firing","receiver"`, `"status":"fire","receiver"`, 1),
			`status: is "fire"; it must be firing or resolved`, []string{"status"}},
		{"no alerts", `{"version":"4","groupKey":"k","status":"firing","alerts":[]}`,
			"alerts: is required and must list at least one alert", []string{"alerts"}},
		{"alerts object", `{"version":"4","groupKey":"k","status":"firing","alerts":{}}`,
			"alerts: must be an array of objects, not object", []string{"alerts"}},
		{"alert null", alert(`null`), "alerts[0]: must be an object, not null", []string{"alerts[0]"}},
		{"alert status", alert(`{"status":"ok","startsAt":"2026-11-03T05:00:00Z"}`),
			`alerts[0].status: is "ok"; it must be firing or resolved`, []string{"alerts[0].status"}},
		{"startsAt missing", alert(`{"status":"firing"}`), "alerts[0].startsAt: is required", []string{"alerts[0].startsAt"}},
		{"startsAt not RFC 3339", alert(`{"status":"firing","startsAt":"2026-11-03 05:00:00"}`),
			`alerts[0].startsAt: "2026-11-03 05:00:00" is not an RFC 3339 time such as 2026-11-03T14:02:00Z`, []string{"alerts[0].startsAt"}},
		{"endsAt not RFC 3339", alert(`{"status":"resolved","startsAt":"2026-11-03T05:00:00Z"},{"status":"resolved","startsAt":"2026-11-03T05:00:00Z","endsAt":"yesterday"}`),
			`alerts[1].endsAt: "yesterday" is not an RFC 3339 time such as 2026-11-03T14:02:00Z`, []string{"alerts[1].endsAt"}},
		{"label not a string", alert(`{"status":"firing","startsAt":"2026-11-03T05:00:00Z","labels":{"code":500}}`),
			"alerts[0].labels: must be an object of strings, not number", []string{"alerts[0].labels"}},
		{"annotations array", alert(`{"status":"firing","startsAt":"2026-11-03T05:00:00Z","annotations":[]}`),
			"alerts[0].annotations: must be an object of strings, not array", []string{"alerts[0].annotations"}},
		{"label not UTF-8", alert("{\"status\":\"firing\",\"startsAt\":\"2026-11-03T05:00:00Z\",\"labels\":{\"team\":\"\xb5\xf0\xba\xf1\"}}"),
			"alerts[0].labels.team: is not valid UTF-8 (or has a \\u escape of half a surrogate pair); send text in UTF-8", []string{"alerts[0].labels.team"}},
		{"annotation with half a surrogate pair", alert(`{"status":"firing","startsAt":"2026-11-03T05:00:00Z"},{"status":"firing","startsAt":"2026-11-03T05:00:00Z","annotations":{"summary":"\ud83d"}}`),
			"alerts[1].annotations.summary: is not valid UTF-8 (or has a \\u escape of half a surrogate pair); send text in UTF-8", []string{"alerts[1].annotations.summary"}},
		{"truncatedAlerts negative", strings.Replace(valid, `"receiver"`, `"truncatedAlerts":-1,"receiver"`, 1),
			"truncatedAlerts: is -1; it must not be negative", []string{"truncatedAlerts"}},
		{"truncatedAlerts fraction", strings.Replace(valid, `"receiver"`, `"truncatedAlerts":1.5,"receiver"`, 1),
			"truncatedAlerts: must be a whole number, not number 1.5", []string{"truncatedAlerts"}},
		{"several problems", `{"version":"5","status":"","alerts":[{"status":"firing"}]}`,
			"version: is \"5\"; only payload version \"4\" is understood\ngroupKey: is required\nstatus: is required: firing or resolved\nalerts[0].startsAt: is required",
			[]string{"version", "groupKey", "status", "alerts[0].startsAt"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			n, err := alertmanager.Decode(strings.NewReader(c.body), 0)
			if err == nil {
				t.Fatalf("accepted: %+v", n)
			}
			if err.Error() != c.want {
				t.Errorf("error\n got: %s\nwant: %s", err, c.want)
			}
			var fields []string
			for _, e := range unjoin(err) {
				var fe *relay.FieldError
				if errors.As(e, &fe) {
					fields = append(fields, fe.Field)
				}
			}
			if strings.Join(fields, ",") != strings.Join(c.fields, ",") {
				t.Errorf("field errors name %v, want %v", fields, c.fields)
			}
		})
	}
}

func TestDecodeLimit(t *testing.T) {
	body := fixture(t, "multiple")
	if _, err := alertmanager.Decode(bytes.NewReader(body), int64(len(body))); err != nil {
		t.Fatalf("a payload of exactly the limit: %v", err)
	}
	_, err := alertmanager.Decode(bytes.NewReader(body), int64(len(body)-1))
	var tl *alertmanager.TooLargeError
	if !errors.As(err, &tl) || tl.Limit != int64(len(body)-1) {
		t.Fatalf("one byte over the limit: %v", err)
	}
	huge := strings.NewReader(`{"pad":"` + strings.Repeat("x", alertmanager.DefaultMaxBytes) + `"}`)
	if _, err := alertmanager.Decode(huge, 0); !errors.As(err, &tl) || tl.Limit != alertmanager.DefaultMaxBytes {
		t.Fatalf("over the default limit: %v", err)
	}
}

func unjoin(err error) []error {
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		return j.Unwrap()
	}
	return []error{err}
}
