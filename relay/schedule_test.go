package relay

import (
	"slices"
	"strings"
	"testing"
	"time"
)

// scheduleRoster is a roster of five people and the given schedules.
func scheduleRoster(t *testing.T, schedules ...Schedule) *Roster {
	t.Helper()
	r := &Roster{Schedules: schedules}
	for _, id := range []string{"kim", "lee", "park", "choi", "jung"} {
		r.People = append(r.People, Person{ID: id, Email: id + "@example.com"})
	}
	if err := r.Validate(); err != nil {
		t.Fatalf("roster does not validate: %v", err)
	}
	return r
}

func utc(t *testing.T, s string) time.Time {
	t.Helper()
	at, err := time.Parse(time.RFC3339, s)
	if err != nil {
		t.Fatal(err)
	}
	return at
}

// onCallCase is who is on call at an instant (RFC 3339); "" for nobody.
type onCallCase struct {
	at, want string
}

func checkOnCall(t *testing.T, s Schedule, cases []onCallCase) {
	t.Helper()
	r := scheduleRoster(t, s)
	sched, _ := r.Schedule(s.ID)
	for _, c := range cases {
		got, err := sched.OnCallAt(utc(t, c.at))
		if err != nil {
			t.Fatal(err)
		}
		if want := strings.Fields(c.want); !slices.Equal(got.People, want) && !(len(want) == 0 && len(got.People) == 0) {
			t.Errorf("at %s (%s local): on call %v, want %v", c.at, got.At, got.People, want)
		}
	}
}

func TestScheduleRotation(t *testing.T) {
	for _, tc := range []struct {
		name  string
		sched Schedule
		cases []onCallCase
	}{
		{"daily in Seoul, 09:00 handoffs", Schedule{ID: "db", Layers: []Layer{{Members: []string{"kim", "lee", "park"}, Start: "2026-03-02 09:00", Shift: "daily"}}}, []onCallCase{
			{"2026-03-02T08:59:59+09:00", ""}, // before the first handoff
			{"2026-03-02T09:00:00+09:00", "kim"},
			{"2026-03-03T08:59:59+09:00", "kim"},
			{"2026-03-03T09:00:00+09:00", "lee"},
			{"2026-03-04T23:00:00+09:00", "park"},
			{"2026-03-05T09:00:00+09:00", "kim"},  // round again
			{"2027-03-02T09:00:00+09:00", "park"}, // 365 days later: 365 % 3 = 2
		}},
		{"weekly, Monday 10:00", Schedule{ID: "db", Layers: []Layer{{Members: []string{"kim", "lee"}, Start: "2026-03-02T10:00", Shift: "weekly"}}}, []onCallCase{
			{"2026-03-09T09:59:00+09:00", "kim"},
			{"2026-03-09T10:00:00+09:00", "lee"},
			{"2026-03-16T10:00:00+09:00", "kim"},
		}},
		{"12h in real time", Schedule{ID: "db", Layers: []Layer{{Members: []string{"kim", "lee", "park"}, Start: "2026-03-02 08:00", Shift: "12h"}}}, []onCallCase{
			{"2026-03-02T19:59:00+09:00", "kim"},
			{"2026-03-02T20:00:00+09:00", "lee"},
			{"2026-03-03T08:00:00+09:00", "park"},
		}},
		{"3d at the wall-clock time", Schedule{ID: "db", Layers: []Layer{{Members: []string{"kim", "lee"}, Start: "2026-03-02 09:00", Shift: "3d"}}}, []onCallCase{
			{"2026-03-05T08:59:00+09:00", "kim"},
			{"2026-03-05T09:00:00+09:00", "lee"},
		}},
		{"a start with an offset is that instant", Schedule{ID: "db", TimeZone: "America/New_York", Layers: []Layer{{Members: []string{"kim", "lee"}, Start: "2026-03-02T09:00:00+09:00", Shift: "24h"}}}, []onCallCase{
			{"2026-03-02T00:00:00Z", "kim"},
			{"2026-03-03T00:00:00Z", "lee"},
		}},
		{"a later layer wins where it has a shift", Schedule{ID: "db", Layers: []Layer{
			{Name: "day", Members: []string{"kim", "lee"}, Start: "2026-03-02 09:00", Shift: "daily"},
			{Name: "night", Members: []string{"park", "choi"}, Start: "2026-03-02 09:00", Shift: "weekly", Hours: []Hours{{From: "21:00", To: "09:00"}}},
		}}, []onCallCase{
			{"2026-03-02T20:59:00+09:00", "kim"},
			{"2026-03-02T21:00:00+09:00", "park"},
			{"2026-03-03T08:59:00+09:00", "park"},
			{"2026-03-03T09:00:00+09:00", "lee"},
			{"2026-03-09T21:00:00+09:00", "choi"}, // the night layer's next week
		}},
		{"hours on some days: weekends from Saturday 00:00 to Monday 00:00", Schedule{ID: "db", Layers: []Layer{
			{Members: []string{"kim"}, Start: "2026-03-02 09:00", Shift: "weekly"},
			{Members: []string{"jung"}, Start: "2026-03-02 09:00", Shift: "weekly", Hours: []Hours{{From: "00:00", To: "00:00", Days: []string{"sat", "sun"}}}},
		}}, []onCallCase{
			{"2026-03-06T23:59:00+09:00", "kim"}, // Friday
			{"2026-03-07T00:00:00+09:00", "jung"},
			{"2026-03-08T23:59:00+09:00", "jung"},
			{"2026-03-09T00:00:00+09:00", "kim"},
		}},
		{"a night window on Friday runs into Saturday", Schedule{ID: "db", Layers: []Layer{
			{Members: []string{"kim"}, Start: "2026-03-02 09:00", Shift: "weekly", Hours: []Hours{{From: "21:00", To: "09:00", Days: []string{"fri"}}}},
		}}, []onCallCase{
			{"2026-03-06T20:59:00+09:00", ""},
			{"2026-03-06T21:00:00+09:00", "kim"},
			{"2026-03-07T08:59:00+09:00", "kim"},
			{"2026-03-07T09:00:00+09:00", ""},
			{"2026-03-07T21:00:00+09:00", ""}, // Saturday night is not Friday's
		}},
		{"overrides win over layers", Schedule{ID: "db", Layers: []Layer{{Members: []string{"kim", "lee"}, Start: "2026-03-02 09:00", Shift: "daily"}},
			Overrides: []Override{
				{Person: "park", Covers: "kim", From: "2026-03-02 12:00", To: "2026-03-03 12:00"},
				{Person: "choi", From: "2026-03-04 00:00", To: "2026-03-04 06:00"},
				{Person: "jung", Covers: "lee", From: "2026-03-04 03:00", To: "2026-03-04 10:00"},
			}}, []onCallCase{
			{"2026-03-02T11:59:00+09:00", "kim"},
			{"2026-03-02T12:00:00+09:00", "park"}, // covers kim
			{"2026-03-03T10:00:00+09:00", "lee"},  // kim is not on call: nothing to cover
			{"2026-03-04T00:00:00+09:00", "choi"}, // the whole schedule
			{"2026-03-04T05:00:00+09:00", "choi"}, // the whole schedule wins over covering lee
			{"2026-03-04T06:00:00+09:00", "jung"}, // covers lee, on call until 09:00
			{"2026-03-04T09:00:00+09:00", "kim"},  // kim's shift: jung covers lee only
			{"2026-03-05T09:00:00+09:00", "lee"},
		}},
	} {
		t.Run(tc.name, func(t *testing.T) { checkOnCall(t, tc.sched, tc.cases) })
	}
}

// TestScheduleDST: handoffs of daily and weekly shifts (and of whole
// days) keep their wall-clock time across a change of the clocks; a
// shift given in hours is that many real hours. A handoff at a local time
// the change skips (02:30 on the spring-forward day) happens at the time
// read with the offset before the change (03:30 EDT); one the change
// repeats (01:30 on the fall-back day) happens at its first occurrence.
func TestScheduleDST(t *testing.T) {
	ny := "America/New_York"
	for _, tc := range []struct {
		name  string
		sched Schedule
		cases []onCallCase
	}{
		{"daily 09:00 stays 09:00 across spring forward", Schedule{ID: "ny", TimeZone: ny, Layers: []Layer{{Members: []string{"kim", "lee"}, Start: "2026-03-07 09:00", Shift: "daily"}}}, []onCallCase{
			{"2026-03-07T14:00:00Z", "kim"}, // 09:00 EST
			{"2026-03-08T12:59:00Z", "kim"}, // 08:59 EDT
			{"2026-03-08T13:00:00Z", "lee"}, // 09:00 EDT
		}},
		{"daily 09:00 stays 09:00 across fall back", Schedule{ID: "ny", TimeZone: ny, Layers: []Layer{{Members: []string{"kim", "lee"}, Start: "2026-10-31 09:00", Shift: "daily"}}}, []onCallCase{
			{"2026-11-01T13:59:00Z", "kim"}, // 08:59 EST
			{"2026-11-01T14:00:00Z", "lee"}, // 09:00 EST
		}},
		{"12h is 12 real hours across spring forward", Schedule{ID: "ny", TimeZone: ny, Layers: []Layer{{Members: []string{"kim", "lee"}, Start: "2026-03-07 21:00", Shift: "12h"}}}, []onCallCase{
			{"2026-03-08T02:00:00Z", "kim"}, // 21:00 EST
			{"2026-03-08T13:59:00Z", "kim"}, // 09:59 EDT
			{"2026-03-08T14:00:00Z", "lee"}, // 10:00 EDT, 12 hours on
		}},
		{"12h is 12 real hours across fall back", Schedule{ID: "ny", TimeZone: ny, Layers: []Layer{{Members: []string{"kim", "lee"}, Start: "2026-10-31 21:00", Shift: "12h"}}}, []onCallCase{
			{"2026-11-01T12:59:00Z", "kim"},
			{"2026-11-01T13:00:00Z", "lee"}, // 08:00 EST, 12 hours on
		}},
		{"02:30 on the spring-forward day is 03:30 EDT", Schedule{ID: "ny", TimeZone: ny, Layers: []Layer{{Members: []string{"kim", "lee"}, Start: "2026-03-07 02:30", Shift: "daily"}}}, []onCallCase{
			{"2026-03-07T07:30:00Z", "kim"}, // 02:30 EST
			{"2026-03-08T07:29:00Z", "kim"}, // 03:29 EDT
			{"2026-03-08T07:30:00Z", "lee"}, // 03:30 EDT
			{"2026-03-09T06:29:00Z", "lee"}, // 02:29 EDT
			{"2026-03-09T06:30:00Z", "kim"}, // 02:30 EDT
		}},
		{"01:30 on the fall-back day is its first occurrence", Schedule{ID: "ny", TimeZone: ny, Layers: []Layer{{Members: []string{"kim", "lee"}, Start: "2026-10-31 01:30", Shift: "daily"}}}, []onCallCase{
			{"2026-11-01T05:29:00Z", "kim"}, // 01:29 EDT
			{"2026-11-01T05:30:00Z", "lee"}, // 01:30 EDT
			{"2026-11-01T06:30:00Z", "lee"}, // 01:30 EST: no second handoff
			{"2026-11-02T06:30:00Z", "kim"}, // 01:30 EST the next day
		}},
		{"02:30 on the fall-back day happens once", Schedule{ID: "ny", TimeZone: ny, Layers: []Layer{{Members: []string{"kim", "lee"}, Start: "2026-10-31 02:30", Shift: "daily"}}}, []onCallCase{
			{"2026-11-01T07:29:00Z", "kim"},
			{"2026-11-01T07:30:00Z", "lee"}, // 02:30 EST
		}},
		{"a night window across spring forward", Schedule{ID: "ny", TimeZone: ny, Layers: []Layer{
			{Members: []string{"kim"}, Start: "2026-03-01 09:00", Shift: "weekly"},
			{Members: []string{"lee"}, Start: "2026-03-01 09:00", Shift: "weekly", Hours: []Hours{{From: "21:00", To: "09:00"}}},
		}}, []onCallCase{
			{"2026-03-08T01:59:00Z", "kim"}, // 20:59 EST on the 7th
			{"2026-03-08T02:00:00Z", "lee"}, // 21:00 EST
			{"2026-03-08T12:59:00Z", "lee"}, // 08:59 EDT
			{"2026-03-08T13:00:00Z", "kim"}, // 09:00 EDT
		}},
		{"Seoul has no change: 02:30 is 02:30", Schedule{ID: "seoul", Layers: []Layer{{Members: []string{"kim", "lee"}, Start: "2026-03-07 02:30", Shift: "daily"}}}, []onCallCase{
			{"2026-03-08T02:29:00+09:00", "kim"},
			{"2026-03-08T02:30:00+09:00", "lee"},
			{"2026-11-01T02:29:00+09:00", "kim"}, // shift 238
			{"2026-11-01T02:30:00+09:00", "lee"}, // shift 239
		}},
	} {
		t.Run(tc.name, func(t *testing.T) { checkOnCall(t, tc.sched, tc.cases) })
	}
}

func TestParseScheduleTimeDST(t *testing.T) {
	ny, err := time.LoadLocation("America/New_York")
	if err != nil {
		t.Fatal(err)
	}
	for in, want := range map[string]string{
		"2026-03-08 02:30":          "2026-03-08T07:30:00Z", // skipped: read as EST
		"2026-03-08T01:59":          "2026-03-08T06:59:00Z",
		"2026-03-08 03:00":          "2026-03-08T07:00:00Z",
		"2026-11-01 01:30":          "2026-11-01T05:30:00Z", // repeated: the first (EDT)
		"2026-11-01 01:30:15":       "2026-11-01T05:30:15Z",
		"2026-11-01T02:00":          "2026-11-01T07:00:00Z",
		"2026-11-01T01:30:00-05:00": "2026-11-01T06:30:00Z", // an offset says which
	} {
		got, err := ParseScheduleTime(in, ny)
		if err != nil {
			t.Errorf("%s: %v", in, err)
			continue
		}
		if got.UTC().Format(time.RFC3339) != want {
			t.Errorf("%s = %s, want %s", in, got.UTC().Format(time.RFC3339), want)
		}
	}
	for _, in := range []string{"", "2026-03-08", "09:00", "2026-13-01 09:00", "2026-03-08 24:00", "tomorrow"} {
		if _, err := ParseScheduleTime(in, ny); err == nil {
			t.Errorf("%q: no error", in)
		}
	}
}

func TestOnCallNext(t *testing.T) {
	r := scheduleRoster(t, Schedule{ID: "db", Name: "DB", TimeZone: "America/New_York", Layers: []Layer{
		{Name: "day", Members: []string{"kim", "lee"}, Start: "2026-03-07 09:00", Shift: "daily"},
		{Name: "night", Members: []string{"park"}, Start: "2026-03-07 09:00", Shift: "weekly", Hours: []Hours{{From: "21:00", To: "09:00"}}},
	}, Overrides: []Override{{Person: "choi", Covers: "lee", From: "2026-03-08 12:00", To: "2026-03-08 13:00"}}})
	s, _ := r.Schedule("db")
	oc, err := s.OnCallAt(utc(t, "2026-03-08T15:00:00Z")) // 11:00 EDT, lee's day
	if err != nil {
		t.Fatal(err)
	}
	want := OnCall{Schedule: "db", Name: "DB", TimeZone: "America/New_York", At: "2026-03-08T11:00:00-04:00",
		People: []string{"lee"}, Until: "2026-03-08T12:00:00-04:00", Next: []string{"choi"},
		Layers: []LayerOnCall{
			{Name: "day", Person: "lee", Until: "2026-03-09T09:00:00-04:00", Next: "kim"},
			{Name: "night", Until: "2026-03-08T21:00:00-04:00", Next: "park"},
		}}
	if oc.Schedule != want.Schedule || oc.Name != want.Name || oc.TimeZone != want.TimeZone || oc.At != want.At ||
		!slices.Equal(oc.People, want.People) || oc.Until != want.Until || !slices.Equal(oc.Next, want.Next) ||
		!slices.Equal(oc.Layers, want.Layers) || oc.Override != nil {
		t.Errorf("on call =\n%+v\nwant\n%+v", *oc, want)
	}
	if len(oc.Overrides) != 1 || oc.Overrides[0].Person != "choi" {
		t.Errorf("overrides not ended = %+v, want choi's", oc.Overrides)
	}
	oc, err = s.OnCallAt(utc(t, "2026-03-08T16:30:00Z")) // 12:30 EDT: choi covers lee
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(oc.People, []string{"choi"}) || oc.Override == nil || oc.Override.Covers != "lee" ||
		oc.Until != "2026-03-08T13:00:00-04:00" || !slices.Equal(oc.Next, []string{"lee"}) {
		t.Errorf("during the override: %+v", *oc)
	}
	// A layer of one person with no hours never changes hands.
	r = scheduleRoster(t, Schedule{ID: "solo", Layers: []Layer{{Members: []string{"kim"}, Start: "2026-01-01 09:00", Shift: "daily"}}})
	s, _ = r.Schedule("solo")
	if oc, err = s.OnCallAt(utc(t, "2026-03-08T00:00:00Z")); err != nil || oc.Until != "" || len(oc.Next) != 0 || oc.Layers[0].Until != "" {
		t.Errorf("solo: %+v, %v", oc, err)
	}
}

func TestScheduleValidation(t *testing.T) {
	r := &Roster{People: []Person{{ID: "kim", Email: "kim@example.com"}, {ID: "lee", Email: "lee@example.com"}, {ID: "park", Email: "p@example.com"}},
		Schedules: []Schedule{
			{ID: "db", TimeZone: "Mars/Olympus", Layers: []Layer{{Members: []string{"kim"}, Start: "2026-03-02 09:00", Shift: "daily"}}},
			{ID: "web", Layers: []Layer{
				{Name: "day", Members: []string{"kim", "nobody"}, Start: "2026-03-02 09:00", Shift: "fortnightly"},
				{Members: nil, Start: "March 2nd", Shift: "30m", Hours: []Hours{{From: "9pm", To: "09:00", Days: []string{"mon", "funday", "mon"}}}},
			}, Overrides: []Override{
				{Person: "lee", Covers: "kim", From: "2026-03-03 09:00", To: "2026-03-02 09:00"},
				{Person: "lee", Covers: "kim", From: "2026-03-04 09:00", To: "2026-03-05 09:00"},
				{Person: "park", Covers: "kim", From: "2026-03-05 08:00", To: "2026-03-06 09:00"},
				{Person: "ghost", Covers: "park", From: "2026-03-05 08:00", To: "2026-03-06 09:00"},
			}},
			{ID: "web", Layers: nil},
			{ID: "Bad_ID", TimeZone: "Local", Layers: []Layer{{Members: []string{"kim"}, Start: "2026-03-02 09:00", Shift: "400d"}}},
		}}
	err := r.Validate()
	if err == nil {
		t.Fatal("no error")
	}
	for _, want := range []string{
		`schedules[0] (db).time_zone: "Mars/Olympus" is not an IANA time zone`,
		`schedules[1] (web).layers[0] (day).members[1]: unknown person "nobody"`,
		`schedules[1] (web).layers[0] (day).shift: "fortnightly" is not daily, weekly`,
		`schedules[1] (web).layers[1].members: is empty`,
		`schedules[1] (web).layers[1].start: "March 2nd" is not a date and time`,
		`schedules[1] (web).layers[1].shift: "30m" is out of range`,
		`schedules[1] (web).layers[1].hours[0].from: "9pm" is not a time of day`,
		`schedules[1] (web).layers[1].hours[0].days[1]: unknown day "funday"`,
		`schedules[1] (web).layers[1].hours[0].days[2]: day "mon" is listed twice`,
		`schedules[1] (web).overrides[0].to: 2026-03-02 09:00 is not after from (2026-03-03 09:00)`,
		`schedules[1] (web).overrides[2]: overlaps overrides[1]: both cover kim from 2026-03-04 09:00 to 2026-03-05 09:00`,
		`schedules[1] (web).overrides[3].person: unknown person "ghost"`,
		`schedules[1] (web).overrides[3].covers: "park" is in no layer of this schedule`,
		`schedules[2] (web).id: "web" is also used by schedules[1]`,
		`schedules[2] (web).layers: is empty`,
		`schedules[3] (Bad_ID).id: "Bad_ID" must be`,
		`schedules[3] (Bad_ID).time_zone: "Local" depends on the host`,
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("missing problem %q in:\n%v", want, err)
		}
	}
	// Only some problems: the fourth schedule's shift is read only once
	// its zone is, and nothing else is reported.
	if n := strings.Count(err.Error(), "\n") + 1; n != 17 {
		t.Errorf("%d problems, want 17:\n%v", n, err)
	}
}

func TestScheduleTargets(t *testing.T) {
	r := scheduleRoster(t, Schedule{ID: "db", Layers: []Layer{{Members: []string{"kim", "lee"}, Start: "2026-03-02 09:00", Shift: "daily"}}})
	at := utc(t, "2026-03-03T10:00:00+09:00")
	people, err := r.ResolveAt([]string{"schedule:db", "person:park"}, at)
	if err != nil {
		t.Fatal(err)
	}
	if ids := personIDs(people); !slices.Equal(ids, []string{"lee", "park"}) {
		t.Errorf("resolved %v, want lee and park", ids)
	}
	for _, tc := range []struct {
		targets []string
		at      time.Time
		want    string
	}{
		{[]string{"schedule:web"}, at, `to[0]: "schedule:web" is not a schedule in the roster`},
		{[]string{"person:kim", "schedule:db"}, utc(t, "2026-03-01T00:00:00Z"), `to[1]: "schedule:db" has nobody on call at 2026-03-01T09:00:00+09:00`},
		{[]string{"schedule:db"}, time.Time{}, `to[0]: "schedule:db" needs the time of the message`},
	} {
		if _, err := r.ResolveAt(tc.targets, tc.at); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v at %v: error %v, want %q", tc.targets, tc.at, err, tc.want)
		}
	}
	if msg := CheckTarget("schedule:DB"); msg != "names no valid schedule id" {
		t.Errorf("CheckTarget(schedule:DB) = %q", msg)
	}
	if msg := CheckTarget("schedule:db"); msg != "" {
		t.Errorf("CheckTarget(schedule:db) = %q", msg)
	}
	if !r.IncludesAt("lee", []string{"schedule:db"}, at) || r.IncludesAt("kim", []string{"schedule:db"}, at) || r.Includes("lee", []string{"schedule:db"}) {
		t.Error("IncludesAt does not follow who is on call")
	}
	// A message keeps who was on call when it was accepted.
	m, err := NewMessage(&Post{Incident: "inc-1", Text: "db down", To: []string{"schedule:db"}}, r, Plan{
		ID: "m1", Now: at, Enabled: []string{ChannelEmail}, Deadline: func(Severity) time.Duration { return time.Hour },
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(m.Recipients) != 1 || m.Recipients[0].Person.ID != "lee" {
		t.Errorf("recipients = %+v, want lee", m.Recipients)
	}
}

func personIDs(ps []Person) []string {
	out := make([]string, len(ps))
	for i, p := range ps {
		out[i] = p.ID
	}
	return out
}

func TestAddedOverrides(t *testing.T) {
	r := scheduleRoster(t, Schedule{ID: "db", Layers: []Layer{{Members: []string{"kim", "lee"}, Start: "2026-03-02 09:00", Shift: "daily"}},
		Overrides: []Override{{Person: "park", Covers: "kim", From: "2026-03-02 09:00", To: "2026-03-02 12:00"}}})
	o, problems := r.PrepareOverride("db", Override{Person: "choi", Covers: "kim", From: "2026-03-02 10:00", To: "2026-03-02 11:00"})
	if len(problems) != 1 || problems[0].Field != "from" || !strings.Contains(problems[0].Message, "overlaps overrides[0] of the roster file") {
		t.Errorf("overlap with the file's override: %v", problems)
	}
	o, problems = r.PrepareOverride("db", Override{Person: "choi", Covers: "kim", From: "2026-03-02 12:00", To: "2026-03-02 13:00"})
	if len(problems) != 0 || o.From != "2026-03-02T12:00:00+09:00" || o.To != "2026-03-02T13:00:00+09:00" {
		t.Fatalf("prepared %+v, %v", o, problems)
	}
	o.ID = "01kabc"
	added := []ScheduleOverride{{Schedule: "db", Override: o}, {Schedule: "gone", Override: o}, {Schedule: "db", Override: Override{ID: "x", Person: "ghost", From: o.From, To: o.To}}}
	with := r.WithOverrides(added)
	if s, _ := r.Schedule("db"); len(s.Overrides) != 1 {
		t.Fatal("WithOverrides changed the roster it was given")
	}
	s, _ := with.Schedule("db")
	if len(s.Overrides) != 2 || s.Overrides[1].ID != "01kabc" {
		t.Fatalf("overrides = %+v", s.Overrides)
	}
	if people, err := with.ResolveAt([]string{"schedule:db"}, utc(t, "2026-03-02T12:30:00+09:00")); err != nil || personIDs(people)[0] != "choi" {
		t.Errorf("resolved %v, %v; want choi", people, err)
	}
	_, problems = with.PrepareOverride("db", Override{Person: "lee", Covers: "kim", From: "2026-03-02T12:59:00+09:00", To: "2026-03-02 14:00"})
	if len(problems) != 1 || !strings.Contains(problems[0].Message, "overlaps override 01kabc") {
		t.Errorf("overlap with an added override: %v", problems)
	}
	_, problems = with.PrepareOverride("db", Override{Person: "ghost", Covers: "park", From: "x", To: ""})
	var fields []string
	for _, p := range problems {
		fields = append(fields, p.Field+": "+p.Message)
	}
	if len(fields) != 4 {
		t.Errorf("problems = %q, want person, covers, from and to", fields)
	}
	if _, problems = r.PrepareOverride("web", o); len(problems) != 1 || problems[0].Field != "schedule" {
		t.Errorf("unknown schedule: %v", problems)
	}
}

// BenchmarkResolveSchedule is what a post to schedule:<id> adds to
// accepting it: reading the schedule and finding who is on call, in a
// zone with daylight saving, under two layers and an override.
func BenchmarkResolveSchedule(b *testing.B) {
	r := &Roster{Schedules: []Schedule{{ID: "db", TimeZone: "America/New_York", Layers: []Layer{
		{Members: []string{"kim", "lee", "park"}, Start: "2026-01-05 09:00", Shift: "daily"},
		{Members: []string{"choi", "jung"}, Start: "2026-01-05 09:00", Shift: "weekly", Hours: []Hours{{From: "21:00", To: "09:00"}}},
	}, Overrides: []Override{{Person: "jung", Covers: "kim", From: "2026-03-08 09:00", To: "2026-03-09 09:00"}}}}}
	for _, id := range []string{"kim", "lee", "park", "choi", "jung"} {
		r.People = append(r.People, Person{ID: id, Email: id + "@example.com"})
	}
	at := time.Date(2026, 3, 8, 15, 0, 0, 0, time.UTC)
	targets := []string{"schedule:db"}
	for b.Loop() {
		if _, err := r.ResolveAt(targets, at); err != nil {
			b.Fatal(err)
		}
	}
}
