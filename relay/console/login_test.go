package console_test

import (
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/oob-relay/relay/internal/testkit"
	"github.com/oob-relay/relay/relay"
)

var challengeField = regexp.MustCompile(`name="challenge" value="([^"]+)"`)

// startLogin posts contact to tn's login form and returns the challenge
// of the code page.
func startLogin(t *testing.T, b *browser, tn *tnode, contact string) string {
	t.Helper()
	p := b.post(tn.url+"/login", url.Values{"contact": {contact}, "next": {"/incidents/" + incident}}, tn.url)
	if p.status != http.StatusOK || !strings.Contains(p.body, `form id="code"`) {
		t.Fatalf("login: %d\n%s", p.status, p.body)
	}
	m := challengeField.FindStringSubmatch(p.body)
	if m == nil {
		t.Fatalf("no challenge in the code page:\n%s", p.body)
	}
	return m[1]
}

// lastCode returns the digits of the one-time code tn's SMS provider
// sent after it had sent before: codes go out after the login page
// answers.
func lastCode(t *testing.T, tn *tnode, before int) string {
	t.Helper()
	code := ""
	testkit.Eventually(t, 10*time.Second, "a code sent by SMS", func() bool {
		sent := tn.sms.Sent()
		for i := len(sent) - 1; i >= before; i-- {
			if sent[i].Code != nil {
				code = sent[i].Code.Digits
				return true
			}
		}
		return false
	})
	return code
}

// TestLoginWithCode: a person types their phone as people write it on
// relay-1, gets a code by SMS, types it on relay-2 and lands in the room
// with a session cookie; logging out ends the session on every node.
func TestLoginWithCode(t *testing.T) {
	ns := startCluster(t, "relay-1", "relay-2")
	a, b2 := ns[0], ns[1]
	postIncident(t, a, "first", "group:db-oncall")
	b := newBrowser(t)
	if p := b.get(a.url + "/login"); p.status != http.StatusOK || !strings.Contains(p.body, `form id="login"`) || !strings.Contains(p.body, `name="contact"`) {
		t.Fatalf("login page: %d", p.status)
	}
	before := len(a.sms.Sent())
	ch := startLogin(t, b, a, "010-1111-2222")
	code := lastCode(t, a, before)
	caughtUp(t, a, b2)
	p := b.post(b2.url+"/login/code", url.Values{"challenge": {ch}, "code": {code}, "next": {"/incidents/" + incident}}, b2.url)
	if p.status != http.StatusSeeOther {
		t.Fatalf("relay-1's code on relay-2: %d\n%s", p.status, p.body)
	}
	if p.header.Get("Location") != "/incidents/"+incident {
		t.Errorf("after the code: to %q", p.header.Get("Location"))
	}
	ck := p.header.Get("Set-Cookie")
	if !strings.HasPrefix(ck, "relay_session=") || !strings.Contains(ck, "HttpOnly") || !strings.Contains(ck, "SameSite=Strict") {
		t.Errorf("session cookie %q", ck)
	}
	if p := b.get(b2.url + "/incidents/" + incident); p.status != http.StatusOK || !strings.Contains(p.body, "김민준") {
		t.Fatalf("the room after login: %d", p.status)
	}
	// The same code again is refused.
	if p := newBrowser(t).post(b2.url+"/login/code", url.Values{"challenge": {ch}, "code": {code}}, b2.url); p.status == http.StatusSeeOther {
		t.Error("a used code logged in again")
	}
	// The session works on relay-1 too, until logout on relay-2.
	u2, _ := url.Parse(b2.url)
	old := ""
	for _, c := range b.jar.Cookies(u2) {
		old = c.Value
	}
	other := newBrowser(t)
	other.setSession(a, old)
	if p := other.get(a.url + "/people"); p.status != http.StatusOK {
		t.Fatalf("relay-2's session on relay-1: %d", p.status)
	}
	tok := csrf(t, b.get(b2.url+"/people"))
	if p := b.post(b2.url+"/logout", url.Values{"csrf": {tok}}, b2.url); p.status != http.StatusSeeOther {
		t.Fatalf("logout: %d %s", p.status, p.body)
	}
	testkit.Eventually(t, 5*time.Second, "the session refused on relay-1 after logout on relay-2", func() bool {
		return other.get(a.url+"/people").status == http.StatusUnauthorized
	})
	testkit.Eventually(t, 5*time.Second, "login and logout in the audit trail", func() bool {
		trail, _ := a.n.AuditTrail(10)
		var acts []string
		for _, e := range trail {
			acts = append(acts, e.Action+":"+e.Actor)
		}
		s := strings.Join(acts, " ")
		return strings.Contains(s, "login:kim") && strings.Contains(s, "logout:kim")
	})
}

// TestLoginRefusals: an unknown contact gets a code page like any other
// (nothing sent); wrong codes are refused, and after enough of them the
// person is locked out; a login posted from another origin is refused.
func TestLoginRefusals(t *testing.T) {
	ns := startCluster(t, "relay-1")
	a := ns[0]
	b := newBrowser(t)
	if p := b.post(a.url+"/login", url.Values{"contact": {"+821011112222"}}, "https://evil.example"); p.status != http.StatusForbidden {
		t.Errorf("a login from another origin: %d, want 403", p.status)
	}
	before := len(a.sms.Sent())
	startLogin(t, b, a, "nobody@example.com")
	ch := startLogin(t, b, a, "+821011112222")
	code := lastCode(t, a, before)
	for _, out := range a.sms.Sent()[before:] {
		if out.Code != nil && out.Person.ID != "kim" {
			t.Errorf("a code went to %s for an unknown contact", out.Person.ID)
		}
	}
	wrong := "000000"
	if code == wrong {
		wrong = "111111"
	}
	var p page
	for i := range relay.MaxCodeFailures + 1 {
		p = b.post(a.url+"/login/code", url.Values{"challenge": {ch}, "code": {wrong}}, a.url)
		if i < relay.MaxCodeFailures-1 && (p.status != http.StatusUnauthorized || !strings.Contains(p.body, `form id="code"`)) {
			t.Fatalf("wrong code %d: %d", i+1, p.status)
		}
	}
	if p.status != http.StatusTooManyRequests {
		t.Errorf("after %d wrong codes: %d, want 429", relay.MaxCodeFailures+1, p.status)
	}
	if p := b.post(a.url+"/login/code", url.Values{"challenge": {ch}, "code": {code}}, a.url); p.status == http.StatusSeeOther {
		t.Error("the right code logged in during the lockout")
	}
}

// caughtUp waits until to holds every event from holds now: what a
// browser typing on to after reading on from may count on.
func caughtUp(t *testing.T, from, to *tnode) {
	t.Helper()
	want, err := from.n.Store().Marks()
	if err != nil {
		t.Fatal(err)
	}
	testkit.Eventually(t, 10*time.Second, to.n.Name()+" holding "+from.n.Name()+"'s events", func() bool {
		got, err := to.n.Store().Marks()
		if err != nil {
			return false
		}
		for origin, seq := range want {
			if got[origin] < seq {
				return false
			}
		}
		return true
	})
}
