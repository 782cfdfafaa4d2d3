package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	"slices"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3filter"

	"github.com/oob-relay/relay/relay"
	"github.com/oob-relay/relay/relay/api"
	"github.com/oob-relay/relay/relay/node"
)

// fuzzMaxBody is small so the fuzzer reaches the size limit.
const fuzzMaxBody = 4 << 10

// FuzzPostMessage sends arbitrary bodies, media types and idempotency keys
// to POST /v1/messages. The handler must never panic or fail with a 500;
// it answers 202, 400, 413, 415 or 422, as openapi.yaml describes; it
// accepts only posts that decode strictly and validate; and a refused
// post stores nothing.
func FuzzPostMessage(f *testing.F) {
	for _, seed := range []struct{ body, contentType, key string }{
		{validPost, "application/json", ""},
		{validPost, "application/json; charset=utf-8", "retry-1"},
		{`{"incident":"db-outage","text":"복구 완료","to":["everyone"],"severity":"info","channels":["email"]}`, "", ""},
		{`{"incident":"db-outage","text":"x","to":["person:kim","group:db-oncall","everyone"]}`, "", "k"},
		{`{"incident":"db-outage","text":"x","to":["person:nobody"]}`, "application/json", ""},
		{`{"incident":"DB","text":" ","to":[],"severity":"urgent","channels":["fax","fax"]}`, "application/json", ""},
		{`{"incident":"db-outage","text":"x","to":"everyone"}`, "application/json", ""},
		{`{"incident":"db-outage","text":"x","to":["everyone"],"extra":null}`, "application/json", ""},
		{validPost + " {}", "application/json", ""},
		{`[]`, "application/json", ""},
		{`null`, "application/json", ""},
		{`{"text":"\ud800"}`, "application/json", ""},
		{"{\"incident\":\"db-outage\",\"text\":\"\xff\",\"to\":[\"everyone\"]}", "application/json", ""},
		{`{"incident":"db-outage","text":"ok\u001b[2J\u202e","to":["everyone","everyone"]}`, "application/json", "key\u202e"},
		{"", "application/json", ""},
		{"{", "application/json", ""},
		{validPost, "text/plain", ""},
		{validPost, "application/json", string(bytes.Repeat([]byte("k"), 300))},
	} {
		f.Add([]byte(seed.body), seed.contentType, seed.key)
	}

	n, err := node.Open(node.Options{
		Name:     nodeName,
		DataDir:  f.TempDir(),
		Deadline: func(relay.Severity) time.Duration { return time.Minute },
		Roster:   baseRoster(),
	})
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { n.Close(context.Background()) })
	if err := n.Start(context.Background()); err != nil {
		f.Fatal(err)
	}
	a, err := api.New(api.Options{Node: n, Tokens: testTokens, MaxBodyBytes: fuzzMaxBody, Limits: unlimited})
	if err != nil {
		f.Fatal(err)
	}
	spec := specFor(f)
	route, _, err := spec.router.FindRoute(httptest.NewRequest(http.MethodPost, "/v1/messages", nil))
	if err != nil {
		f.Fatal(err)
	}

	f.Fuzz(func(t *testing.T, body []byte, contentType, key string) {
		before, err := n.Store().Marks()
		if err != nil {
			t.Fatal(err)
		}
		req := httptest.NewRequest(http.MethodPost, "/v1/messages", bytes.NewReader(body))
		req.Header["Authorization"] = []string{bearer(botToken)}
		if contentType != "" {
			req.Header["Content-Type"] = []string{contentType}
		}
		if key != "" {
			req.Header["Idempotency-Key"] = []string{key}
		}
		w := httptest.NewRecorder()
		a.ServeHTTP(w, req)

		res := w.Result()
		answer, _ := io.ReadAll(res.Body)
		switch res.StatusCode {
		case http.StatusAccepted, http.StatusBadRequest, http.StatusRequestEntityTooLarge,
			http.StatusUnsupportedMediaType, http.StatusUnprocessableEntity:
		default:
			t.Fatalf("status %d for body %q (Content-Type %q): %s", res.StatusCode, body, contentType, answer)
		}
		in := &openapi3filter.ResponseValidationInput{
			RequestValidationInput: &openapi3filter.RequestValidationInput{Request: req, Route: route},
			Status:                 res.StatusCode,
			Header:                 res.Header,
			Body:                   io.NopCloser(bytes.NewReader(answer)),
			Options:                responseOptions(),
		}
		if err := openapi3filter.ValidateResponse(context.Background(), in); err != nil {
			t.Fatalf("answer %d does not follow %s: %v\nbody: %s", res.StatusCode, specPath, err, answer)
		}

		after, err := n.Store().Marks()
		if err != nil {
			t.Fatal(err)
		}
		stored := !maps.Equal(before, after)
		if res.StatusCode != http.StatusAccepted {
			if stored {
				t.Fatalf("refused with %d but the event log grew: %s", res.StatusCode, answer)
			}
			return
		}
		replayed := res.Header.Get("Idempotent-Replayed") == "true"
		if stored == replayed {
			t.Errorf("accepted (replayed %v) but stored %v", replayed, stored)
		}
		var p relay.Post
		dec := json.NewDecoder(bytes.NewReader(body))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&p); err != nil {
			t.Fatalf("accepted a body that does not decode: %v", err)
		}
		if err := p.Validate(); err != nil {
			t.Fatalf("accepted an invalid post: %v", err)
		}
		var acc api.Accepted
		if err := json.Unmarshal(answer, &acc); err != nil {
			t.Fatal(err)
		}
		m, err := n.Store().Message(acc.ID)
		if err != nil {
			t.Fatalf("accepted message %s is not stored: %v", acc.ID, err)
		}
		var to []string // the post's audience, each target once
		for _, t := range p.To {
			if !slices.Contains(to, t) {
				to = append(to, t)
			}
		}
		if m.Text != p.Text || m.Incident != p.Incident || !slices.Equal(m.To, to) {
			t.Errorf("stored %+v for post %+v", m, p)
		}
	})
}
