package api_test

import (
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/oob-relay/relay/relay"
	"github.com/oob-relay/relay/relay/api"
	"github.com/oob-relay/relay/relay/problem"
)

// described says what openapi.yaml makes of a bad request.
type described int

const (
	// conforms: the request follows the description; only the node can
	// tell it is wrong (an audience the roster lacks, a wrong token).
	conforms described = iota
	// violates: the description refuses the request too.
	violates
	// undetected: the request breaks a rule the description states in
	// prose but its schemas cannot express: one JSON object and nothing
	// after it (the validator reads the first JSON value only), a text
	// limit in bytes (maxLength counts characters).
	undetected
	// unrouted: the description has no such operation.
	unrouted
)

func (s described) String() string {
	return [...]string{"conforms to", "violates", "escapes", "has no operation in"}[s]
}

// badCase is a refused request and everything its answer must say.
type badCase struct {
	name   string
	req    request
	status int
	code   string
	// field is the error's field; empty means it must have none.
	field string
	// says are pieces of the message, which must name the problem.
	says []string
	// details are the fields of every problem, when there are several.
	details   []string
	described described
}

// validPost is the post the cases start from.
const validPost = `{"incident":"db-outage","text":"DB 장애: 결제 지연","to":["group:db-oncall"],"severity":"critical"}`

func postBody(body string) request {
	return request{method: http.MethodPost, path: "/v1/messages", auth: bearer(botToken), contentType: "application/json", body: body}
}

func withAuth(r request, auth string) request { r.auth = auth; return r }

func withType(r request, ct string) request { r.contentType = ct; return r }

func withHeader(r request, k, v string) request { r.header = map[string]string{k: v}; return r }

func rosterBody(auth, ct, body string) request {
	return request{method: http.MethodPut, path: "/v1/roster", auth: auth, contentType: ct, body: body}
}

var postCases = []badCase{
	{name: "malformed JSON", req: postBody(`{"incident":"db-outage","text":}`),
		status: 400, code: problem.CodeInvalidJSON, says: []string{"malformed JSON", "byte"}, described: violates},
	{name: "truncated JSON", req: postBody(`{"incident":"db-outage","text":"DB 장애"`),
		status: 400, code: problem.CodeInvalidJSON, says: []string{"ends in the middle"}, described: violates},
	{name: "unknown field", req: postBody(`{"incident":"db-outage","text":"x","to":["everyone"],"priority":1}`),
		status: 400, code: problem.CodeUnknownField, field: "priority", says: []string{`unknown field "priority"`}, described: violates},
	{name: "to is a string", req: postBody(`{"incident":"db-outage","text":"x","to":"group:db-oncall"}`),
		status: 400, code: problem.CodeInvalidJSON, field: "to", says: []string{"to must be", "not string"}, described: violates},
	{name: "text is a number", req: postBody(`{"incident":"db-outage","text":42,"to":["everyone"]}`),
		status: 400, code: problem.CodeInvalidJSON, field: "text", says: []string{"text must be a string, not number"}, described: violates},
	{name: "empty body", req: postBody(""),
		status: 400, code: problem.CodeInvalidJSON, says: []string{"body is empty"}, described: violates},
	{name: "trailing garbage", req: postBody(validPost + " garbage"),
		status: 400, code: problem.CodeInvalidJSON, says: []string{"unexpected data after the JSON object"}, described: undetected},
	{name: "two objects", req: postBody(validPost + validPost),
		status: 400, code: problem.CodeInvalidJSON, says: []string{"unexpected data after the JSON object"}, described: undetected},
	{name: "empty text", req: postBody(`{"incident":"db-outage","text":"","to":["everyone"]}`),
		status: 422, code: problem.CodeInvalidField, field: "text", says: []string{"text: is required and must not be blank"}, described: violates},
	{name: "blank text", req: postBody(`{"incident":"db-outage","text":" \n\t ","to":["everyone"]}`),
		status: 422, code: problem.CodeInvalidField, field: "text", says: []string{"text: is required and must not be blank"}, described: violates},
	{name: "text too long", req: postBody(`{"incident":"db-outage","text":"` + strings.Repeat("a", 70000) + `","to":["everyone"]}`),
		status: 422, code: problem.CodeInvalidField, field: "text", says: []string{"text: is 70000 bytes; the limit is 65536"}, described: violates},
	{name: "Korean text too long", req: postBody(`{"incident":"db-outage","text":"` + strings.Repeat("장", 30000) + `","to":["everyone"]}`),
		status: 422, code: problem.CodeInvalidField, field: "text", says: []string{"text: is 90000 bytes; the limit is 65536"}, described: undetected},
	{name: "missing incident", req: postBody(`{"text":"DB 장애","to":["everyone"]}`),
		status: 422, code: problem.CodeInvalidField, field: "incident", says: []string{"incident: is required"}, described: violates},
	{name: "invalid incident id", req: postBody(`{"incident":"DB 장애","text":"x","to":["everyone"]}`),
		status: 422, code: problem.CodeInvalidField, field: "incident", says: []string{`incident: "DB 장애" must be 1-64 characters`}, described: violates},
	{name: "unknown person", req: postBody(`{"incident":"db-outage","text":"x","to":["person:nobody"]}`),
		status: 422, code: problem.CodeInvalidField, field: "to[0]", says: []string{`to[0]: "person:nobody" is not a person in the roster`}, described: conforms},
	{name: "unknown group", req: postBody(`{"incident":"db-outage","text":"x","to":["person:kim","group:dba"]}`),
		status: 422, code: problem.CodeInvalidField, field: "to[1]", says: []string{`to[1]: "group:dba" is not a group in the roster`}, described: conforms},
	{name: "not an audience", req: postBody(`{"incident":"db-outage","text":"x","to":["kim"]}`),
		status: 422, code: problem.CodeInvalidField, field: "to[0]", says: []string{`"kim" is not an audience`, `"person:<id>"`}, described: violates},
	{name: "empty to", req: postBody(`{"incident":"db-outage","text":"x","to":[]}`),
		status: 422, code: problem.CodeInvalidField, field: "to", says: []string{"to: is required"}, described: violates},
	{name: "missing to", req: postBody(`{"incident":"db-outage","text":"x"}`),
		status: 422, code: problem.CodeInvalidField, field: "to", says: []string{"to: is required"}, described: violates},
	{name: "invalid severity", req: postBody(`{"incident":"db-outage","text":"x","to":["everyone"],"severity":"urgent"}`),
		status: 422, code: problem.CodeInvalidField, field: "severity", says: []string{`severity: "urgent" must be one of critical, warning and info`}, described: violates},
	{name: "unknown channel", req: postBody(`{"incident":"db-outage","text":"x","to":["everyone"],"channels":["fax"]}`),
		status: 422, code: problem.CodeInvalidField, field: "channels[0]", says: []string{`channels[0]: "fax" is not a channel`}, described: violates},
	{name: "channel listed twice", req: postBody(`{"incident":"db-outage","text":"x","to":["everyone"],"channels":["email","email"]}`),
		status: 422, code: problem.CodeInvalidField, field: "channels[1]", says: []string{`channels[1]: "email" is listed twice`}, described: violates},
	{name: "channel without provider", req: postBody(`{"incident":"db-outage","text":"x","to":["person:park"],"channels":["sms"]}`),
		status: 422, code: problem.CodeInvalidField, field: "channels[0]", says: []string{`channels[0]: "sms" has no provider configured on this node`}, described: conforms},
	{name: "several problems", req: postBody(`{"incident":"db-outage","text":" ","to":["everyone"],"severity":"urgent","channels":["fax"]}`),
		status: 422, code: problem.CodeInvalidField, field: "text",
		says:    []string{"text: is required", `severity: "urgent"`, `channels[0]: "fax"`},
		details: []string{"text", "severity", "channels[0]"}, described: violates},
	{name: "idempotency key too long", req: withHeader(postBody(validPost), "Idempotency-Key", strings.Repeat("k", 256)),
		status: 422, code: problem.CodeInvalidField, field: "Idempotency-Key", says: []string{"longer than 255 characters"}, described: violates},
	{name: "text with a terminal escape", req: postBody(`{"incident":"db-outage","text":"DB 장애\u001b[2J\u001b[H","to":["everyone"]}`),
		status: 422, code: problem.CodeInvalidField, field: "text", says: []string{"text: contains U+001B (a control character) at byte 9"}, described: undetected},
	{name: "text with a bidirectional override", req: postBody(`{"incident":"db-outage","text":"결제 \u202egnp.exe","to":["everyone"]}`),
		status: 422, code: problem.CodeInvalidField, field: "text", says: []string{"text: contains U+202E (a bidirectional formatting character)"}, described: undetected},
	{name: "text with CR LF line ends", req: postBody(`{"incident":"db-outage","text":"line\r\nline","to":["everyone"]}`),
		status: 422, code: problem.CodeInvalidField, field: "text", says: []string{"text: contains U+000D"}, described: undetected},
	{name: "text not UTF-8", req: postBody("{\"incident\":\"db-outage\",\"text\":\"\xb1\xe8 EUC-KR\",\"to\":[\"everyone\"]}"),
		status: 422, code: problem.CodeInvalidField, field: "text", says: []string{"text: is not valid UTF-8"}, described: undetected},
	{name: "text with half a surrogate pair", req: postBody(`{"incident":"db-outage","text":"\ud83d alone","to":["everyone"]}`),
		status: 422, code: problem.CodeInvalidField, field: "text", says: []string{"text: is not valid UTF-8 (or has a \\u escape of half a surrogate pair)"}, described: undetected},
	{name: "audience entry not UTF-8", req: postBody("{\"incident\":\"db-outage\",\"text\":\"x\",\"to\":[\"everyone\",\"person:\xc3\"]}"),
		status: 422, code: problem.CodeInvalidField, field: "to[1]", says: []string{"to[1]: is not valid UTF-8"}, described: violates},
	{name: "too many audience targets", req: postBody(`{"incident":"db-outage","text":"x","to":[` + targets(1001) + `]}`),
		status: 422, code: problem.CodeInvalidField, field: "to", says: []string{"to: names 1001 audience targets; the limit is 1000 (a group counts as one target"}, described: undetected},
	{name: "idempotency key with a bidirectional override", req: withHeader(postBody(validPost), "Idempotency-Key", "deploy-\u202e42"),
		status: 422, code: problem.CodeInvalidField, field: "Idempotency-Key", says: []string{"Idempotency-Key: contains U+202E"}, described: undetected},
	{name: "oversized body", req: postBody(`{"incident":"db-outage","to":["everyone"],"text":"` + strings.Repeat("a", api.DefaultMaxBodyBytes) + `"}`),
		status: 413, code: problem.CodeBodyTooLarge, says: []string{"larger than 1048576 bytes"}, described: violates},
	{name: "wrong content type", req: withType(postBody(validPost), "text/plain"),
		status: 415, code: problem.CodeUnsupportedType, says: []string{`"text/plain" is not supported`, "application/json"}, described: violates},
	{name: "form content type", req: withType(postBody("incident=db-outage"), "application/x-www-form-urlencoded"),
		status: 415, code: problem.CodeUnsupportedType, says: []string{`"application/x-www-form-urlencoded" is not supported`}, described: violates},
	{name: "missing token", req: withAuth(postBody(validPost), ""),
		status: 401, code: problem.CodeUnauthorized, says: []string{"missing bearer token"}, described: violates},
	{name: "wrong token", req: withAuth(postBody(validPost), bearer(wrongToken)),
		status: 401, code: problem.CodeUnauthorized, says: []string{"not valid"}, described: conforms},
	{name: "basic authorization", req: withAuth(postBody(validPost), "Basic YWxlcnQtYm90OnNlY3JldA=="),
		status: 401, code: problem.CodeUnauthorized, says: []string{"not a bearer token"}, described: violates},
	{name: "bearer without token", req: withAuth(postBody(validPost), "Bearer"),
		status: 401, code: problem.CodeUnauthorized, says: []string{"bearer token"}, described: violates},
	{name: "viewer posts", req: withAuth(postBody(validPost), bearer(viewerToken)),
		status: 403, code: problem.CodeForbidden, says: []string{viewerName, "viewer", "needs bot"}, described: conforms},
}

var rosterCases = []badCase{
	{name: "bot replaces roster", req: rosterBody(bearer(botToken), "application/yaml", "people:\n  - id: choi\n    email: choi@example.com\n"),
		status: 403, code: problem.CodeForbidden, says: []string{botName, "role bot", "needs admin"}, described: conforms},
	{name: "viewer replaces roster", req: rosterBody(bearer(viewerToken), "application/json", `{"people":[{"id":"choi","email":"choi@example.com"}]}`),
		status: 403, code: problem.CodeForbidden, says: []string{"needs admin"}, described: conforms},
	{name: "roster without token", req: rosterBody("", "application/yaml", "people: []\n"),
		status: 401, code: problem.CodeUnauthorized, says: []string{"missing bearer token"}, described: violates},
	{name: "several roster problems", req: rosterBody(bearer(adminToken), "application/yaml", `people:
  - id: kim
    email: kim@example.com
  - id: lee
    phone: "010-1234"
    email: lee@example.com
  - id: Choi
    email: choi@example.com
groups:
  - id: db-oncall
    members: [kim, lee, han]
`),
		status: 422, code: problem.CodeInvalidField, field: "people[1] (lee).phone",
		says:    []string{"roster refused, the current one stays", `"010-1234" must be an E.164 number`, `"Choi" must be 1-64 characters`, `unknown person "han"`},
		details: []string{"people[1] (lee).phone", "people[2] (Choi).id", "groups[0] (db-oncall).members[2]"}, described: violates},
	{name: "several roster problems as JSON", req: rosterBody(bearer(adminToken), "application/json",
		`{"people":[{"id":"kim"},{"id":"kim","email":"not an address"}]}`),
		status: 422, code: problem.CodeInvalidField, field: "people[0] (kim)",
		says:    []string{"has no phone or email", "is also used by people[0]", `"not an address" is not a plain email address`},
		details: []string{"people[0] (kim)", "people[1] (kim).id", "people[1] (kim).email"}, described: conforms},
	{name: "roster name with a terminal escape", req: rosterBody(bearer(adminToken), "application/yaml", "people:\n  - id: kim\n    name: \"김민준\\e[2J\\e[H\"\n    email: kim@example.com\n"),
		status: 422, code: problem.CodeInvalidField, field: "people[0] (kim).name", says: []string{"people[0] (kim).name: contains U+001B (a control character) at byte 9"}, described: conforms},
	{name: "roster name with a line break", req: rosterBody(bearer(adminToken), "application/json", `{"people":[{"id":"kim","name":"김민준\nACK kim","email":"kim@example.com"}]}`),
		status: 422, code: problem.CodeInvalidField, field: "people[0] (kim).name", says: []string{"it must be one line"}, described: conforms},
	{name: "roster not UTF-8", req: rosterBody(bearer(adminToken), "application/yaml", "people:\n  - id: kim\n    name: \xb1\xe8\xb9\xce\xc1\xd8\n    email: kim@example.com\n"),
		status: 422, code: problem.CodeInvalidField, field: "roster", says: []string{"roster: line 3 is not valid UTF-8 (byte 0xb1); save the file as UTF-8"}, described: violates},
	{name: "roster JSON with half a surrogate pair", req: rosterBody(bearer(adminToken), "application/json", `{"people":[{"id":"kim","name":"\udc00","email":"kim@example.com"}]}`),
		status: 422, code: problem.CodeInvalidField, field: "people[0].name", says: []string{"is not valid UTF-8"}, described: conforms},
	{name: "unknown roster key", req: rosterBody(bearer(adminToken), "application/yaml", "peeple:\n  - id: kim\n"),
		status: 422, code: problem.CodeInvalidField, field: "roster", says: []string{`unknown key "peeple"`}, described: violates},
	{name: "roster YAML that does not parse", req: rosterBody(bearer(adminToken), "application/yaml", "people: [\n"),
		status: 422, code: problem.CodeInvalidField, field: "roster", says: []string{"roster refused", "line"}, described: violates},
	{name: "empty roster body", req: rosterBody(bearer(adminToken), "application/yaml", ""),
		status: 422, code: problem.CodeInvalidField, says: []string{"roster is empty"}, described: violates},
	{name: "roster as CSV", req: rosterBody(bearer(adminToken), "text/csv", "id,email\nkim,kim@example.com\n"),
		status: 415, code: problem.CodeUnsupportedType, says: []string{`"text/csv" is not supported`, "application/yaml"}, described: violates},
	{name: "oversized roster", req: rosterBody(bearer(adminToken), "application/yaml", "people:\n  - id: kim\n    email: kim@example.com\n    name: "+strings.Repeat("김", testMaxRosterBytes/3)),
		status: 413, code: problem.CodeBodyTooLarge, says: []string{"larger than"}, described: conforms},
}

var lookupCases = []badCase{
	{name: "unknown message", req: request{method: http.MethodGet, path: "/v1/messages/01JC0Z6T4Q9G8W7X2Y3Z4A5B6C", auth: bearer(viewerToken)},
		status: 404, code: problem.CodeNotFound, field: "id", says: []string{`no message "01JC0Z6T4Q9G8W7X2Y3Z4A5B6C"`}, described: conforms},
	{name: "unknown incident", req: request{method: http.MethodGet, path: "/v1/incidents/dns-outage", auth: bearer(viewerToken)},
		status: 404, code: problem.CodeNotFound, field: "id", says: []string{`no incident "dns-outage"`}, described: conforms},
	{name: "message without token", req: request{method: http.MethodGet, path: "/v1/messages/01JC0Z6T4Q9G8W7X2Y3Z4A5B6C"},
		status: 401, code: problem.CodeUnauthorized, says: []string{"missing bearer token"}, described: violates},
	{name: "unknown route", req: request{method: http.MethodGet, path: "/v1/alerts", auth: bearer(viewerToken)},
		status: 404, code: problem.CodeNotFound, says: []string{"no such endpoint", "GET /v1/alerts"}, described: unrouted},
	{name: "message list", req: request{method: http.MethodGet, path: "/v1/messages/", auth: bearer(viewerToken)},
		status: 404, code: problem.CodeNotFound, says: []string{"no such endpoint"}, described: unrouted},
	{name: "old API version", req: request{method: http.MethodPost, path: "/v0/messages", auth: bearer(botToken), contentType: "application/json", body: validPost},
		status: 404, code: problem.CodeNotFound, says: []string{"no such endpoint"}, described: unrouted},
}

// targets lists n distinct audience targets as JSON strings.
func targets(n int) string {
	parts := make([]string, n)
	for i := range parts {
		parts[i] = fmt.Sprintf(`"person:p%d"`, i)
	}
	return strings.Join(parts, ",")
}

// TestBadInputChangesNothing sends requests the API must refuse and checks
// each answer's status, code, field and message, what the description
// makes of the request, and that nothing was stored.
func TestBadInputChangesNothing(t *testing.T) {
	h := newHarness(t)
	// Something stored already, so "nothing changed" means something.
	acc := h.accept(t, botToken, relay.Post{Incident: incident, Text: koText, To: []string{"group:db-oncall"}}, "")
	h.settled(t, acc.ID)
	roster := h.roster(t)

	for _, group := range []struct {
		name  string
		cases []badCase
	}{{"post", postCases}, {"roster", rosterCases}, {"lookup", lookupCases}} {
		for _, c := range group.cases {
			t.Run(group.name+"/"+c.name, func(t *testing.T) {
				before := h.state(t)
				h.refused(t, c)
				h.unchanged(t, before)
			})
		}
	}
	if got := h.roster(t); !equalRosters(got, roster) {
		t.Errorf("roster after refused requests = %+v, want %+v", got, roster)
	}
	if n := h.messages(t); n != 1 {
		t.Errorf("%d messages stored, want the 1 posted before", n)
	}
	if n := len(h.sink.Mails()); n != 2 {
		t.Errorf("sink holds %d mails, want the 2 of the message posted before", n)
	}
}

// refused sends c's request and checks the answer.
func (h *harness) refused(t *testing.T, c badCase) {
	t.Helper()
	ctx, v := offContract(t.Context())
	a := h.do(t, ctx, c.req)
	if a.status != c.status {
		t.Fatalf("status %d, want %d; body %s", a.status, c.status, a.body)
	}
	p := a.problem(t)
	if p.Code != c.code {
		t.Errorf("code %q, want %q", p.Code, c.code)
	}
	if p.Field != c.field {
		t.Errorf("field %q, want %q", p.Field, c.field)
	}
	for _, s := range c.says {
		if !strings.Contains(p.Message, s) {
			t.Errorf("message %q does not say %q", p.Message, s)
		}
	}
	var fields []string
	for _, d := range p.Details {
		fields = append(fields, d.Field)
		if d.Message == "" {
			t.Errorf("detail for %q has no message", d.Field)
		}
	}
	if !slices.Equal(fields, c.details) {
		t.Errorf("details name %q, want %q", fields, c.details)
	}
	if c.status == http.StatusUnauthorized && !strings.HasPrefix(a.header.Get("WWW-Authenticate"), "Bearer ") {
		t.Errorf("401 without a Bearer challenge: WWW-Authenticate %q", a.header.Get("WWW-Authenticate"))
	}

	v.mu.Lock()
	routeErr, requestErr := v.routeErr, v.requestErr
	v.mu.Unlock()
	var got described
	switch {
	case routeErr != nil:
		got = unrouted
	case requestErr != nil:
		got = violates
	case c.described == undetected:
		got = undetected
	default:
		got = conforms
	}
	if got != c.described {
		t.Errorf("the request %s %s; want it to be one that %s it (route: %v; request: %v)", got, specPath, c.described, routeErr, requestErr)
	}
}

// equalRosters compares rosters as the API shows them.
func equalRosters(a, b relay.Roster) bool {
	return slices.EqualFunc(a.People, b.People, func(x, y relay.Person) bool {
		return x.ID == y.ID && x.Name == y.Name && x.Phone == y.Phone && x.Email == y.Email && x.Lang == y.Lang && slices.Equal(x.Channels, y.Channels)
	}) && slices.EqualFunc(a.Groups, b.Groups, func(x, y relay.Group) bool {
		return x.ID == y.ID && x.Name == y.Name && slices.Equal(x.Members, y.Members)
	})
}
