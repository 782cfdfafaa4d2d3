package api_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/oob-relay/relay/internal/testkit"
	"github.com/oob-relay/relay/relay/api"
)

// TestPacedHandlerSharesTheAddressWait: a handler that checks its own
// credentials, served through Paced, makes its wrong ones count as the
// address's wrong tokens: after the free ones, the address waits, on that
// handler and on the API, before any credential of its is looked at. A
// 401 to a request without credentials is no guess, and the handler's
// requests take from the address's bucket.
func TestPacedHandlerSharesTheAddressWait(t *testing.T) {
	h := newHarness(t)
	clock := testkit.NewClock(time.Date(2026, 12, 2, 9, 0, 0, 0, time.UTC))
	reg := prometheus.NewRegistry()
	a, err := api.New(api.Options{Node: h.node, Tokens: testTokens, Now: clock.Now, Registerer: reg, Logger: h.log,
		Limits: api.Limits{PerAddress: api.Rate{PerSecond: 1, Burst: 20}, AuthDelay: time.Second}})
	if err != nil {
		t.Fatal(err)
	}
	looked := 0
	hook := a.Paced(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		looked++
		if r.Header.Get("Authorization") != "Bearer right" {
			w.WriteHeader(http.StatusUnauthorized)
		}
	}))
	do := func(hd http.Handler, path, auth string) *httptest.ResponseRecorder {
		method := http.MethodPost
		if hd == a {
			method = http.MethodGet
		}
		req := httptest.NewRequest(method, path, nil)
		req.RemoteAddr = "192.0.2.9:40000"
		if auth != "" {
			req.Header.Set("Authorization", auth)
		}
		rec := httptest.NewRecorder()
		hd.ServeHTTP(rec, req)
		return rec
	}
	for range 3 {
		do(hook, "/hook", "") // no credentials: not counted
	}
	for i := range api.FreeAuthFailures + 1 {
		if rec := do(hook, "/hook", "Bearer wrong"); rec.Code != http.StatusUnauthorized {
			t.Fatalf("wrong credentials %d: %d", i+1, rec.Code)
		}
	}
	before := looked
	if rec := do(hook, "/hook", "Bearer right"); rec.Code != http.StatusTooManyRequests || rec.Header().Get("Retry-After") != "1" ||
		!strings.Contains(rec.Body.String(), "too many wrong tokens from 192.0.2.9") {
		t.Errorf("the right credentials within the wait: %d %q %s", rec.Code, rec.Header().Get("Retry-After"), rec.Body)
	}
	if looked != before {
		t.Error("the handler looked at credentials within the address's wait")
	}
	if rec := do(a, "/v1/incidents", "Bearer "+viewerToken); rec.Code != http.StatusTooManyRequests {
		t.Errorf("the API within the wait the hook's guesses started: %d %s", rec.Code, rec.Body)
	}
	clock.Add(time.Second)
	if rec := do(hook, "/hook", "Bearer right"); rec.Code != http.StatusOK {
		t.Errorf("the right credentials after the wait: %d %s", rec.Code, rec.Body)
	}
	if n := testkit.Metric(t, reg, "relay_http_auth_failures_total", "reason", "invalid"); n != 4 {
		t.Errorf("relay_http_auth_failures_total{reason=invalid} = %v, want 4", n)
	}
	// The hook's requests and the API's took from one bucket of 20; the
	// second of refill added one.
	for i := range 11 {
		if rec := do(hook, "/hook", ""); rec.Code != http.StatusUnauthorized {
			t.Fatalf("request %d within the burst: %d %s", 11+i, rec.Code, rec.Body)
		}
	}
	if rec := do(hook, "/hook", ""); rec.Code != http.StatusTooManyRequests || !strings.Contains(rec.Body.String(), "too many requests from 192.0.2.9") {
		t.Errorf("past the address's burst: %d %s", rec.Code, rec.Body)
	}
}
