package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/gorillamux"
)

// specPath is the API description, beside the handlers.
const specPath = "openapi.yaml"

// contract is openapi.yaml, checked and routed. It is loaded once per test
// binary and shared: kin-openapi documents are safe for concurrent reads.
type contract struct {
	doc    *openapi3.T
	router routers.Router
	// errorSchema is the error envelope, for answers no operation covers.
	errorSchema *openapi3.Schema
}

var loadContract = sync.OnceValues(func() (*contract, error) {
	loader := openapi3.NewLoader()
	doc, err := loader.LoadFromFile(specPath)
	if err != nil {
		return nil, fmt.Errorf("load %s: %w", specPath, err)
	}
	// Examples are checked too: they are what readers copy.
	if err := doc.Validate(loader.Context); err != nil {
		return nil, fmt.Errorf("check %s: %w", specPath, err)
	}
	// The servers name relay dev's address; tests listen elsewhere.
	doc.Servers = nil
	for _, item := range doc.Paths.Map() {
		item.Servers = nil
		for _, op := range item.Operations() {
			op.Servers = nil
		}
	}
	router, err := gorillamux.NewRouter(doc)
	if err != nil {
		return nil, fmt.Errorf("route %s: %w", specPath, err)
	}
	ref := doc.Components.Schemas["Error"]
	if ref == nil || ref.Value == nil {
		return nil, fmt.Errorf("%s has no Error schema", specPath)
	}
	return &contract{doc: doc, router: router, errorSchema: ref.Value}, nil
})

func specFor(t testing.TB) *contract {
	t.Helper()
	c, err := loadContract()
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// bearerOnly is the description's security scheme as a check: the request
// carries "Authorization: Bearer <token>". Whether the token is valid is
// the handler's business, not the description's.
func bearerOnly(_ context.Context, in *openapi3filter.AuthenticationInput) error {
	if in.SecurityScheme == nil || in.SecurityScheme.Type != "http" || !strings.EqualFold(in.SecurityScheme.Scheme, "bearer") {
		return in.NewError(fmt.Errorf("unexpected security scheme %q", in.SecuritySchemeName))
	}
	scheme, tok, ok := strings.Cut(in.RequestValidationInput.Request.Header.Get("Authorization"), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") || strings.TrimSpace(tok) == "" {
		return in.NewError(errors.New("no Authorization: Bearer <token> header"))
	}
	return nil
}

func requestOptions() *openapi3filter.Options {
	return &openapi3filter.Options{
		AuthenticationFunc:  bearerOnly,
		MultiError:          true,
		SkipSettingDefaults: true,
	}
}

func responseOptions() *openapi3filter.Options {
	return &openapi3filter.Options{MultiError: true, IncludeResponseStatus: true}
}

// verdict is what the description says of one request a test sends
// outside the contract on purpose.
type verdict struct {
	mu sync.Mutex
	// routeErr is set when no operation of the description matches.
	routeErr error
	// requestErr is set when the operation's request rules refuse it.
	requestErr error
}

func (v *verdict) outside() error {
	v.mu.Lock()
	defer v.mu.Unlock()
	return errors.Join(v.routeErr, v.requestErr)
}

type verdictKey struct{}

// offContract marks requests made with the returned context as sent
// outside the contract on purpose (bad input, unknown routes): the
// checking transport records what the description says of the request in
// the verdict instead of failing the test. Answers are checked all the
// same.
func offContract(ctx context.Context) (context.Context, *verdict) {
	v := &verdict{}
	return context.WithValue(ctx, verdictKey{}, v), v
}

// checkedTransport checks every request and every answer that pass
// through it against the description, failing the test on a mismatch. It
// also keeps every answer, so tests can look for leaked secrets.
type checkedTransport struct {
	t    testing.TB
	spec *contract
	base http.RoundTripper

	mu      sync.Mutex
	answers []seenAnswer
}

// seenAnswer is one answer as it came back.
type seenAnswer struct {
	method, path string
	status       int
	header       http.Header
	body         []byte
}

func (c *checkedTransport) seen() []seenAnswer {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]seenAnswer(nil), c.answers...)
}

// RoundTrip sends req and checks the exchange. It reports mismatches with
// Errorf, which is safe from the goroutines concurrent tests use.
func (c *checkedTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	var body []byte
	if req.Body != nil {
		var err error
		body, err = io.ReadAll(req.Body)
		req.Body.Close()
		if err != nil {
			return nil, err
		}
		req.Body = io.NopCloser(bytes.NewReader(body))
	}
	v, _ := req.Context().Value(verdictKey{}).(*verdict)
	what := req.Method + " " + req.URL.Path

	check := req.Clone(req.Context())
	check.Body = io.NopCloser(bytes.NewReader(body))
	route, params, routeErr := c.spec.router.FindRoute(check)
	var in *openapi3filter.RequestValidationInput
	if routeErr == nil {
		in = &openapi3filter.RequestValidationInput{Request: check, PathParams: params, Route: route, Options: requestOptions()}
		if err := openapi3filter.ValidateRequest(req.Context(), in); err != nil {
			if v == nil {
				c.t.Errorf("contract: request %s does not follow %s: %v", what, specPath, err)
			} else {
				v.mu.Lock()
				v.requestErr = err
				v.mu.Unlock()
			}
		}
	} else if v == nil {
		c.t.Errorf("contract: %s has no operation in %s: %v", what, specPath, routeErr)
	} else {
		v.mu.Lock()
		v.routeErr = routeErr
		v.mu.Unlock()
	}

	resp, err := c.base.RoundTrip(req)
	if err != nil {
		return nil, err
	}
	answer, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		return nil, err
	}
	resp.Body = io.NopCloser(bytes.NewReader(answer))
	c.mu.Lock()
	c.answers = append(c.answers, seenAnswer{req.Method, req.URL.Path, resp.StatusCode, resp.Header.Clone(), answer})
	c.mu.Unlock()

	if in != nil {
		out := &openapi3filter.ResponseValidationInput{
			RequestValidationInput: in,
			Status:                 resp.StatusCode,
			Header:                 resp.Header,
			Body:                   io.NopCloser(bytes.NewReader(answer)),
			Options:                responseOptions(),
		}
		if strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") {
			// kin-openapi decodes no HTML: its status and headers are
			// checked, its body is not.
			out.Options.ExcludeResponseBody = true
		}
		if err := openapi3filter.ValidateResponse(req.Context(), out); err != nil {
			c.t.Errorf("contract: answer %d to %s does not follow %s: %v\nbody: %s", resp.StatusCode, what, specPath, err, answer)
		}
		return resp, nil
	}
	// No operation covers the request, so the answer can only be the
	// error envelope.
	if err := c.spec.checkEnvelope(resp.Header, answer); err != nil {
		c.t.Errorf("contract: answer %d to %s (no operation): %v\nbody: %s", resp.StatusCode, what, err, answer)
	}
	return resp, nil
}

// checkEnvelope checks that an answer is the description's error envelope.
func (s *contract) checkEnvelope(h http.Header, body []byte) error {
	if ct := h.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		return fmt.Errorf("Content-Type %q, want application/json", ct)
	}
	var v any
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	if err := dec.Decode(&v); err != nil {
		return fmt.Errorf("body is not JSON: %w", err)
	}
	if err := s.errorSchema.VisitJSON(v, openapi3.MultiErrors(), openapi3.VisitAsResponse()); err != nil {
		return fmt.Errorf("body is not the error envelope: %w", err)
	}
	return nil
}
