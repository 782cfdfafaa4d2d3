package api_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/oob-relay/relay/relay"
	"github.com/oob-relay/relay/relay/api"
	"github.com/oob-relay/relay/relay/drill"
)

// TestDrill starts a drill through the API as an admin (a bot may not),
// lists it, and reads its report in every format; a bad request and a
// post to a drill's incident change nothing.
func TestDrill(t *testing.T) {
	h := newHarness(t)
	before := h.state(t)
	start := relay.DrillStart{To: []string{"group:db-oncall"}, Channels: []string{relay.ChannelEmail}, Text: "정기 훈련입니다. 답해 주세요."}
	post := func(tok string, body any) *answer {
		ctx := t.Context()
		if body, ok := body.(relay.DrillStart); ok && body.Validate() != nil {
			ctx, _ = offContract(ctx)
		}
		return h.do(t, ctx, request{method: http.MethodPost, path: "/v1/drills", auth: bearer(tok),
			contentType: "application/json", body: mustJSON(t, body)})
	}
	if a := post(botToken, start); a.status != http.StatusForbidden {
		t.Errorf("a bot started a drill: %d %s", a.status, a.body)
	}
	bad := relay.DrillStart{To: []string{"escalation:db"}, Channels: []string{"nats"}, Text: " ", Lang: "ja"}
	a := post(adminToken, bad)
	if a.status != http.StatusUnprocessableEntity {
		t.Errorf("bad drill: %d %s", a.status, a.body)
	}
	for _, field := range []string{"text", "to[0]", "channels[0]", "lang"} {
		if !strings.Contains(string(a.body), `"`+field+`"`) {
			t.Errorf("the refusal does not name %s: %s", field, a.body)
		}
	}
	h.unchanged(t, before)

	a = post(adminToken, start)
	if a.status != http.StatusAccepted {
		t.Fatalf("start: %d %s", a.status, a.body)
	}
	var st api.DrillStarted
	a.decode(t, &st)
	d := st.Drill
	if a.header.Get("Location") != "/v1/drills/"+d.ID || !strings.HasPrefix(d.Incident, relay.DrillIncidentPrefix) || st.Recipients == 0 {
		t.Fatalf("start answered %+v, Location %q", st, a.header.Get("Location"))
	}
	m := h.settled(t, d.Message)
	if m.Severity != string(relay.SeverityCritical) {
		t.Errorf("the drill's message: %+v", m)
	}
	// Nobody posts to a drill's incident but the drill.
	a = h.do(t, t.Context(), request{method: http.MethodPost, path: "/v1/messages", auth: bearer(adminToken), contentType: "application/json",
		body: mustJSON(t, relay.Post{Incident: d.Incident, Text: "not a drill", To: []string{"everyone"}})})
	if a.status != http.StatusUnprocessableEntity || !strings.Contains(string(a.body), "drills'") {
		t.Errorf("a post to a drill's incident: %d %s", a.status, a.body)
	}

	var list api.DrillList
	if a := h.get(t, viewerToken, "/v1/drills"); a.status != http.StatusOK {
		t.Fatalf("list: %d %s", a.status, a.body)
	} else {
		a.decode(t, &list)
	}
	if len(list.Drills) != 1 || list.Drills[0].ID != d.ID {
		t.Errorf("list: %+v", list)
	}
	var rep drill.Report
	if a := h.get(t, viewerToken, "/v1/drills/"+d.ID+"/report"); a.status != http.StatusOK {
		t.Fatalf("report: %d %s", a.status, a.body)
	} else {
		a.decode(t, &rep)
	}
	if rep.Summary.People != st.Recipients+st.Unreachable || rep.Reached != st.Recipients {
		t.Errorf("report: %d people, %d reached; the drill reached %d of %d", rep.Summary.People, rep.Reached, st.Recipients,
			st.Recipients+st.Unreachable)
	}
	for format, want := range map[string]string{"csv": "person,name,channel", "html": "<svg", "text": "훈련 " + d.Message} {
		a := h.get(t, viewerToken, "/v1/drills/"+d.ID+"/report?format="+format)
		if a.status != http.StatusOK || !strings.Contains(string(a.body), want) {
			t.Errorf("report as %s: %d, no %q in\n%.300s", format, a.status, want, a.body)
		}
	}
	ctx, _ := offContract(t.Context())
	if a := h.do(t, ctx, request{method: http.MethodGet, path: "/v1/drills/" + d.ID + "/report?format=pdf", auth: bearer(viewerToken)}); a.status != http.StatusUnprocessableEntity {
		t.Errorf("report as pdf: %d %s", a.status, a.body)
	}
	if a := h.get(t, viewerToken, "/v1/drills/nope/report"); a.status != http.StatusNotFound {
		t.Errorf("report of no drill: %d %s", a.status, a.body)
	}
}
