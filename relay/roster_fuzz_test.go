package relay

import (
	"bytes"
	"testing"
	"time"
)

// FuzzDecodeRoster feeds arbitrary documents to the roster decoder: it
// must never panic, and whatever it accepts must be a valid roster whose
// every group member is a person, which resolves "everyone" and whose
// escalation policies resolve and plan.
func FuzzDecodeRoster(f *testing.F) {
	f.Add([]byte("people:\n  - id: kim\n    name: 김민지\n    phone: \"+821012345678\"\n    channels: [sms]\ngroups:\n  - id: oncall\n    members: [kim]\n"))
	f.Add([]byte(`{"people":[{"id":"a","email":"a@example.com"}]}`))
	f.Add([]byte("people: [{id: x, phone: 010}]\n"))
	f.Add([]byte("&a [*a]"))
	f.Add([]byte("people: [{id: kim, email: k@example.com}, {id: lee, email: l@example.com}]\nschedules:\n  - id: db\n    time_zone: America/New_York\n    layers:\n      - {members: [kim, lee], start: \"2026-03-08 02:30\", shift: daily, hours: [{from: \"21:00\", to: \"09:00\", days: [fri]}]}\n    overrides: [{person: lee, covers: kim, from: \"2026-03-08 00:00\", to: \"2026-03-09T00:00:00-04:00\"}]\n"))
	f.Add([]byte(escalationRoster))
	f.Fuzz(func(t *testing.T, doc []byte) {
		r, err := DecodeRoster(bytes.NewReader(doc))
		if err != nil {
			if err.Error() == "" {
				t.Fatal("empty error text")
			}
			return
		}
		if err := r.Validate(); err != nil {
			t.Fatalf("accepted roster does not validate: %v", err)
		}
		for _, g := range r.Groups {
			for _, m := range g.Members {
				if _, ok := r.Person(m); !ok {
					t.Fatalf("group %s has unknown member %s", g.ID, m)
				}
			}
		}
		for _, sc := range r.Schedules {
			oc, err := sc.OnCallAt(time.Date(2026, 3, 8, 7, 30, 0, 0, time.UTC))
			if err != nil {
				t.Fatalf("accepted schedule %s cannot say who is on call: %v", sc.ID, err)
			}
			for _, p := range oc.People {
				if _, ok := r.Person(p); !ok {
					t.Fatalf("schedule %s has unknown %s on call", sc.ID, p)
				}
			}
		}
		for _, e := range r.Escalations {
			// Every accepted policy starts with people and runs as planned.
			if _, err := r.Resolve([]string{TargetEscalationPrefix + e.ID}); err != nil {
				t.Fatalf("policy %s does not resolve: %v", e.ID, err)
			}
			if err := NewEscalationPlan(&e, 1).Check(); err != nil {
				t.Fatalf("policy %s: %v", e.ID, err)
			}
		}
		people, err := r.Resolve([]string{TargetEveryone})
		if err != nil || len(people) != len(r.People) {
			t.Fatalf("everyone resolves to %d of %d people (%v)", len(people), len(r.People), err)
		}
	})
}

// FuzzParseScheduleTime feeds arbitrary text to the reader of a
// schedule's times: it never panics, and what it accepts reads back the
// same local wall time, or a later one when the clocks skip it.
func FuzzParseScheduleTime(f *testing.F) {
	for _, s := range []string{"2026-03-08 02:30", "2026-11-01T01:30", "2026-11-01T01:30:00-05:00", "2026-03-08 24:00", "0000-01-01 00:00", "9999-12-31T23:59:59"} {
		f.Add(s)
	}
	ny, err := time.LoadLocation("America/New_York")
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, s string) {
		at, err := ParseScheduleTime(s, ny)
		if err != nil {
			return
		}
		if naive, err := time.Parse("2006-01-02 15:04", s); err == nil {
			local := at.In(ny)
			back := time.Date(local.Year(), local.Month(), local.Day(), local.Hour(), local.Minute(), 0, 0, time.UTC)
			if back.Before(naive) || back.Sub(naive) > 2*time.Hour {
				t.Fatalf("%q read as %s", s, local)
			}
		}
	})
}
