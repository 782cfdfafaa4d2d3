package api_test

import (
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/oob-relay/relay/relay"
	"github.com/oob-relay/relay/relay/api"
)

const escalationRosterYAML = `people:
  - {id: kim, name: 김민준, email: kim@example.com}
  - {id: lee, name: Lee Seo-yeon, email: lee@example.com, lang: en, roles: [commander]}
escalations:
  - id: db
    name: DB 당직
    steps:
      - {to: [person:kim], wait: 5m}
      - {to: [person:lee], wait: 10m}
`

// A message posted to an escalation policy shows its steps, in the
// message view and in its incident's timeline, as the OpenAPI
// description says.
func TestEscalationView(t *testing.T) {
	h := newHarness(t)
	a := h.do(t, t.Context(), request{method: http.MethodPut, path: "/v1/roster", auth: bearer(adminToken), contentType: "application/yaml", body: escalationRosterYAML})
	if a.status != http.StatusOK {
		t.Fatalf("PUT roster: %d %s", a.status, a.body)
	}
	acc := h.accept(t, botToken, relay.Post{Incident: incident, Text: koText, To: []string{"escalation:db"}}, "")
	if acc.Recipients != 1 {
		t.Errorf("accepted for %d people, want kim alone (step 1)", acc.Recipients)
	}
	v := h.message(t, acc.ID)
	x := v.Escalation
	if x == nil || x.Status != relay.EscalationRunning || x.Policy != "db" || len(x.Steps) != 2 ||
		!slices.Equal(x.Steps[0].Notified, []string{"kim"}) || !x.Steps[1].FiredAt.IsZero() || x.Steps[1].Wait != "10m" ||
		!x.Steps[1].Due.Equal(v.AcceptedAt.Add(5*time.Minute)) || !x.ExhaustedAt.Equal(v.AcceptedAt.Add(15*time.Minute)) {
		t.Fatalf("escalation view %+v", x)
	}

	// Step 2 fires.
	at := v.AcceptedAt.Add(5 * time.Minute)
	if _, err := h.node.Store().Append(t.Context(), relay.Event{Escalated: &relay.Escalated{Message: acc.ID, Incident: incident, Policy: "db",
		Step: 1, Due: at, At: at, Notified: []string{"lee"}, Deadline: at.Add(time.Hour),
		Recipients: []relay.Recipient{{Person: relay.Person{ID: "lee", Email: "lee@example.com", Lang: "en"}, Channels: []string{relay.ChannelEmail}}}}}); err != nil {
		t.Fatal(err)
	}
	v = h.message(t, acc.ID)
	if s := v.Escalation.Steps[1]; !s.FiredAt.Equal(at) || !slices.Equal(s.Notified, []string{"lee"}) {
		t.Errorf("step 2 after it fired %+v", s)
	}
	if len(v.Recipients) != 2 {
		t.Errorf("recipients %+v, want kim and lee", v.Recipients)
	}
	var inc api.IncidentView
	a = h.do(t, t.Context(), request{method: http.MethodGet, path: "/v1/incidents/" + incident, auth: bearer(viewerToken)})
	if a.status != http.StatusOK {
		t.Fatalf("GET incident: %d %s", a.status, a.body)
	}
	a.decode(t, &inc)
	if len(inc.Timeline) != 1 || inc.Timeline[0].Escalation == nil || len(inc.Timeline[0].Escalation.Steps) != 2 {
		t.Errorf("timeline %+v, want the message's escalation", inc.Timeline)
	}
}

// A roster whose policies are wrong is refused whole, each problem named.
func TestEscalationRosterRefused(t *testing.T) {
	h := newHarness(t)
	bad := strings.Replace(escalationRosterYAML, "wait: 10m", "wait: 10s", 1)
	bad = strings.Replace(bad, "[person:kim]", "[escalation:db]", 1)
	a := h.do(t, t.Context(), request{method: http.MethodPut, path: "/v1/roster", auth: bearer(adminToken), contentType: "application/yaml", body: bad})
	if a.status != http.StatusUnprocessableEntity {
		t.Fatalf("PUT a bad roster: %d %s", a.status, a.body)
	}
	for _, want := range []string{`escalations[0] (db).steps[0].to[0]: \"escalation:db\" cannot name an escalation policy`,
		`escalations[0] (db).steps[1].wait: 10s must be from 1m to 24h`} {
		if !strings.Contains(string(a.body), want) {
			t.Errorf("answer lacks %s:\n%s", want, a.body)
		}
	}
	if got := h.roster(t); len(got.Escalations) != 0 {
		t.Errorf("the refused roster changed the roster: %+v", got.Escalations)
	}
	p := h.post(t, botToken, relay.Post{Incident: incident, Text: koText, To: []string{"escalation:db", "person:kim"}}, "")
	if p.status != http.StatusUnprocessableEntity || !strings.Contains(string(p.body), "names an escalation policy with other targets") {
		t.Errorf("a post naming a policy and a person: %d %s", p.status, p.body)
	}
}
