package api_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/oob-relay/relay/relay/problem"
)

// TestTypeErrorsSpeakJSON sends bodies with values of the wrong JSON type.
// The message must name the field (or the body) and speak of JSON types,
// which clients write, not of the server's Go types.
func TestTypeErrorsSpeakJSON(t *testing.T) {
	h := newHarness(t)
	goTypes := []string{"relay.", "api.", "[]string", "int64", "float64"}
	for _, c := range []struct {
		name, body, field string
		says              []string
	}{
		{"array body", `[]`, "", []string{"JSON object", "array"}},
		{"string body", `"DB 장애: 결제 지연"`, "", []string{"JSON object", "string"}},
		{"severity is a number", `{"incident":"db-outage","text":"x","to":["everyone"],"severity":3}`, "severity", []string{"severity", "string", "number"}},
		{"to is an object", `{"incident":"db-outage","text":"x","to":{"group":"db-oncall"}}`, "to", []string{"to", "array", "object"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			before := h.state(t)
			ctx, _ := offContract(t.Context())
			a := h.do(t, ctx, postBody(c.body))
			if a.status != http.StatusBadRequest {
				t.Fatalf("status %d, want 400; body %s", a.status, a.body)
			}
			p := a.problem(t)
			if p.Code != problem.CodeInvalidJSON || p.Field != c.field {
				t.Errorf("code %q field %q, want %q field %q", p.Code, p.Field, problem.CodeInvalidJSON, c.field)
			}
			if p.Message != strings.TrimSpace(p.Message) {
				t.Errorf("message %q has a blank where a field name should be", p.Message)
			}
			for _, s := range c.says {
				if !strings.Contains(p.Message, s) {
					t.Errorf("message %q does not say %q", p.Message, s)
				}
			}
			for _, g := range goTypes {
				if strings.Contains(p.Message, g) {
					t.Errorf("message %q names a Go type (%q)", p.Message, g)
				}
			}
			h.unchanged(t, before)
		})
	}
}

// TestMediaTypeIgnoresCase posts with a Content-Type whose type, subtype
// and charset are written in capitals: media types are case-insensitive
// (RFC 9110, section 8.3.1), so the post is accepted.
func TestMediaTypeIgnoresCase(t *testing.T) {
	h := newHarness(t)
	ctx, _ := offContract(t.Context())
	a := h.do(t, ctx, withType(postBody(validPost), "Application/JSON; charset=UTF-8"))
	if a.status != http.StatusAccepted {
		t.Errorf("status %d, want 202; body %s", a.status, a.body)
	}
	a = h.do(t, t.Context(), withType(postBody(validPost), "application/json; charset=utf-8"))
	if a.status != http.StatusAccepted {
		t.Errorf("lower case: status %d, want 202; body %s", a.status, a.body)
	}
}
