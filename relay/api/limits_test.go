package api_test

import (
	"fmt"
	"net/http"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/oob-relay/relay/internal/testkit"
	"github.com/oob-relay/relay/relay"
	"github.com/oob-relay/relay/relay/api"
	"github.com/oob-relay/relay/relay/problem"
)

// limited serves the harness's node through an API with limits, on a
// clock the test moves, and returns the registry of its metrics.
func (h *harness) limited(t *testing.T, clock *testkit.Clock, limits api.Limits, trusted ...netip.Prefix) *prometheus.Registry {
	t.Helper()
	reg := prometheus.NewRegistry()
	h.url = h.serve(t, api.Options{Node: h.node, Tokens: testTokens, Limits: limits, TrustedProxies: trusted,
		Now: clock.Now, Gatherer: reg, Registerer: reg, Logger: h.log})
	return reg
}

// wantThrottled checks a 429 answer: its Retry-After, its problem and
// that the problem says why.
func wantThrottled(t *testing.T, a *answer, retryAfter string, says string) {
	t.Helper()
	if a.status != http.StatusTooManyRequests {
		t.Fatalf("status %d, want 429: %s", a.status, a.body)
	}
	if got := a.header.Get("Retry-After"); got != retryAfter {
		t.Errorf("Retry-After %q, want %q", got, retryAfter)
	}
	p := a.problem(t)
	if p.Code != problem.CodeRateLimited || !strings.Contains(p.Message, says) || !strings.Contains(p.Message, "retry in "+retryAfter+" s") {
		t.Errorf("problem %+v, want rate_limited saying %q and the wait", p, says)
	}
}

// TestRateLimitPerAddress checks the bucket of one client address: a
// burst passes, the next request is answered 429 with Retry-After and
// the API's error shape and changes nothing, the bucket refills with
// time, and health and readiness are never limited.
func TestRateLimitPerAddress(t *testing.T) {
	h := newHarness(t)
	clock := testkit.NewClock(time.Date(2026, 11, 24, 9, 0, 0, 0, time.UTC))
	reg := h.limited(t, clock, api.Limits{PerAddress: api.Rate{PerSecond: 0.5, Burst: 3}, PerToken: api.NoLimit})
	for i := range 3 {
		if a := h.get(t, viewerToken, "/v1/incidents"); a.status != http.StatusOK {
			t.Fatalf("request %d of the burst: %d %s", i+1, a.status, a.body)
		}
	}
	before := h.state(t)
	a := h.post(t, botToken, relay.Post{Incident: incident, Text: koText, To: []string{"everyone"}}, "")
	wantThrottled(t, a, "2", "too many requests from 127.0.0.1")
	h.unchanged(t, before)
	ctx, _ := offContract(t.Context())
	wantThrottled(t, h.do(t, ctx, request{method: http.MethodGet, path: "/v1/nothing", auth: bearer(viewerToken)}), "2", "127.0.0.1")
	for range 20 {
		for _, path := range []string{"/healthz", "/readyz", "/metrics"} {
			if a := h.do(t, t.Context(), request{method: http.MethodGet, path: path}); a.status != http.StatusOK {
				t.Fatalf("GET %s while the address is limited: %d %s", path, a.status, a.body)
			}
		}
	}
	clock.Add(1999 * time.Millisecond)
	wantThrottled(t, h.get(t, viewerToken, "/v1/incidents"), "1", "too many requests")
	clock.Add(time.Millisecond)
	if a := h.get(t, viewerToken, "/v1/incidents"); a.status != http.StatusOK {
		t.Fatalf("after the wait: %d %s", a.status, a.body)
	}
	if n := testkit.Metric(t, reg, "relay_http_throttled_total", "limit", "address"); n != 3 {
		t.Errorf("relay_http_throttled_total{limit=address} = %v, want 3", n)
	}
	if n := testkit.Metric(t, reg, "relay_http_throttled_total", "limit", "token"); n != 0 {
		t.Errorf("relay_http_throttled_total{limit=token} = %v, want 0", n)
	}
	if !strings.Contains(h.logs.String(), `msg="request throttled" client=127.0.0.1 limit=address method=POST path=/v1/messages retry_after_seconds=2`) {
		t.Errorf("no log line for the throttled post:\n%s", h.logs.String())
	}
}

// TestRateLimitPerToken checks the bucket of one token: past it, the
// token is answered 429 while other tokens from the same address go on.
func TestRateLimitPerToken(t *testing.T) {
	h := newHarness(t)
	clock := testkit.NewClock(time.Date(2026, 11, 24, 9, 0, 0, 0, time.UTC))
	h.limited(t, clock, api.Limits{PerAddress: api.NoLimit, PerToken: api.Rate{PerSecond: 1, Burst: 2}})
	for range 2 {
		h.get(t, botToken, "/v1/incidents")
	}
	wantThrottled(t, h.get(t, botToken, "/v1/incidents"), "1", "too many requests with token "+botName)
	if a := h.get(t, otherToken, "/v1/incidents"); a.status != http.StatusOK {
		t.Errorf("another token: %d %s", a.status, a.body)
	}
	clock.Add(time.Second)
	if a := h.get(t, botToken, "/v1/incidents"); a.status != http.StatusOK {
		t.Errorf("after a second: %d %s", a.status, a.body)
	}
}

// TestTrustedProxies checks whose address a request counts for: behind
// a trusted proxy, the client X-Forwarded-For names; from anyone else,
// the peer, whatever the header claims.
func TestTrustedProxies(t *testing.T) {
	h := newHarness(t)
	clock := testkit.NewClock(time.Date(2026, 11, 24, 9, 0, 0, 0, time.UTC))
	limits := api.Limits{PerAddress: api.Rate{PerSecond: 1, Burst: 1}, PerToken: api.NoLimit}
	from := func(xff string) *answer {
		return h.do(t, t.Context(), withHeader(request{method: http.MethodGet, path: "/v1/incidents", auth: bearer(viewerToken)}, "X-Forwarded-For", xff))
	}

	h.limited(t, clock, limits) // no proxy is trusted: a forged header buys nothing
	if a := from("203.0.113.7"); a.status != http.StatusOK {
		t.Fatalf("first: %d", a.status)
	}
	wantThrottled(t, from("203.0.113.8"), "1", "from 127.0.0.1")

	h.limited(t, clock, limits, netip.MustParsePrefix("127.0.0.0/8"), netip.MustParsePrefix("10.0.0.0/8"))
	for _, xff := range []string{"203.0.113.7", "198.51.100.1, 10.1.2.3", "2001:db8:1:2::1", "192.0.2.9, 2001:db8:1:3::7"} {
		if a := from(xff); a.status != http.StatusOK {
			t.Fatalf("first request from %s: %d %s", xff, a.status, a.body)
		}
	}
	wantThrottled(t, from("203.0.113.7"), "1", "from 203.0.113.7")
	wantThrottled(t, from("spoofed, 198.51.100.1, 10.9.9.9"), "1", "from 198.51.100.1")
	wantThrottled(t, from("2001:db8:1:2::ffff"), "1", "from 2001:db8:1:2::/64")
	wantThrottled(t, from("192.0.2.200, 2001:db8:1:3:abcd::1"), "1", "from 2001:db8:1:3::/64")
}

// TestFailedAuthenticationSlowsTheAddress checks what wrong tokens cost an
// address: three pass as plain 401s; from the fourth on, the address must
// wait 1 s, 2 s, 4 s … up to the maximum before a token of its is looked
// at again, so that even the right token is answered 429 within the wait.
// Each failure is logged with the client's address and never the token,
// and counted by reason.
func TestFailedAuthenticationSlowsTheAddress(t *testing.T) {
	h := newHarness(t)
	clock := testkit.NewClock(time.Date(2026, 11, 24, 9, 0, 0, 0, time.UTC))
	reg := h.limited(t, clock, api.Limits{AuthDelay: time.Second, AuthMaxDelay: 4 * time.Second})
	ctx, _ := offContract(t.Context())
	wrong := func() *answer { return h.do(t, ctx, withAuth(postBody(validPost), bearer(wrongToken))) }
	for i := range api.FreeAuthFailures + 1 {
		if a := wrong(); a.status != http.StatusUnauthorized {
			t.Fatalf("wrong token %d: %d %s", i+1, a.status, a.body)
		}
	}
	before := h.state(t)
	wantThrottled(t, h.post(t, botToken, relay.Post{Incident: incident, Text: koText, To: []string{"everyone"}}, ""), "1", "too many wrong tokens from 127.0.0.1")
	wantThrottled(t, wrong(), "1", "wrong tokens")
	h.unchanged(t, before)
	// Requests without a token are not guesses, and health is never held back.
	if a := h.do(t, ctx, withAuth(postBody(validPost), "")); a.status != http.StatusUnauthorized {
		t.Errorf("no token within the wait: %d, want 401", a.status)
	}
	if a := h.do(t, t.Context(), request{method: http.MethodGet, path: "/readyz"}); a.status != http.StatusOK {
		t.Errorf("readyz within the wait: %d", a.status)
	}

	for _, wait := range []time.Duration{time.Second, 2 * time.Second, 4 * time.Second, 4 * time.Second} {
		clock.Add(wait - time.Millisecond)
		wantThrottled(t, h.get(t, viewerToken, "/v1/incidents"), "1", "wrong tokens")
		clock.Add(time.Millisecond)
		if a := wrong(); a.status != http.StatusUnauthorized {
			t.Fatalf("a wrong token after %v: %d %s", wait, a.status, a.body)
		}
	}
	clock.Add(4 * time.Second)
	if a := h.get(t, viewerToken, "/v1/incidents"); a.status != http.StatusOK {
		t.Fatalf("the right token after the wait: %d %s", a.status, a.body)
	}
	// Forgotten after a quiet quarter of an hour: three free ones again.
	clock.Add(15 * time.Minute)
	for range api.FreeAuthFailures {
		wrong()
	}
	if a := h.get(t, viewerToken, "/v1/incidents"); a.status != http.StatusOK {
		t.Fatalf("the right token after three wrong ones, a quarter of an hour later: %d %s", a.status, a.body)
	}

	if n := testkit.Metric(t, reg, "relay_http_auth_failures_total", "reason", "invalid"); n != 11 {
		t.Errorf("relay_http_auth_failures_total{reason=invalid} = %v, want 11", n)
	}
	if n := testkit.Metric(t, reg, "relay_http_auth_failures_total", "reason", "missing"); n != 1 {
		t.Errorf("relay_http_auth_failures_total{reason=missing} = %v, want 1", n)
	}
	if n := testkit.Metric(t, reg, "relay_http_throttled_total", "limit", "auth"); n != 6 {
		t.Errorf("relay_http_throttled_total{limit=auth} = %v, want 6", n)
	}
	logs := h.logs.String()
	for _, want := range []string{
		`level=WARN msg="authentication failed" client=127.0.0.1 reason=invalid method=POST path=/v1/messages failures_in_a_row=1`,
		`failures_in_a_row=4 wait=1s`,
		`failures_in_a_row=5 wait=2s`,
		`failures_in_a_row=7 wait=4s`,
		`msg="authentication failed" client=127.0.0.1 reason=missing`,
	} {
		if !strings.Contains(logs, want) {
			t.Errorf("log lacks %q:\n%s", want, logs)
		}
	}
	for _, tok := range []string{wrongToken, botToken, viewerToken} {
		if strings.Contains(logs, tok) {
			t.Fatalf("a token reached the log:\n%s", logs)
		}
	}
}

// TestFailedAuthenticationLogIsBounded sends a flood of wrong and
// missing tokens: every one is counted, but the log takes only a few
// lines, the next of which says how many were held back.
func TestFailedAuthenticationLogIsBounded(t *testing.T) {
	h := newHarness(t)
	clock := testkit.NewClock(time.Date(2026, 11, 24, 9, 0, 0, 0, time.UTC))
	reg := h.limited(t, clock, api.Limits{PerAddress: api.NoLimit})
	ctx, _ := offContract(t.Context())
	for i := range 300 {
		h.do(t, ctx, withAuth(withHeader(postBody(validPost), "X-Forwarded-For", fmt.Sprint(i)), ""))
	}
	lines := strings.Count(h.logs.String(), `msg="authentication failed"`)
	if lines == 0 || lines > 20 {
		t.Fatalf("%d log lines for 300 failures at one moment", lines)
	}
	clock.Add(time.Second)
	h.do(t, ctx, withAuth(postBody(validPost), ""))
	if want := fmt.Sprintf("lines_suppressed=%d", 301-lines-1); !strings.Contains(h.logs.String(), want) {
		t.Errorf("the next line does not say %q:\n%s", want, h.logs.String())
	}
	if n := testkit.Metric(t, reg, "relay_http_auth_failures_total", "reason", "missing"); n != 301 {
		t.Errorf("relay_http_auth_failures_total{reason=missing} = %v, want 301", n)
	}
}
