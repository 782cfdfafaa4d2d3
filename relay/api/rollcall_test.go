package api_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/oob-relay/relay/relay"
	"github.com/oob-relay/relay/relay/api"
)

// TestRollCall starts a roll-call through the API, answers it by email
// and through the API, and reads the tally as JSON, as CSV and in the
// incident; a bot may not answer for people outside its answer_for, and
// a bad digit changes nothing.
func TestRollCall(t *testing.T) {
	h := newHarness(t)
	start := relay.RollCallStart{Incident: incident, Question: "판교 화재. 안전하면 1, 도움이 필요하면 2",
		Options: []relay.RollCallOption{{Digit: 1, Label: "안전"}, {Digit: 2, Label: "도움 필요", Urgent: true}},
		To:      []string{"group:db-oncall", "person:park"}, Reping: "10m", Until: "2h"}
	a := h.do(t, t.Context(), request{method: http.MethodPost, path: "/v1/rollcalls", auth: bearer(botToken),
		contentType: "application/json", body: mustJSON(t, start)})
	if a.status != http.StatusAccepted {
		t.Fatalf("start: %d %s", a.status, a.body)
	}
	var st api.RollCallStarted
	a.decode(t, &st)
	id := st.RollCall.ID
	if a.header.Get("Location") != "/v1/rollcalls/"+id || st.RollCall.StartedBy != botName {
		t.Fatalf("start answered %+v, Location %q", st, a.header.Get("Location"))
	}
	q := h.settled(t, st.RollCall.Message)
	if !strings.Contains(q.Text, "1 = 안전") || !strings.Contains(q.Text, "답하는 법") {
		t.Errorf("question text %q", q.Text)
	}

	// lee answers 1 by mail; the answer is no reply to the incident.
	before := h.messages(t)
	ans, err := h.node.Receive(t.Context(), &relay.Inbound{Channel: relay.ChannelEmail, From: "lee@example.com",
		Text: "1\n\n> 판교 화재", ID: "answer.1@example.com"})
	if err != nil || ans.Message != nil || ans.Incident != incident {
		t.Fatalf("mail answer: %+v, %v", ans, err)
	}
	if n := h.messages(t); n != before {
		t.Errorf("an answer posted %d messages", n-before)
	}

	answer := func(tok, person string, digit int) *answer {
		return h.do(t, t.Context(), request{method: http.MethodPost, path: "/v1/rollcalls/" + id + "/answers", auth: bearer(tok),
			contentType: "application/json", body: mustJSON(t, api.AnswerRequest{Person: person, Answer: digit})})
	}
	if a := answer(botToken, "kim", 1); a.status != http.StatusForbidden || !strings.Contains(string(a.body), "answer_for") {
		t.Errorf("a bot with no answer_for answered: %d %s", a.status, a.body)
	}
	if a := answer(adminToken, "kim", 7); a.status != http.StatusUnprocessableEntity || !strings.Contains(string(a.body), "7 is not an option") {
		t.Errorf("digit 7: %d %s", a.status, a.body)
	}
	if a := answer(adminToken, "nobody", 1); a.status != http.StatusUnprocessableEntity {
		t.Errorf("someone not asked: %d %s", a.status, a.body)
	}
	if a := answer(adminToken, "kim", 1); a.status != http.StatusOK {
		t.Fatalf("admin answer: %d %s", a.status, a.body)
	}
	if a := answer(adminToken, "kim", 2); a.status != http.StatusOK { // the latest answer counts
		t.Fatalf("admin answer: %d %s", a.status, a.body)
	}

	a = h.get(t, viewerToken, "/v1/rollcalls/"+id)
	if a.status != http.StatusOK {
		t.Fatalf("tally: %d %s", a.status, a.body)
	}
	var tally relay.Tally
	a.decode(t, &tally)
	if tally.Audience != 3 || tally.Answered != 2 || tally.Unreachable != 1 || tally.Options[0].Count != 1 || tally.Options[1].Count != 1 {
		t.Errorf("tally %+v", tally)
	}
	a = h.get(t, viewerToken, "/v1/rollcalls/"+id+"?format=csv")
	if a.status != http.StatusOK || !strings.HasPrefix(a.header.Get("Content-Type"), "text/csv") {
		t.Fatalf("CSV: %d %s", a.status, a.body)
	}
	lines := strings.Split(strings.TrimSpace(string(a.body)), "\n")
	if len(lines) != 4 || lines[0] != "person,name,answer,channel,time,state,by" ||
		!strings.HasPrefix(lines[1], "kim,김민준,2=도움 필요,api,") || !strings.HasPrefix(lines[2], "lee,Lee Seo-yeon,1=안전,email,") ||
		lines[3] != "park,박지훈,,,,unreachable," {
		t.Errorf("CSV:\n%s", a.body)
	}
	off, _ := offContract(t.Context())
	if a := h.do(t, off, request{method: http.MethodGet, path: "/v1/rollcalls/" + id + "?format=xml", auth: bearer(viewerToken)}); a.status != http.StatusUnprocessableEntity {
		t.Errorf("format=xml: %d", a.status)
	}
	if a := h.get(t, viewerToken, "/v1/rollcalls/nope"); a.status != http.StatusNotFound {
		t.Errorf("unknown roll-call: %d", a.status)
	}
	a = h.get(t, viewerToken, "/v1/incidents/"+incident)
	var inc api.IncidentView
	a.decode(t, &inc)
	if len(inc.RollCalls) != 1 || inc.RollCalls[0].ID != id || inc.RollCalls[0].Answered != 2 {
		t.Errorf("incident roll-calls %+v", inc.RollCalls)
	}
	var acks []string
	for _, ack := range inc.Acknowledged {
		acks = append(acks, ack.Person)
	}
	// An answer acknowledges, on whichever channel it came.
	if !slicesEqual(acks, []string{"lee", "kim"}) {
		t.Errorf("acknowledged %v; want lee, who answered by mail, and kim, answered for through the API", acks)
	}
}

func slicesEqual(a, b []string) bool { return strings.Join(a, ",") == strings.Join(b, ",") }
