package emulator

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/gorillamux"
)

// Spec is Twilio's OpenAPI description of its 2010-04-01 REST API, ready to
// check requests and responses against. It is safe for concurrent use and
// is meant to be loaded once and shared.
type Spec struct {
	doc      *openapi3.T
	router   routers.Router
	requests []openapi3.SchemaValidationOption
	answers  []openapi3.SchemaValidationOption
}

// LoadSpec reads and checks the description at path, usually
// twilio_api_v2010.yaml from Twilio's twilio-oai repository (spec/yaml/).
// The description's servers are dropped so that requests to any host match.
func LoadSpec(path string) (*Spec, error) {
	loader := openapi3.NewLoader()
	doc, err := loader.LoadFromFile(path)
	if err != nil {
		return nil, fmt.Errorf("load Twilio OpenAPI description: %w", err)
	}
	doc.Servers = nil
	for _, item := range doc.Paths.Map() {
		item.Servers = nil
		for _, op := range item.Operations() {
			op.Servers = nil
		}
	}
	if err := doc.Validate(context.Background(), openapi3.DisableExamplesValidation()); err != nil {
		return nil, fmt.Errorf("check Twilio OpenAPI description %s: %w", path, err)
	}
	router, err := gorillamux.NewRouter(doc)
	if err != nil {
		return nil, fmt.Errorf("route Twilio OpenAPI description %s: %w", path, err)
	}
	// Twilio's own formats, checked where they are strict enough to catch
	// a real mistake. The rest (phone-number, twiml, endpoint...) are
	// looser than any check the emulator could make, and it checks
	// numbers itself.
	//
	// The description marks the date filters of its lists (DateSent,
	// StartTime, EndTime, DateCreated... and nothing else) date-time, yet
	// documents each as a date, YYYY-MM-DD, and gives dates as examples;
	// twilio-go sends RFC 3339 times. Both are accepted. And the paging
	// links of a list page (first_page_uri, next_page_uri...) are marked
	// uri, yet Twilio answers them as paths on its API host, as the
	// description's examples show and as twilio-go reads them; an answer
	// may give a path there, while a URL in a request (a StatusCallback)
	// must be absolute.
	requests := map[string]openapi3.StringFormatValidator{
		"date-time":          openapi3.NewCallbackValidator(checkDateFilter),
		"date-time-rfc-2822": openapi3.NewCallbackValidator(checkRFC2822),
		"uri":                openapi3.NewCallbackValidator(checkURI),
	}
	answers := map[string]openapi3.StringFormatValidator{
		"date-time-rfc-2822": openapi3.NewCallbackValidator(checkRFC2822),
		"uri":                openapi3.NewCallbackValidator(checkURIOrPath),
	}
	return &Spec{
		doc:    doc,
		router: router,
		requests: []openapi3.SchemaValidationOption{
			openapi3.WithStringFormatValidators(requests),
			openapi3.DisableSchemaErrorDetails(),
		},
		answers: []openapi3.SchemaValidationOption{
			openapi3.WithStringFormatValidators(answers),
			openapi3.DisableSchemaErrorDetails(),
		},
	}, nil
}

func checkRFC2822(s string) error {
	if _, err := time.Parse(time.RFC1123Z, s); err != nil {
		return fmt.Errorf("not an RFC 2822 date such as %q", "Thu, 24 Aug 2023 05:01:45 +0000")
	}
	return nil
}

func checkURI(s string) error {
	u, err := url.Parse(s)
	if err != nil || !u.IsAbs() || u.Host == "" {
		return errors.New("not an absolute URL")
	}
	return nil
}

// checkURIOrPath accepts an absolute URL or an absolute path.
func checkURIOrPath(s string) error {
	u, err := url.Parse(s)
	if err == nil && !u.IsAbs() && u.Host == "" && strings.HasPrefix(u.Path, "/") {
		return nil
	}
	if checkURI(s) != nil {
		return errors.New("neither an absolute URL nor an absolute path")
	}
	return nil
}

// checkDateFilter accepts a date filter's value: a date (YYYY-MM-DD) or
// an RFC 3339 time.
func checkDateFilter(s string) error {
	if _, ok := parseDay(s); !ok {
		return fmt.Errorf("neither a date such as %q nor an RFC 3339 time", "2026-11-03")
	}
	return nil
}

// errNoRoute marks a request for an operation the description lacks.
var errNoRoute = errors.New("no such operation in Twilio's description")

// exchange is a request as the emulator saw it, kept so the answer can be
// checked against the same operation.
type exchange struct {
	input *openapi3filter.RequestValidationInput
}

// checkRequest validates r, whose body has already been read into body,
// against the description. It returns the exchange for checkResponse, or
// the violation.
func (s *Spec) checkRequest(ctx context.Context, r *http.Request, body []byte) (*exchange, error) {
	route, params, err := s.router.FindRoute(r)
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w (%v)", r.Method, r.URL.Path, errNoRoute, err)
	}
	req := r.Clone(ctx)
	req.Body = io.NopCloser(bytes.NewReader(body))
	in := &openapi3filter.RequestValidationInput{
		Request:    req,
		PathParams: params,
		Route:      route,
		Options: &openapi3filter.Options{
			AuthenticationFunc:      openapi3filter.NoopAuthenticationFunc,
			MultiError:              true,
			SchemaValidationOptions: s.requests,
		},
	}
	if err := openapi3filter.ValidateRequest(ctx, in); err != nil {
		return nil, fmt.Errorf("%s %s: %w", r.Method, r.URL.Path, err)
	}
	return &exchange{input: in}, nil
}

// checkResponse validates an answer to a request checkRequest accepted.
// Statuses the description does not list (Twilio's errors) are not checked.
func (s *Spec) checkResponse(ctx context.Context, ex *exchange, status int, header http.Header, body []byte) error {
	in := &openapi3filter.ResponseValidationInput{
		RequestValidationInput: ex.input,
		Status:                 status,
		Header:                 header,
		Body:                   io.NopCloser(bytes.NewReader(body)),
		Options: &openapi3filter.Options{
			MultiError:              true,
			SchemaValidationOptions: s.answers,
		},
	}
	if err := openapi3filter.ValidateResponse(ctx, in); err != nil {
		req := ex.input.Request
		return fmt.Errorf("answer %d to %s %s: %w", status, req.Method, req.URL.Path, err)
	}
	return nil
}
