package api_test

import (
	"context"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/oob-relay/relay/relay"
	"github.com/oob-relay/relay/relay/api"
)

// scheduleRosterYAML has kim and lee by email and a schedule whose day
// layer hands off daily at 09:00 in Seoul from 2026-03-02 (kim first),
// with lee on a night layer from 21:00 to 09:00 starting 2026-03-02, and
// a schedule of lee alone since 2020.
const scheduleRosterYAML = `people:
  - id: kim
    name: 김민준
    email: kim@example.com
  - id: lee
    name: Lee Seo-yeon
    email: lee@example.com
    lang: en
  - id: park
    email: park@example.com
schedules:
  - id: db
    name: DB 당직
    layers:
      - name: day
        members: [kim, park]
        start: "2026-03-02 09:00"
        shift: daily
      - name: night
        members: [lee]
        start: "2026-03-02 09:00"
        shift: weekly
        hours: [{from: "21:00", to: "09:00"}]
  - id: lee-always
    layers:
      - members: [lee]
        start: "2020-01-01 00:00"
        shift: weekly
`

func (h *harness) putRosterYAML(t *testing.T, doc string) {
	t.Helper()
	a := h.do(t, t.Context(), request{method: http.MethodPut, path: "/v1/roster", auth: bearer(adminToken), contentType: "application/yaml", body: doc})
	if a.status != http.StatusOK {
		t.Fatalf("PUT roster: %d %s", a.status, a.body)
	}
}

func (h *harness) onCall(t *testing.T, path string) relay.OnCall {
	t.Helper()
	a := h.get(t, viewerToken, path)
	if a.status != http.StatusOK {
		t.Fatalf("GET %s: %d %s", path, a.status, a.body)
	}
	var oc relay.OnCall
	a.decode(t, &oc)
	return oc
}

func (h *harness) addOverride(t *testing.T, schedule string, o api.OverrideRequest) *answer {
	t.Helper()
	return h.do(t, t.Context(), request{method: http.MethodPost, path: "/v1/schedules/" + schedule + "/overrides",
		auth: bearer(adminToken), contentType: "application/json", body: mustJSON(t, o)})
}

func TestOnCallAPI(t *testing.T) {
	h := newHarness(t)
	h.putRosterYAML(t, scheduleRosterYAML)

	a := h.get(t, viewerToken, "/v1/oncall?at="+url.QueryEscape("2026-03-03T22:00:00+09:00"))
	if a.status != http.StatusOK {
		t.Fatalf("GET /v1/oncall: %d %s", a.status, a.body)
	}
	var all api.OnCallView
	a.decode(t, &all)
	if len(all.Schedules) != 2 || all.Schedules[0].Schedule != "db" || all.Schedules[1].Schedule != "lee-always" {
		t.Fatalf("schedules = %+v", all.Schedules)
	}
	db := all.Schedules[0]
	if !slices.Equal(db.People, []string{"lee"}) || db.Until != "2026-03-04T09:00:00+09:00" || !slices.Equal(db.Next, []string{"kim"}) ||
		db.Layers[0].Person != "park" || db.Layers[0].Next != "kim" || db.Layers[1].Person != "lee" || db.TimeZone != "Asia/Seoul" {
		t.Errorf("db at 22:00 on the 3rd = %+v", db)
	}
	// A local time is read in the schedule's zone.
	oc := h.onCall(t, "/v1/oncall/db?at="+url.QueryEscape("2026-03-04 10:00"))
	if oc.At != "2026-03-04T10:00:00+09:00" || !slices.Equal(oc.People, []string{"kim"}) {
		t.Errorf("db at 10:00 on the 4th = %+v", oc)
	}

	before := h.state(t)
	for _, c := range []struct {
		path   string
		status int
		field  string
	}{
		{"/v1/oncall/nope", http.StatusNotFound, "id"},
		{"/v1/oncall/db?at=tomorrow", http.StatusUnprocessableEntity, "at"},
		{"/v1/oncall?at=" + url.QueryEscape("2026-03-04 25:00"), http.StatusUnprocessableEntity, "at"},
	} {
		a := h.get(t, viewerToken, c.path)
		if p := a.problem(t); a.status != c.status || p.Field != c.field {
			t.Errorf("GET %s: %d %s, want %d naming %s", c.path, a.status, a.body, c.status, c.field)
		}
	}

	// Refused overrides change nothing and say what is wrong.
	a = h.addOverride(t, "db", api.OverrideRequest{Person: "choi", Covers: "lee-kim", From: "2026-03-05 09:00", To: "2026-03-04 09:00"})
	p := a.problem(t)
	var fields []string
	for _, d := range p.Details {
		fields = append(fields, d.Field)
	}
	if a.status != http.StatusUnprocessableEntity || !slices.Equal(fields, []string{"person", "covers", "to"}) {
		t.Errorf("bad override: %d %s", a.status, a.body)
	}
	if a = h.addOverride(t, "web", api.OverrideRequest{Person: "kim", From: "2026-03-05 09:00", To: "2026-03-06 09:00"}); a.status != http.StatusNotFound {
		t.Errorf("override of an unknown schedule: %d %s", a.status, a.body)
	}
	ctx, _ := offContract(t.Context())
	a = h.do(t, ctx, request{method: http.MethodPost, path: "/v1/schedules/db/overrides", auth: bearer(adminToken), contentType: "application/json",
		body: `{"person":"kim","from":"2026-03-05 09:00","to":"2026-03-06 09:00","until":"x"}`})
	if a.status != http.StatusBadRequest || a.problem(t).Field != "until" {
		t.Errorf("unknown field: %d %s", a.status, a.body)
	}
	h.unchanged(t, before)

	// park covers kim on the 4th from 12:00 to 15:00 local.
	a = h.addOverride(t, "db", api.OverrideRequest{Person: "park", Covers: "kim", From: "2026-03-04 12:00", To: "2026-03-04T06:00:00Z"})
	if a.status != http.StatusCreated {
		t.Fatalf("add override: %d %s", a.status, a.body)
	}
	var added relay.Override
	a.decode(t, &added)
	if added.ID == "" || added.By != adminName || added.From != "2026-03-04T12:00:00+09:00" || added.To != "2026-03-04T15:00:00+09:00" ||
		a.header.Get("Location") != "/v1/schedules/db/overrides/"+added.ID {
		t.Errorf("added %+v, Location %q", added, a.header.Get("Location"))
	}
	a = h.addOverride(t, "db", api.OverrideRequest{Person: "lee", Covers: "kim", From: "2026-03-04 14:00", To: "2026-03-04 16:00"})
	if p := a.problem(t); a.status != http.StatusUnprocessableEntity || !strings.Contains(p.Message, "overlaps override "+added.ID) {
		t.Errorf("overlapping override: %d %s", a.status, a.body)
	}

	// Applying the roster file again keeps the added override.
	h.putRosterYAML(t, scheduleRosterYAML)
	oc = h.onCall(t, "/v1/oncall/db?at="+url.QueryEscape("2026-03-04 13:00"))
	if !slices.Equal(oc.People, []string{"park"}) || oc.Override == nil || oc.Override.ID != added.ID || oc.Until != "2026-03-04T15:00:00+09:00" ||
		len(oc.Overrides) != 1 || oc.Layers[0].Person != "kim" {
		t.Errorf("db at 13:00 on the 4th, with the override = %+v", oc)
	}

	// Removed, it is gone; removing it again is 404.
	del := request{method: http.MethodDelete, path: "/v1/schedules/db/overrides/" + added.ID, auth: bearer(adminToken)}
	if a = h.do(t, t.Context(), del); a.status != http.StatusNoContent {
		t.Fatalf("remove: %d %s", a.status, a.body)
	}
	if a = h.do(t, t.Context(), del); a.status != http.StatusNotFound || a.problem(t).Field != "override" {
		t.Errorf("remove again: %d %s", a.status, a.body)
	}
	if oc = h.onCall(t, "/v1/oncall/db?at="+url.QueryEscape("2026-03-04 13:00")); !slices.Equal(oc.People, []string{"kim"}) || len(oc.Overrides) != 0 {
		t.Errorf("after removal: %+v", oc)
	}
}

// TestPostToSchedule: a post to schedule:<id> reaches whoever is on call
// when it is accepted, and the message keeps them.
func TestPostToSchedule(t *testing.T) {
	h := newHarness(t)
	h.putRosterYAML(t, scheduleRosterYAML)
	now := time.Now()
	a := h.addOverride(t, "lee-always", api.OverrideRequest{Person: "kim", From: now.Add(-time.Hour).Format(time.RFC3339), To: now.Add(time.Hour).Format(time.RFC3339)})
	if a.status != http.StatusCreated {
		t.Fatalf("add override: %d %s", a.status, a.body)
	}
	var o relay.Override
	a.decode(t, &o)
	first := h.accept(t, botToken, relay.Post{Incident: incident, Text: koText, To: []string{"schedule:lee-always"}}, "")
	if a := h.do(t, t.Context(), request{method: http.MethodDelete, path: "/v1/schedules/lee-always/overrides/" + o.ID, auth: bearer(adminToken)}); a.status != http.StatusNoContent {
		t.Fatalf("remove: %d %s", a.status, a.body)
	}
	second := h.accept(t, botToken, relay.Post{Incident: incident, Text: koText, To: []string{"schedule:lee-always"}}, "")
	for id, want := range map[string]string{first.ID: "kim", second.ID: "lee"} {
		var m api.MessageView
		h.get(t, viewerToken, "/v1/messages/"+id).decode(t, &m)
		if len(m.Recipients) != 1 || m.Recipients[0].Person != want || !slices.Equal(m.To, []string{"schedule:lee-always"}) {
			t.Errorf("message %s went to %+v, want %s", id, m.Recipients, want)
		}
	}
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	mails, err := h.sink.WaitMails(ctx, 2)
	if err != nil {
		t.Fatal(err)
	}
	var rcpts []string
	for _, m := range mails {
		rcpts = append(rcpts, m.Envelope.To...)
	}
	slices.Sort(rcpts)
	if !slices.Equal(rcpts, []string{"kim@example.com", "lee@example.com"}) {
		t.Errorf("mail went to %v", rcpts)
	}
	// A schedule with nobody on call is refused, naming the target. The
	// deliveries' outcomes are recorded after the mails arrive, so the
	// log is compared only once both messages have settled.
	h.settled(t, first.ID)
	h.settled(t, second.ID)
	before := h.state(t)
	a = h.post(t, botToken, relay.Post{Incident: incident, Text: koText, To: []string{"person:park", "schedule:nope"}}, "")
	if p := a.problem(t); a.status != http.StatusUnprocessableEntity || p.Field != "to[1]" {
		t.Errorf("post to an unknown schedule: %d %s", a.status, a.body)
	}
	h.unchanged(t, before)
}
