package api_test

import (
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/oob-relay/relay/relay"
	"github.com/oob-relay/relay/relay/api"
	"github.com/oob-relay/relay/relay/node"
)

// TestAckForAPerson: an admin token acknowledges an incident for a person
// (who answered a call at the desk, say), a bot only for the people of
// its answer_for; the incident shows them acknowledged over the API. A
// second acknowledgement records nothing more; an unknown incident is
// 404, a person outside the roster 422, a viewer 403.
func TestAckForAPerson(t *testing.T) {
	h := newHarness(t)
	acc := h.accept(t, botToken, relay.Post{Incident: incident, Text: koText, To: []string{"group:db-oncall"},
		Severity: relay.SeverityCritical}, "")
	ack := func(tok, inc, person string) *answer {
		return h.do(t, t.Context(), request{method: http.MethodPost, path: "/v1/incidents/" + inc + "/acks", auth: bearer(tok),
			contentType: "application/json", body: mustJSON(t, api.AckRequest{Person: person})})
	}
	acked := func(a *answer) []string {
		t.Helper()
		if a.status != http.StatusOK {
			t.Fatalf("ack: %d %s", a.status, a.body)
		}
		var res api.AckResult
		a.decode(t, &res)
		return res.Messages
	}
	if a := ack(botToken, incident, "kim"); a.status != http.StatusForbidden || !strings.Contains(string(a.body), "answer_for") {
		t.Errorf("a bot with no answer_for acknowledged: %d %s", a.status, a.body)
	}
	if a := ack(otherToken, incident, "kim"); a.status != http.StatusForbidden || !strings.Contains(string(a.body), "only for person:lee") {
		t.Errorf("a bot acknowledged outside its answer_for: %d %s", a.status, a.body)
	}
	if a := ack(viewerToken, incident, "kim"); a.status != http.StatusForbidden {
		t.Errorf("a viewer acknowledged: %d %s", a.status, a.body)
	}
	if got := acked(ack(otherToken, incident, "lee")); !slices.Equal(got, []string{acc.ID}) {
		t.Errorf("lee acknowledged %v, want %s", got, acc.ID)
	}
	if got := acked(ack(adminToken, incident, "kim")); !slices.Equal(got, []string{acc.ID}) {
		t.Errorf("kim acknowledged %v, want %s", got, acc.ID)
	}
	if got := acked(ack(adminToken, incident, "kim")); len(got) != 0 {
		t.Errorf("kim acknowledged again: %v", got)
	}
	if a := ack(adminToken, incident, "nobody"); a.status != http.StatusUnprocessableEntity || !strings.Contains(string(a.body), "person") {
		t.Errorf("someone outside the roster: %d %s", a.status, a.body)
	}
	if a := ack(adminToken, "no-such-incident", "kim"); a.status != http.StatusNotFound {
		t.Errorf("unknown incident: %d %s", a.status, a.body)
	}
	var inc api.IncidentView
	h.get(t, viewerToken, "/v1/incidents/"+incident).decode(t, &inc)
	var who []string
	for _, a := range inc.Acknowledged {
		if a.Channel != relay.ChannelAPI {
			t.Errorf("%s acknowledged on %s, want api", a.Person, a.Channel)
		}
		who = append(who, a.Person)
	}
	slices.Sort(who)
	if !slices.Equal(who, []string{"kim", "lee"}) || len(inc.NotAcknowledged) != 0 {
		t.Errorf("acknowledged %v, not acknowledged %v; want kim and lee, nobody", who, inc.NotAcknowledged)
	}

	// An acknowledgement from the web console shows as such (the
	// description once listed only the channels people answer on).
	h.accept(t, botToken, relay.Post{Incident: "console-ack", Text: koText, To: []string{"person:kim"}, Severity: relay.SeverityCritical}, "")
	if _, err := h.node.AckIncident(t.Context(), "kim", "console-ack", node.ChannelConsole); err != nil {
		t.Fatal(err)
	}
	h.get(t, viewerToken, "/v1/incidents/console-ack").decode(t, &inc)
	if len(inc.Acknowledged) != 1 || inc.Acknowledged[0].Channel != node.ChannelConsole {
		t.Errorf("console acknowledgement shows as %+v", inc.Acknowledged)
	}
}
