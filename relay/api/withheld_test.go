package api_test

import (
	"net/http"
	"testing"

	"github.com/oob-relay/relay/relay"
	"github.com/oob-relay/relay/relay/api"
)

// TestTimelineShowsWithheldReplies reads an incident whose timeline holds
// a reply sent to nobody, an out-of-office mail: the entry says why, and
// the incident and the withheld message read as the API describes them.
func TestTimelineShowsWithheldReplies(t *testing.T) {
	h := newHarness(t)
	acc := h.accept(t, botToken, relay.Post{Incident: incident, Text: koText, To: []string{"group:db-oncall"}}, "")
	h.settled(t, acc.ID)
	ans, err := h.node.Receive(t.Context(), &relay.Inbound{Channel: relay.ChannelEmail, From: "lee@example.com",
		Text: "I am out of the office until Monday.", ID: "ooo.1@example.com", Automatic: true})
	if err != nil {
		t.Fatal(err)
	}
	a := h.get(t, viewerToken, "/v1/incidents/"+incident)
	if a.status != http.StatusOK {
		t.Fatalf("GET incident: %d %s", a.status, a.body)
	}
	var inc api.IncidentView
	a.decode(t, &inc)
	if len(inc.Timeline) != 2 {
		t.Fatalf("timeline %+v, want the alert and the withheld reply", inc.Timeline)
	}
	if e := inc.Timeline[0]; e.Withheld != "" || e.Summarises != nil {
		t.Errorf("the alert's entry %+v", e)
	}
	e := inc.Timeline[1]
	if e.Message != ans.Message.ID || e.Author != "lee" || e.Withheld != relay.WithheldAutomatic ||
		e.Text != "Lee Seo-yeon: I am out of the office until Monday." || len(e.Summary) != 0 {
		t.Errorf("the out-of-office entry %+v", e)
	}
	m := h.message(t, ans.Message.ID)
	if len(m.Recipients) != 0 || len(m.Deliveries) != 0 || !m.Settled {
		t.Errorf("the withheld message reads %+v", m)
	}
}
