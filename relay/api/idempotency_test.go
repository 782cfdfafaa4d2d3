package api_test

import (
	"bytes"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/oob-relay/relay/relay"
	"github.com/oob-relay/relay/relay/api"
	"github.com/oob-relay/relay/relay/problem"
)

func idemPost() relay.Post {
	return relay.Post{Incident: incident, Text: koText, To: []string{"group:db-oncall"}, Severity: relay.SeverityCritical}
}

// TestIdempotentRetry posts the same body twice under one key: one
// message, one set of deliveries, and the same answer marked as replayed.
func TestIdempotentRetry(t *testing.T) {
	h := newHarness(t)
	const key = "3f6c1e2a-9b7d-4d0e-8a51-0c2f4b9e7d10"
	first := h.post(t, botToken, idemPost(), key)
	if first.status != http.StatusAccepted {
		t.Fatalf("first post: %d %s", first.status, first.body)
	}
	if got := first.header.Get("Idempotent-Replayed"); got != "" {
		t.Errorf("first post has Idempotent-Replayed: %q", got)
	}
	var acc api.Accepted
	first.decode(t, &acc)
	h.settled(t, acc.ID)

	again := h.post(t, botToken, idemPost(), key)
	if again.status != http.StatusAccepted {
		t.Fatalf("retry: %d %s", again.status, again.body)
	}
	if got := again.header.Get("Idempotent-Replayed"); got != "true" {
		t.Errorf("retry: Idempotent-Replayed = %q, want true", got)
	}
	if !bytes.Equal(again.body, first.body) {
		t.Errorf("retry answered\n%s\nwant the first answer\n%s", again.body, first.body)
	}
	if again.header.Get("Location") != first.header.Get("Location") {
		t.Errorf("retry Location %q, first %q", again.header.Get("Location"), first.header.Get("Location"))
	}

	m := h.settled(t, acc.ID)
	if len(m.Deliveries) != 3 {
		t.Errorf("%d deliveries after a retry, want 3", len(m.Deliveries))
	}
	for _, d := range m.Deliveries {
		if d.Attempts != 1 {
			t.Errorf("delivery %s made %d attempts, want 1", d.ID, d.Attempts)
		}
	}
	if n := h.messages(t); n != 1 {
		t.Errorf("%d messages stored, want 1", n)
	}
	if n := len(h.sink.Mails()); n != 2 {
		t.Errorf("sink got %d mails, want 2 (kim and lee, once each)", n)
	}
	if _, err := h.events.NextMsg(5 * time.Second); err != nil {
		t.Fatalf("no NATS event: %v", err)
	}
	if n := h.pendingEvents(t); n != 0 {
		t.Errorf("%d more NATS events after a retry, want none", n)
	}
}

// TestIdempotencyKeyReused refuses a different body under a used key.
func TestIdempotencyKeyReused(t *testing.T) {
	h := newHarness(t)
	const key = "deploy-42"
	acc := h.accept(t, botToken, idemPost(), key)
	h.settled(t, acc.ID)
	before := h.state(t)

	for _, change := range []struct {
		name string
		edit func(*relay.Post)
	}{
		{"text", func(p *relay.Post) { p.Text = "DB 장애: 결제 정상화" }},
		{"audience", func(p *relay.Post) { p.To = []string{"everyone"} }},
		{"severity", func(p *relay.Post) { p.Severity = "" }},
		{"channels", func(p *relay.Post) { p.Channels = []string{relay.ChannelEmail} }},
	} {
		t.Run(change.name, func(t *testing.T) {
			p := idemPost()
			change.edit(&p)
			a := h.post(t, botToken, p, key)
			if a.status != http.StatusUnprocessableEntity {
				t.Fatalf("status %d, want 422; body %s", a.status, a.body)
			}
			pr := a.problem(t)
			if pr.Code != problem.CodeKeyReused || pr.Field != "Idempotency-Key" {
				t.Errorf("problem = %+v, want code %s on Idempotency-Key", pr, problem.CodeKeyReused)
			}
			if want := `Idempotency-Key "deploy-42" was already used for a different message`; !strings.Contains(pr.Message, want) {
				t.Errorf("message %q does not say %q", pr.Message, want)
			}
			if a.header.Get("Location") != "" || a.header.Get("Idempotent-Replayed") != "" {
				t.Errorf("refusal carries Location %q, Idempotent-Replayed %q", a.header.Get("Location"), a.header.Get("Idempotent-Replayed"))
			}
			h.unchanged(t, before)
		})
	}
}

// TestIdempotencyKeyPerToken lets two tokens use one key for two messages.
func TestIdempotencyKeyPerToken(t *testing.T) {
	h := newHarness(t)
	const key = "nightly-backup"
	a := h.accept(t, botToken, idemPost(), key)
	b := h.accept(t, otherToken, idemPost(), key)
	if a.ID == b.ID {
		t.Fatalf("two tokens with one key got one message %s", a.ID)
	}
	if n := h.messages(t); n != 2 {
		t.Errorf("%d messages stored, want 2", n)
	}
	if got := h.message(t, a.ID).Author; got != botName {
		t.Errorf("first message's author = %q, want %q", got, botName)
	}
	if got := h.message(t, b.ID).Author; got != otherName {
		t.Errorf("second message's author = %q, want %q", got, otherName)
	}
}

// TestIdempotentConcurrentRetries sends ten retries at once: one message,
// one answer that is not a replay, ten answers naming it.
func TestIdempotentConcurrentRetries(t *testing.T) {
	h := newHarness(t)
	const key = "storm-1"
	const n = 10
	body := mustJSON(t, idemPost())
	var (
		wg      sync.WaitGroup
		start   = make(chan struct{})
		answers = make([]*answer, n)
	)
	for i := range n {
		wg.Go(func() {
			<-start
			answers[i] = h.postAsync(t, botToken, body, key)
		})
	}
	close(start)
	wg.Wait()

	ids := map[string]int{}
	fresh := 0
	for i, a := range answers {
		if a == nil {
			t.Fatalf("retry %d got no answer", i)
		}
		if a.status != http.StatusAccepted {
			t.Fatalf("retry %d: %d %s", i, a.status, a.body)
		}
		var acc api.Accepted
		a.decode(t, &acc)
		ids[acc.ID]++
		if a.header.Get("Idempotent-Replayed") == "" {
			fresh++
		}
	}
	if len(ids) != 1 {
		t.Errorf("retries got message ids %v, want one", ids)
	}
	if fresh != 1 {
		t.Errorf("%d answers were not replays, want exactly 1", fresh)
	}
	if n := h.messages(t); n != 1 {
		t.Errorf("%d messages stored, want 1", n)
	}
	for id := range ids {
		if m := h.settled(t, id); len(m.Deliveries) != 3 {
			t.Errorf("%d deliveries, want 3", len(m.Deliveries))
		}
	}
	if n := len(h.sink.Mails()); n != 2 {
		t.Errorf("sink got %d mails, want 2", n)
	}
}

// postAsync posts body with an Idempotency-Key from a goroutine other than
// the test's: failures are reported with Errorf and a nil answer.
func (h *harness) postAsync(t *testing.T, tok, body, key string) *answer {
	a, err := h.send(t.Context(), request{method: http.MethodPost, path: "/v1/messages", auth: bearer(tok),
		contentType: "application/json", body: body, header: map[string]string{"Idempotency-Key": key}})
	if err != nil {
		t.Error(err)
	}
	return a
}
