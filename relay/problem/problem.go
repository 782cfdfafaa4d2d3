// Package problem is relay's one error shape: what every interface that
// refuses a request answers, whether the HTTP API, the Alertmanager
// webhook or NATS ingest. A Problem carries a stable Code for programs to
// branch on, a Message for people and, when fields are at fault, which
// ones; the Code constants are the one closed set of codes.
//
// Over HTTP a Problem is answered as its JSON inside an Envelope,
// {"error": {...}}, as relay/api's OpenAPI description shows. NATS replies
// carry the same Problem in their own rendering (see channels/nats).
package problem

import (
	"errors"
	"strings"

	"github.com/oob-relay/relay/relay"
)

// Error codes. They are part of relay's interfaces: clients branch on
// them, and each interface's description lists those it answers with.
const (
	// CodeInvalidJSON: the body is not one JSON object of the expected
	// shape.
	CodeInvalidJSON = "invalid_json"
	// CodeUnknownField: the body has a field the interface does not know.
	CodeUnknownField = "unknown_field"
	// CodeInvalidField: a field's value cannot be accepted.
	CodeInvalidField = "invalid_field"
	// CodeBodyTooLarge: the body is over the limit.
	CodeBodyTooLarge = "body_too_large"
	// CodeUnsupportedType: the Content-Type is not one the endpoint reads.
	CodeUnsupportedType = "unsupported_media_type"
	// CodeUnauthorized: no valid credentials.
	CodeUnauthorized = "unauthorized"
	// CodeForbidden: the credentials' role does not allow the request.
	CodeForbidden = "forbidden"
	// CodeNotFound: no such message, incident or endpoint.
	CodeNotFound = "not_found"
	// CodeMethod: a path asked with a method it does not serve.
	CodeMethod = "method_not_allowed"
	// CodeKeyReused: the idempotency key was used for a different message.
	CodeKeyReused = "idempotency_key_reused"
	// CodeRateLimited: the sender (a client address, a token, a bot) sent
	// too many requests, or too many wrong tokens; retry after the wait
	// the answer gives.
	CodeRateLimited = "rate_limited"
	// CodeTimeout: not done in time; it may still be done.
	CodeTimeout = "timeout"
	// CodeUnavailable: the node cannot take the request now; retry.
	CodeUnavailable = "unavailable"
	// CodeInternal: the node failed; its log has the cause.
	CodeInternal = "internal"
	// CodeNoRoute: an Alertmanager notification's alerts matched no route
	// and there is no default.
	CodeNoRoute = "no_route"
	// CodeSuperseded: the change was recorded, but a later one made at
	// the same time on another node is in place.
	CodeSuperseded = "superseded"
)

// Problem says why a request was refused. Its JSON is the body of an
// HTTP error answer inside an Envelope. It is an error, so that a part of
// relay can choose the answer to a request it refuses.
type Problem struct {
	Code    string `json:"code"`
	Message string `json:"message"`
	// Field is the request field, roster key or header at fault, when
	// there is one; the first of them when there are several.
	Field string `json:"field,omitempty"`
	// Details lists every problem when there are several.
	Details []Detail `json:"details,omitempty"`
}

func (p *Problem) Error() string { return p.Code + ": " + p.Message }

// Detail is one of several problems.
type Detail struct {
	Field   string `json:"field,omitempty"`
	Message string `json:"message"`
}

// Envelope is the body of an HTTP error answer: {"error": Problem}.
type Envelope struct {
	Error Problem `json:"error"`
}

// Invalid returns the CodeInvalidField problem listing details, which
// must not be empty: Field is the first detail's, Message joins them all
// (see Join), and Details lists them when there are several.
func Invalid(details []Detail) Problem {
	p := Problem{Code: CodeInvalidField, Field: details[0].Field, Message: Join(details)}
	if len(details) > 1 {
		p.Details = details
	}
	return p
}

// Join writes details as one message: "field: message; field: message".
func Join(details []Detail) string {
	parts := make([]string, len(details))
	for i, d := range details {
		parts[i] = d.Field + ": " + d.Message
	}
	return strings.Join(parts, "; ")
}

// FieldErrors returns the *relay.FieldError values err is made of, in
// order, looking through errors.Join, or nil when err is nil or any part
// of it is not a field error.
func FieldErrors(err error) []*relay.FieldError {
	var out []*relay.FieldError
	for _, e := range Flatten(err) {
		var fe *relay.FieldError
		if !errors.As(e, &fe) {
			return nil
		}
		out = append(out, fe)
	}
	return out
}

// Flatten lists the errors inside a tree of joined errors (errors.Join),
// in order; an error that joins none is listed as it is, and nil holds
// none.
func Flatten(err error) []error {
	if err == nil {
		return nil
	}
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		var out []error
		for _, e := range j.Unwrap() {
			out = append(out, Flatten(e)...)
		}
		return out
	}
	return []error{err}
}
