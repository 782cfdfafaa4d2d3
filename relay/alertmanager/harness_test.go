package alertmanager_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/oob-relay/relay/channels/email"
	"github.com/oob-relay/relay/channels/email/mailsink"
	"github.com/oob-relay/relay/internal/testkit"
	"github.com/oob-relay/relay/relay"
	"github.com/oob-relay/relay/relay/alertmanager"
	"github.com/oob-relay/relay/relay/delivery"
	"github.com/oob-relay/relay/relay/node"
	"github.com/oob-relay/relay/relay/problem"
)

// author is the name the webhook posts under on the node.
const author = "alertmanager"

// roster has two people reached by email (one reads Korean, one English),
// one reachable only by SMS, which the test node has no provider for, and
// a group of the first two.
func roster() *relay.Roster {
	return &relay.Roster{
		People: []relay.Person{
			{ID: "kim", Name: "김민준", Email: "kim@example.com"},
			{ID: "lee", Name: "Lee Seo-yeon", Email: "lee@example.com", Lang: "en"},
			{ID: "park", Name: "박지훈", Phone: "+821012345678"},
		},
		Groups: []relay.Group{{ID: "db-oncall", Name: "DB 당직", Members: []string{"kim", "lee"}}},
	}
}

// harness is the webhook in front of a real relay node that delivers
// email to an SMTP sink. Alertmanager's side is a plain HTTP client.
type harness struct {
	node   *node.Node
	sink   *mailsink.Sink
	url    string
	client *http.Client
	reg    *prometheus.Registry
	logs   *testkit.LogBuffer
	// calls counts calls of Options.Post; faults makes that many of the
	// next calls fail as a full disk would.
	calls  atomic.Int32
	faults atomic.Int32
}

func newHarness(t *testing.T, cfg *alertmanager.Config) *harness {
	t.Helper()
	h := &harness{logs: &testkit.LogBuffer{}, reg: prometheus.NewRegistry()}
	log := slog.New(slog.NewJSONHandler(h.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	var err error
	h.sink, err = mailsink.Start(mailsink.Options{Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { h.sink.Close() })
	mailer, err := email.New(email.Config{Address: h.sink.Addr(), TLS: email.TLSNone, From: "relay <relay@example.com>", Timeout: 5 * time.Second},
		email.Options{Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	h.node, err = node.Open(node.Options{
		Name:           "seoul-1",
		DataDir:        t.TempDir(),
		Providers:      []delivery.Provider{{Name: "smtp-sink", Channel: relay.ChannelEmail, Sender: mailer}},
		Deadline:       func(relay.Severity) time.Duration { return time.Minute },
		AttemptTimeout: 5 * time.Second,
		Roster:         roster(),
		Logger:         log,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := h.node.Close(ctx); err != nil {
			t.Errorf("close node: %v", err)
		}
	})
	if err := h.node.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	h.serve(t, cfg, log)
	base := &http.Transport{}
	t.Cleanup(base.CloseIdleConnections)
	h.client = &http.Client{Transport: base, Timeout: 10 * time.Second}
	return h
}

// serve starts the webhook over cfg in front of the harness's node.
func (h *harness) serve(t *testing.T, cfg *alertmanager.Config, log *slog.Logger) {
	t.Helper()
	srv := httptest.NewServer(alertmanager.Handler(alertmanager.Options{Config: cfg, Post: h.post, Logger: log, Registerer: h.reg}))
	t.Cleanup(srv.Close)
	h.url = srv.URL
}

// post is Options.Post, as a node's wiring makes it.
func (h *harness) post(ctx context.Context, p *relay.Post, key string) (string, bool, error) {
	h.calls.Add(1)
	if h.faults.Add(-1) >= 0 {
		return "", false, errors.New("store: write: no space left on device")
	}
	acc, err := h.node.Post(ctx, p, node.Author{Name: author, Via: relay.ViaAlertmanager}, key)
	if err != nil {
		return "", false, err
	}
	return acc.Message.ID, acc.Replayed, nil
}

// answer is a webhook answer.
type answer struct {
	status int
	header http.Header
	body   []byte
}

func (a answer) response(t *testing.T) alertmanager.Response {
	t.Helper()
	if a.status != http.StatusOK {
		t.Fatalf("status %d, want 200: %s", a.status, a.body)
	}
	var r alertmanager.Response
	if err := json.Unmarshal(a.body, &r); err != nil {
		t.Fatalf("answer %s: %v", a.body, err)
	}
	return r
}

func (a answer) problem(t *testing.T, status int, code string) problem.Problem {
	t.Helper()
	if a.status != status {
		t.Fatalf("status %d, want %d: %s", a.status, status, a.body)
	}
	if ct := a.header.Get("Content-Type"); ct != "application/json; charset=utf-8" {
		t.Errorf("Content-Type %q", ct)
	}
	var body struct {
		Error problem.Problem `json:"error"`
	}
	dec := json.NewDecoder(bytes.NewReader(a.body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&body); err != nil {
		t.Fatalf("problem %s: %v", a.body, err)
	}
	if body.Error.Code != code {
		t.Errorf("code %q, want %q: %s", body.Error.Code, code, a.body)
	}
	return body.Error
}

// bearer and basic set Alertmanager's credentials on a request.
func bearer(tok string) func(*http.Request) {
	return func(r *http.Request) { r.Header.Set("Authorization", "Bearer "+tok) }
}

func basic(user, pass string) func(*http.Request) {
	return func(r *http.Request) { r.SetBasicAuth(user, pass) }
}

// send posts body as Alertmanager does: POST, application/json, and the
// credentials given.
func (h *harness) send(t *testing.T, body []byte, auth ...func(*http.Request)) answer {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, h.url, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "Alertmanager/0.28.1")
	for _, a := range auth {
		a(req)
	}
	return h.do(t, req)
}

func (h *harness) do(t *testing.T, req *http.Request) answer {
	t.Helper()
	resp, err := h.client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return answer{status: resp.StatusCode, header: resp.Header, body: b}
}

// messages returns the incident's messages on the node.
func (h *harness) messages(t *testing.T, incident string) []relay.Message {
	t.Helper()
	ms, err := h.node.Store().IncidentMessages(incident)
	if err != nil {
		t.Fatal(err)
	}
	return ms
}
