package api_test

import (
	"errors"
	"net/http"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/oob-relay/relay/relay"
	"github.com/oob-relay/relay/relay/api"
	"github.com/oob-relay/relay/relay/problem"
)

// TestHealthAndReadiness checks /healthz and /readyz, which need no token.
func TestHealthAndReadiness(t *testing.T) {
	h := newHarness(t)
	for _, path := range []string{"/healthz", "/readyz"} {
		a := h.do(t, t.Context(), request{method: http.MethodGet, path: path})
		if a.status != http.StatusOK {
			t.Fatalf("GET %s: %d %s", path, a.status, a.body)
		}
		var body struct{ Status, Node string }
		a.decode(t, &body)
		if body.Node != nodeName || (body.Status != "ok" && body.Status != "ready") {
			t.Errorf("GET %s = %+v", path, body)
		}
	}

	// A node that is not ready says why, in the error envelope.
	h.url = h.serve(t, api.Options{Node: h.node, Tokens: testTokens, Ready: func() error {
		return errors.New("store is replaying its log")
	}})
	a := h.do(t, t.Context(), request{method: http.MethodGet, path: "/readyz"})
	if a.status != http.StatusServiceUnavailable {
		t.Fatalf("GET /readyz while not ready: %d %s", a.status, a.body)
	}
	if p := a.problem(t); p.Code != problem.CodeUnavailable || !strings.Contains(p.Message, "store is replaying its log") {
		t.Errorf("not ready: %+v", p)
	}
	if a := h.do(t, t.Context(), request{method: http.MethodGet, path: "/healthz"}); a.status != http.StatusOK {
		t.Errorf("GET /healthz while not ready: %d, want 200: the process is alive", a.status)
	}
}

// TestMetrics checks that /metrics counts API requests by route and code.
func TestMetrics(t *testing.T) {
	h := newHarness(t)
	h.accept(t, botToken, relay.Post{Incident: incident, Text: koText, To: []string{"person:kim"}}, "")
	ctx, _ := offContract(t.Context())
	h.do(t, ctx, withAuth(postBody(validPost), bearer(wrongToken)))

	a := h.do(t, t.Context(), request{method: http.MethodGet, path: "/metrics"})
	if a.status != http.StatusOK {
		t.Fatalf("GET /metrics: %d %s", a.status, a.body)
	}
	if ct := a.header.Get("Content-Type"); !strings.HasPrefix(ct, "text/plain") {
		t.Errorf("Content-Type %q, want the Prometheus text format", ct)
	}
	text := string(a.body)
	for _, want := range []string{
		"# HELP relay_http_requests_total ",
		`relay_http_requests_total{code="202",route="/v1/messages"} 1`,
		`relay_http_requests_total{code="401",route="/v1/messages"} 1`,
		`relay_http_request_duration_seconds_count{route="/v1/messages"} 2`,
	} {
		if !strings.Contains(text, want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
}

// TestNoMetricsWithoutGatherer checks that an API built without a
// registry to serve has no /metrics.
func TestNoMetricsWithoutGatherer(t *testing.T) {
	h := newHarness(t)
	h.url = h.serve(t, api.Options{Node: h.node, Tokens: testTokens, Registerer: prometheus.NewRegistry()})
	ctx, _ := offContract(t.Context())
	a := h.do(t, ctx, request{method: http.MethodGet, path: "/metrics"})
	if a.status != http.StatusNotFound || a.problem(t).Code != problem.CodeNotFound {
		t.Errorf("GET /metrics without a gatherer: %d %s, want 404 not_found", a.status, a.body)
	}
}

// TestSecretsStayHidden makes every kind of request, including refused
// ones with a wrong token, and looks for any token in the node's log
// (debug level, every component) and in every answer.
func TestSecretsStayHidden(t *testing.T) {
	h := newHarness(t)
	acc := h.accept(t, adminToken, relay.Post{Incident: incident, Text: koText, To: []string{"group:db-oncall"}}, "key-1")
	h.accept(t, botToken, relay.Post{Incident: incident, Text: koText, To: []string{"group:db-oncall"}}, "key-1")
	h.settled(t, acc.ID)
	h.roster(t)
	h.get(t, viewerToken, "/v1/incidents/"+incident)
	a := h.do(t, t.Context(), request{method: http.MethodPut, path: "/v1/roster", auth: bearer(adminToken), contentType: "application/yaml", body: newRosterYAML})
	if a.status != http.StatusOK {
		t.Fatalf("PUT roster: %d %s", a.status, a.body)
	}
	ctx, _ := offContract(t.Context())
	for _, r := range []request{
		withAuth(postBody(validPost), bearer(wrongToken)),
		withAuth(postBody(validPost), "Basic "+wrongToken),
		withAuth(postBody(validPost), bearer(viewerToken)),
		withAuth(postBody(validPost), wrongToken),
		rosterBody(bearer(botToken), "application/yaml", newRosterYAML),
		postBody(`{"incident":"db-outage","text":"x","to":["group:nobody"]}`),
	} {
		h.do(t, ctx, r)
	}

	logs := h.logs.String()
	for _, want := range []string{"message accepted", "author=" + adminName, "roster replaced", "email sent"} {
		if !strings.Contains(logs, want) {
			t.Errorf("log lacks %q, so the capture is not seeing the node:\n%s", want, logs)
		}
	}
	secrets := []string{adminToken, botToken, otherToken, viewerToken, wrongToken}
	for _, s := range secrets {
		if strings.Contains(logs, s) {
			t.Errorf("a token appears in the log:\n%s", logs)
		}
	}
	seen := h.wire.seen()
	if len(seen) < 10 {
		t.Fatalf("only %d answers recorded", len(seen))
	}
	for _, ans := range seen {
		for _, s := range secrets {
			if strings.Contains(string(ans.body), s) || strings.Contains(headerText(ans.header), s) {
				t.Errorf("a token appears in the answer %d to %s %s: %s", ans.status, ans.method, ans.path, ans.body)
			}
		}
	}
}

func headerText(h http.Header) string {
	var b strings.Builder
	for k, vs := range h {
		b.WriteString(k + ": " + strings.Join(vs, ", ") + "\n")
	}
	return b.String()
}

// TestClusterOfALoneNode checks GET /v1/cluster on a node without a
// cluster: it answers itself alone, ready, owning its unsettled
// deliveries.
func TestClusterOfALoneNode(t *testing.T) {
	h := newHarness(t)
	a := h.do(t, t.Context(), withAuth(request{method: http.MethodGet, path: "/v1/cluster"}, bearer(viewerToken)))
	if a.status != http.StatusOK {
		t.Fatalf("GET /v1/cluster: %d %s", a.status, a.body)
	}
	var v api.ClusterView
	a.decode(t, &v)
	if v.Self != nodeName || !v.Ready || len(v.Members) != 1 || !v.Members[0].Self || v.Members[0].State != "alive" {
		t.Fatalf("cluster of a lone node = %+v", v)
	}
	ctx, _ := offContract(t.Context())
	if a := h.do(t, ctx, request{method: http.MethodGet, path: "/v1/cluster"}); a.status != http.StatusUnauthorized {
		t.Errorf("GET /v1/cluster without a token: %d, want 401", a.status)
	}
}
