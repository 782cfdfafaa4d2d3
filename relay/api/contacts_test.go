package api_test

import (
	"context"
	"encoding/json"
	"net/http"
	"reflect"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/oob-relay/relay/relay/api"
	"github.com/oob-relay/relay/relay/problem"
)

// contactState is what a contact change could change: the log, the
// roster in effect and the layer of changes.
type contactState struct {
	state
	effective any
	layer     any
}

func (h *harness) contactState(t *testing.T) contactState {
	t.Helper()
	r, err := h.node.Roster()
	if err != nil {
		t.Fatal(err)
	}
	layer, err := h.node.Contacts("")
	if err != nil {
		t.Fatal(err)
	}
	return contactState{h.state(t), r.Clone(), layer}
}

// TestContactRefusals: a contact change with anything wrong is refused
// with a problem naming what is wrong, sends no code and changes nothing.
func TestContactRefusals(t *testing.T) {
	h := newHarness(t)
	before := h.contactState(t)
	put := func(person, body string) request {
		return request{method: http.MethodPut, path: "/v1/people/" + person + "/contacts", auth: bearer(adminToken),
			contentType: "application/json", body: body}
	}
	for _, c := range []struct {
		name   string
		req    request
		status int
		code   string
		field  string
		says   string
	}{
		{"bad number", put("kim", `{"channel":"phone","address":"+82 10-12"}`), 422, problem.CodeInvalidField, "address", "not a valid phone number"},
		{"local number without a country", put("kim", `{"channel":"phone","address":"010-1234-5678"}`), 422, problem.CodeInvalidField, "address", "local form"},
		{"letters", put("kim", `{"channel":"sms","address":"call me"}`), 422, problem.CodeInvalidField, "address", "local form"},
		{"email with a name", put("kim", `{"channel":"email","address":"Kim <kim2@example.com>"}`), 422, problem.CodeInvalidField, "address", "plain email address"},
		{"email with a control character", put("kim", `{"channel":"email","address":"kim2@example.com\u001b[2J"}`), 422, problem.CodeInvalidField, "address", "control character"},
		{"unknown channel", put("kim", `{"channel":"fax","address":"+821099998888"}`), 422, problem.CodeInvalidField, "channel", "not phone or email"},
		{"the same address", put("kim", `{"channel":"email","address":"kim@example.com"}`), 422, problem.CodeInvalidField, "address", "already"},
		{"another person's address", put("kim", `{"channel":"email","address":"lee@example.com"}`), 422, problem.CodeInvalidField, "address", "another person"},
		{"another person's number", put("kim", `{"channel":"phone","address":"+82 10-1234-5678"}`), 422, problem.CodeInvalidField, "address", "another person"},
		{"no sms or voice provider", put("kim", `{"channel":"phone","address":"+82 10-9999-8888"}`), 422, problem.CodeInvalidField, "channel", "no channel"},
		{"unknown person", put("choi", `{"channel":"email","address":"choi@example.com"}`), 404, problem.CodeNotFound, "id", "no person"},
		{"both steps at once", put("kim", `{"channel":"email","address":"kim2@example.com","challenge":"x","code":"123456"}`), 422, problem.CodeInvalidField, "challenge", "not both"},
		{"unknown field", put("kim", `{"channel":"email","address":"kim2@example.com","person":"lee"}`), 400, problem.CodeUnknownField, "person", ""},
		{"viewer token", request{method: http.MethodPut, path: "/v1/people/kim/contacts", auth: bearer(viewerToken),
			contentType: "application/json", body: `{"channel":"email","address":"kim2@example.com"}`}, 403, problem.CodeForbidden, "", ""},
		{"remove the last way to reach", request{method: http.MethodDelete, path: "/v1/people/park/contacts?channel=phone", auth: bearer(adminToken)}, 422, problem.CodeInvalidField, "channel", "only way"},
		{"remove what is not there", request{method: http.MethodDelete, path: "/v1/people/park/contacts?channel=email", auth: bearer(adminToken)}, 404, problem.CodeNotFound, "channel", "not found"},
		{"remove of an unknown person", request{method: http.MethodDelete, path: "/v1/people/choi/contacts?channel=email", auth: bearer(adminToken)}, 404, problem.CodeNotFound, "id", "no person"},
	} {
		t.Run(c.name, func(t *testing.T) {
			ctx, _ := offContract(t.Context())
			a := h.do(t, ctx, c.req)
			p := a.problem(t)
			if a.status != c.status || p.Code != c.code || (c.field != "" && p.Field != c.field) || !strings.Contains(p.Message, c.says) {
				t.Errorf("%d %s, want %d %s on %q saying %q", a.status, a.body, c.status, c.code, c.field, c.says)
			}
		})
	}
	if after := h.contactState(t); !reflect.DeepEqual(before, after) {
		t.Errorf("a refused change changed something:\nbefore %+v\nafter  %+v", before, after)
	}
	if n := len(h.sink.Mails()); n != 0 {
		t.Errorf("%d mails sent for refused changes", n)
	}
}

var codePattern = regexp.MustCompile(`\b[0-9]{6}\b`)

// TestContactVerifiedByCode: a new address gets a code and nothing else
// changes until the code comes back; a wrong code changes nothing; the
// right one puts the address in effect for deliveries, and a roster
// applied again from the file does not undo it.
func TestContactVerifiedByCode(t *testing.T) {
	h := newHarness(t)
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()
	put := func(body string) *answer {
		return h.do(t, ctx, request{method: http.MethodPut, path: "/v1/people/lee/contacts", auth: bearer(adminToken),
			contentType: "application/json", body: body})
	}
	a := put(`{"channel":"email","address":"lee.home@example.org"}`)
	if a.status != http.StatusAccepted {
		t.Fatalf("PUT new address: %d %s", a.status, a.body)
	}
	var ch api.ContactChallenge
	if err := json.Unmarshal(a.body, &ch); err != nil {
		t.Fatal(err)
	}
	mails, err := h.sink.WaitMails(ctx, 1)
	if err != nil {
		t.Fatal(err)
	}
	if len(mails) != 1 || strings.Join(mails[0].Envelope.To, ",") != "lee.home@example.org" {
		t.Fatalf("the code went to %v, want the new address alone", mails[0].Envelope.To)
	}
	code := codePattern.FindString(mails[0].Text)
	if code == "" {
		t.Fatalf("no code in the mail:\n%s", mails[0].Text)
	}
	before := h.contactState(t)
	wrong := "000000"
	if code == wrong {
		wrong = "111111"
	}
	a = put(`{"challenge":"` + ch.Challenge + `","code":"` + wrong + `"}`)
	if p := a.problem(t); a.status != http.StatusUnprocessableEntity || p.Field != "code" {
		t.Fatalf("wrong code: %d %s", a.status, a.body)
	}
	if after := h.contactState(t); !reflect.DeepEqual(before.effective, after.effective) || !reflect.DeepEqual(before.layer, after.layer) {
		t.Fatalf("a wrong code changed the contacts:\nbefore %+v\nafter  %+v", before, after)
	}
	a = put(`{"challenge":"` + ch.Challenge + `","code":"` + code + `"}`)
	if a.status != http.StatusOK {
		t.Fatalf("right code: %d %s", a.status, a.body)
	}
	var pc api.PersonContacts
	if err := json.Unmarshal(a.body, &pc); err != nil {
		t.Fatal(err)
	}
	if pc.Email != "lee.home@example.org" || len(pc.Changes) != 1 || !pc.Changes[0].InEffect || pc.Changes[0].Base != "lee@example.com" {
		t.Fatalf("after the code: %s", a.body)
	}
	trail, err := h.node.AuditTrail(5)
	if err != nil || len(trail) < 2 || trail[0].Action != "contact.add" || trail[0].Actor != "token:"+adminName || trail[0].Target != "lee" ||
		trail[1].Action != "contact.start" {
		t.Fatalf("audit trail: %+v, %v", trail, err)
	}
	// The code is single use.
	if a := put(`{"challenge":"` + ch.Challenge + `","code":"` + code + `"}`); a.status != http.StatusUnprocessableEntity {
		t.Fatalf("the code used again: %d %s", a.status, a.body)
	}

	// The roster file applied again leaves the change in effect.
	a = h.do(t, ctx, request{method: http.MethodPut, path: "/v1/roster", auth: bearer(adminToken), contentType: "application/yaml", body: baseRosterYAML(t)})
	if a.status != http.StatusOK {
		t.Fatalf("PUT /v1/roster: %d %s", a.status, a.body)
	}
	a = h.do(t, ctx, request{method: http.MethodPost, path: "/v1/messages", auth: bearer(botToken), contentType: "application/json",
		body: `{"incident":"` + incident + `","text":"` + koText + `","to":["person:lee"],"severity":"warning"}`})
	if a.status != http.StatusAccepted {
		t.Fatalf("post: %d %s", a.status, a.body)
	}
	mails, err = h.sink.WaitMails(ctx, 2)
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(mails[1].Envelope.To, ","); got != "lee.home@example.org" {
		t.Fatalf("the message went to %s, want the verified address", got)
	}
}

// baseRosterYAML is baseRoster as a roster file.
func baseRosterYAML(t *testing.T) string {
	t.Helper()
	b, err := json.Marshal(baseRoster())
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
