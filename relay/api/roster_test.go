package api_test

import (
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/oob-relay/relay/relay"
)

// newRosterYAML drops lee, keeps kim in the on-call group, and adds choi.
const newRosterYAML = `# The roster file, as operators keep it.
people:
  - id: kim
    name: 김민준
    email: kim@example.com
    lang: ko
  - id: choi
    name: 최수아
    phone: "+821098765432"
    email: choi@example.com
    channels: [email, sms]
groups:
  - id: db-oncall
    name: DB 당직
    members: [kim]
  - id: payments
    name: 결제팀
    members: [choi, kim]
`

func newRoster() relay.Roster {
	return relay.Roster{
		People: []relay.Person{
			{ID: "kim", Name: "김민준", Email: "kim@example.com", Lang: "ko"},
			{ID: "choi", Name: "최수아", Phone: "+821098765432", Email: "choi@example.com", Channels: []string{"email", "sms"}},
		},
		Groups: []relay.Group{
			{ID: "db-oncall", Name: "DB 당직", Members: []string{"kim"}},
			{ID: "payments", Name: "결제팀", Members: []string{"choi", "kim"}},
		},
	}
}

// TestRosterReplace puts the roster as YAML, then as JSON, and reads each
// back.
func TestRosterReplace(t *testing.T) {
	h := newHarness(t)
	if got := h.roster(t); !equalRosters(got, *baseRoster()) {
		t.Fatalf("initial roster = %+v, want the roster file's", got)
	}

	a := h.do(t, t.Context(), request{method: http.MethodPut, path: "/v1/roster", auth: bearer(adminToken), contentType: "application/yaml", body: newRosterYAML})
	if a.status != http.StatusOK {
		t.Fatalf("PUT YAML: %d %s", a.status, a.body)
	}
	var counts struct{ People, Groups int }
	a.decode(t, &counts)
	if counts.People != 2 || counts.Groups != 2 {
		t.Errorf("PUT answered %+v, want 2 people and 2 groups", counts)
	}
	if got := h.roster(t); !equalRosters(got, newRoster()) {
		t.Errorf("roster after PUT YAML = %+v, want %+v", got, newRoster())
	}

	back := *baseRoster()
	a = h.do(t, t.Context(), request{method: http.MethodPut, path: "/v1/roster", auth: bearer(adminToken), contentType: "application/json", body: mustJSON(t, back)})
	if a.status != http.StatusOK {
		t.Fatalf("PUT JSON: %d %s", a.status, a.body)
	}
	if got := h.roster(t); !equalRosters(got, back) {
		t.Errorf("roster after PUT JSON = %+v, want %+v", got, back)
	}
	if !slices.ContainsFunc(h.logLines(), func(l string) bool {
		return strings.Contains(l, "roster replaced") && strings.Contains(l, "by="+adminName)
	}) {
		t.Errorf("no log line says who replaced the roster:\n%s", h.logs.String())
	}
}

// TestRosterChangeKeepsAudience changes the roster after a post: the
// message keeps the audience it resolved, later posts get the new one.
func TestRosterChangeKeepsAudience(t *testing.T) {
	h := newHarness(t)
	before := h.accept(t, botToken, relay.Post{Incident: incident, Text: koText, To: []string{"group:db-oncall"}}, "")
	if before.Recipients != 2 {
		t.Fatalf("before the change the group reached %d people, want 2", before.Recipients)
	}
	h.settled(t, before.ID)

	a := h.do(t, t.Context(), request{method: http.MethodPut, path: "/v1/roster", auth: bearer(adminToken), contentType: "application/yaml", body: newRosterYAML})
	if a.status != http.StatusOK {
		t.Fatalf("PUT: %d %s", a.status, a.body)
	}

	m := h.message(t, before.ID)
	var people []string
	for _, r := range m.Recipients {
		people = append(people, r.Person)
	}
	if !slices.Equal(people, []string{"kim", "lee"}) {
		t.Errorf("message posted before the change now has recipients %q, want [kim lee]", people)
	}
	if m.Recipients[1].Name != "Lee Seo-yeon" {
		t.Errorf("lee's name in the old message = %q", m.Recipients[1].Name)
	}

	after := h.accept(t, botToken, relay.Post{Incident: incident, Text: "복구 진행 중", To: []string{"group:db-oncall"}}, "")
	if after.Recipients != 1 {
		t.Errorf("after the change the group reached %d people, want 1 (kim)", after.Recipients)
	}
	m = h.settled(t, after.ID)
	if len(m.Recipients) != 1 || m.Recipients[0].Person != "kim" {
		t.Errorf("new message's recipients = %+v, want kim", m.Recipients)
	}

	// lee is gone from the roster, so naming lee is refused now.
	a = h.do(t, t.Context(), postBody(`{"incident":"db-outage","text":"x","to":["person:lee"]}`))
	if a.status != http.StatusUnprocessableEntity || a.problem(t).Field != "to[0]" {
		t.Errorf("posting to a removed person: %d %s", a.status, a.body)
	}
}
