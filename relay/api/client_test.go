package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/oob-relay/relay/internal/testkit"
	"github.com/oob-relay/relay/relay"
	"github.com/oob-relay/relay/relay/api"
	"github.com/oob-relay/relay/relay/problem"
)

// request is one HTTP request a test makes.
type request struct {
	method, path string
	// auth is the whole Authorization header; empty sends none.
	auth        string
	contentType string
	body        string
	header      map[string]string
}

func bearer(tok string) string { return "Bearer " + tok }

// answer is an HTTP answer, read whole.
type answer struct {
	status int
	header http.Header
	body   []byte
}

// do sends r with ctx and reads the answer, failing the test on a
// transport error.
func (h *harness) do(t testing.TB, ctx context.Context, r request) *answer {
	t.Helper()
	a, err := h.send(ctx, r)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// send sends r with ctx and reads the answer. Unlike do it may be called
// from any goroutine.
func (h *harness) send(ctx context.Context, r request) (*answer, error) {
	var body io.Reader
	if r.body != "" {
		body = strings.NewReader(r.body)
	}
	req, err := http.NewRequestWithContext(ctx, r.method, h.url+r.path, body)
	if err != nil {
		return nil, err
	}
	if r.auth != "" {
		req.Header.Set("Authorization", r.auth)
	}
	if r.contentType != "" {
		req.Header.Set("Content-Type", r.contentType)
	}
	for k, v := range r.header {
		req.Header.Set(k, v)
	}
	resp, err := h.client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", r.method, r.path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, fmt.Errorf("%s %s: read answer: %w", r.method, r.path, err)
	}
	return &answer{status: resp.StatusCode, header: resp.Header, body: b}, nil
}

// get reads path with tok.
func (h *harness) get(t testing.TB, tok, path string) *answer {
	t.Helper()
	return h.do(t, t.Context(), request{method: http.MethodGet, path: path, auth: bearer(tok)})
}

// post posts p with tok and, when key is set, an Idempotency-Key.
func (h *harness) post(t testing.TB, tok string, p relay.Post, key string) *answer {
	t.Helper()
	r := request{method: http.MethodPost, path: "/v1/messages", auth: bearer(tok), contentType: "application/json", body: mustJSON(t, p)}
	if key != "" {
		r.header = map[string]string{"Idempotency-Key": key}
	}
	return h.do(t, t.Context(), r)
}

// accept posts p and returns the accepted message, failing unless the
// answer is 202.
func (h *harness) accept(t testing.TB, tok string, p relay.Post, key string) api.Accepted {
	t.Helper()
	a := h.post(t, tok, p, key)
	if a.status != http.StatusAccepted {
		t.Fatalf("post: %d %s", a.status, a.body)
	}
	var acc api.Accepted
	a.decode(t, &acc)
	return acc
}

// message reads a message, failing unless it exists.
func (h *harness) message(t testing.TB, id string) api.MessageView {
	t.Helper()
	a := h.get(t, viewerToken, "/v1/messages/"+id)
	if a.status != http.StatusOK {
		t.Fatalf("GET message %s: %d %s", id, a.status, a.body)
	}
	var m api.MessageView
	a.decode(t, &m)
	return m
}

// settled polls a message until it is settled and so is every delivery
// it lists. Both are checked because one answer can disagree with itself
// (see TestMessageViewIsConsistent), and tests here look at deliveries.
func (h *harness) settled(t testing.TB, id string) api.MessageView {
	t.Helper()
	var m api.MessageView
	testkit.EventuallyNil(t, 10*time.Second, func() error {
		m = h.message(t, id)
		open := slices.ContainsFunc(m.Deliveries, func(d api.DeliveryView) bool { return !d.Status.Settled() })
		if !m.Settled || open {
			return fmt.Errorf("message %s not settled: %v", id, m.Summary)
		}
		return nil
	})
	return m
}

// roster reads the current roster through the API.
func (h *harness) roster(t testing.TB) relay.Roster {
	t.Helper()
	a := h.get(t, viewerToken, "/v1/roster")
	if a.status != http.StatusOK {
		t.Fatalf("GET roster: %d %s", a.status, a.body)
	}
	var r relay.Roster
	a.decode(t, &r)
	return r
}

func (a *answer) decode(t testing.TB, v any) {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(a.body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		t.Fatalf("decode %T from %s: %v", v, a.body, err)
	}
}

// problem decodes an error answer.
func (a *answer) problem(t testing.TB) problem.Problem {
	t.Helper()
	var env struct {
		Error problem.Problem `json:"error"`
	}
	a.decode(t, &env)
	return env.Error
}

func mustJSON(t testing.TB, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
