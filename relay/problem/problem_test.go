package problem_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"testing"

	"github.com/oob-relay/relay/relay"
	"github.com/oob-relay/relay/relay/problem"
)

// encode writes v as the HTTP API does: HTML characters as they are.
func encode(t *testing.T, v any) string {
	t.Helper()
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		t.Fatal(err)
	}
	return buf.String()
}

// TestEnvelopeJSON pins the error envelope's bytes: empty field and
// details are left out, and each detail's field only when it has one.
func TestEnvelopeJSON(t *testing.T) {
	for _, tc := range []struct {
		p    problem.Problem
		want string
	}{
		{problem.Problem{Code: problem.CodeUnauthorized, Message: "missing bearer token"},
			`{"error":{"code":"unauthorized","message":"missing bearer token"}}`},
		{problem.Problem{Code: problem.CodeNotFound, Field: "id", Message: `no message "x"`},
			`{"error":{"code":"not_found","message":"no message \"x\"","field":"id"}}`},
		{problem.Invalid([]problem.Detail{{Field: "to[0]", Message: `"person:<id>" 아님`}, {Message: "roster is empty"}}),
			`{"error":{"code":"invalid_field","message":"to[0]: \"person:<id>\" 아님; : roster is empty","field":"to[0]",` +
				`"details":[{"field":"to[0]","message":"\"person:<id>\" 아님"},{"message":"roster is empty"}]}}`},
	} {
		if got := encode(t, problem.Envelope{Error: tc.p}); got != tc.want+"\n" {
			t.Errorf("got  %s\nwant %s", got, tc.want)
		}
		var back problem.Envelope
		if err := json.Unmarshal([]byte(tc.want), &back); err != nil || !reflect.DeepEqual(back.Error, tc.p) {
			t.Errorf("%s decodes to %+v, %v", tc.want, back.Error, err)
		}
	}
}

func TestInvalid(t *testing.T) {
	one := problem.Invalid([]problem.Detail{{Field: "text", Message: "is required"}})
	if one.Code != problem.CodeInvalidField || one.Field != "text" || one.Message != "text: is required" || one.Details != nil {
		t.Errorf("one field: %+v", one)
	}
	ds := []problem.Detail{{Field: "incident", Message: "is required"}, {Field: "to", Message: "is required"}}
	two := problem.Invalid(ds)
	if two.Field != "incident" || two.Message != "incident: is required; to: is required" || !reflect.DeepEqual(two.Details, ds) {
		t.Errorf("two fields: %+v", two)
	}
	if got := two.Error(); got != "invalid_field: incident: is required; to: is required" {
		t.Errorf("Error() = %q", got)
	}
}

func TestFieldErrors(t *testing.T) {
	a := &relay.FieldError{Field: "text", Message: "is required"}
	b := &relay.FieldError{Field: "to[1]", Message: "is listed twice"}
	joined := errors.Join(a, errors.Join(b, nil))
	if got := problem.FieldErrors(joined); !reflect.DeepEqual(got, []*relay.FieldError{a, b}) {
		t.Errorf("FieldErrors(joined) = %v", got)
	}
	if got := problem.FieldErrors(fmt.Errorf("post: %w", a)); !reflect.DeepEqual(got, []*relay.FieldError{a}) {
		t.Errorf("FieldErrors(wrapped) = %v", got)
	}
	for _, err := range []error{nil, errors.New("disk full"), errors.Join(a, errors.New("disk full"))} {
		if got := problem.FieldErrors(err); got != nil {
			t.Errorf("FieldErrors(%v) = %v, want nil", err, got)
		}
	}
	if got := problem.Flatten(joined); len(got) != 2 || got[0] != a || got[1] != b {
		t.Errorf("Flatten = %v", got)
	}
	if got := problem.Flatten(nil); got != nil {
		t.Errorf("Flatten(nil) = %v", got)
	}
}
