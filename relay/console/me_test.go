package console_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/oob-relay/relay/internal/testkit"
	"github.com/oob-relay/relay/relay"
)

// codeTo returns the digits of the one-time code tn's SMS provider sent
// to phone after it had sent before.
func codeTo(t *testing.T, tn *tnode, before int, phone string) string {
	t.Helper()
	code := ""
	testkit.Eventually(t, 10*time.Second, "a code sent by SMS to "+phone, func() bool {
		sent := tn.sms.Sent()
		for i := len(sent) - 1; i >= before; i-- {
			if sent[i].Code != nil && sent[i].Person != nil && sent[i].Person.Phone == phone {
				code = sent[i].Code.Digits
				return true
			}
		}
		return false
	})
	return code
}

func personOf(t *testing.T, tn *tnode, id string) relay.Person {
	t.Helper()
	ros, err := tn.n.Roster()
	if err != nil {
		t.Fatal(err)
	}
	p, ok := ros.Person(id)
	if !ok {
		t.Fatalf("%s is not in %s's roster", id, tn.n.Name())
	}
	return *p
}

// TestMeChangesContacts: through /me a person changes their phone to a
// number that gets a code by SMS; a wrong code changes nothing and keeps
// the code form; the right one puts the number in effect on every node.
// Removing the email passes, removing the phone then, the last way to
// reach them, is refused with what is wrong, and removing what is not
// there says so. Every action, refused or not, is in the audit trail.
func TestMeChangesContacts(t *testing.T) {
	ns := startCluster(t, "relay-1", "relay-2")
	a, b2 := ns[0], ns[1]
	b := newBrowser(t)
	b.login(a, "kim")
	me := b.get(a.url + "/me")
	if me.status != http.StatusOK || !strings.Contains(me.body, "821011112222") || !strings.Contains(me.body, "kim@example.com") {
		t.Fatalf("/me: %d\n%s", me.status, me.body)
	}
	tok := csrf(t, me)
	post := func(form url.Values) page {
		form.Set("csrf", tok)
		return b.post(a.url+"/me", form, a.url)
	}

	before := len(a.sms.Sent())
	p := post(url.Values{"step": {"start"}, "channel": {"sms"}, "address": {"010-9999-8888"}})
	m := challengeField.FindStringSubmatch(p.body)
	if p.status != http.StatusOK || m == nil || !strings.Contains(p.body, `form id="contact-code"`) {
		t.Fatalf("start: %d\n%s", p.status, p.body)
	}
	if strings.Contains(p.body, "821099998888") {
		t.Error("the code form shows the new number unmasked")
	}
	code := codeTo(t, a, before, "+821099998888")
	wrong := "000000"
	if code == wrong {
		wrong = "111111"
	}
	p = post(url.Values{"step": {"confirm"}, "challenge": {m[1]}, "code": {wrong}})
	if p.status != http.StatusUnauthorized || !strings.Contains(p.body, `form id="contact-code"`) || !strings.Contains(p.body, m[1]) {
		t.Errorf("a wrong code: %d, want 401 with the code form again\n%s", p.status, p.body)
	}
	if got := personOf(t, a, "kim").Phone; got != "+821011112222" {
		t.Fatalf("after a wrong code kim's phone is %s", got)
	}
	p = post(url.Values{"step": {"confirm"}, "challenge": {m[1]}, "code": {code}})
	if p.status != http.StatusSeeOther || p.header.Get("Location") != "/me?done=contact" {
		t.Fatalf("confirm: %d %s\n%s", p.status, p.header.Get("Location"), p.body)
	}
	if got := personOf(t, a, "kim").Phone; got != "+821099998888" {
		t.Fatalf("after the code kim's phone is %s", got)
	}
	testkit.Eventually(t, 10*time.Second, "the new phone in effect on relay-2", func() bool {
		return personOf(t, b2, "kim").Phone == "+821099998888"
	})
	if me := b.get(a.url + "/me"); !strings.Contains(me.body, "821099998888") || strings.Contains(me.body, "821011112222") {
		t.Errorf("/me after the change does not show the new phone only:\n%s", me.body)
	}

	if p := post(url.Values{"step": {"remove"}, "channel": {"email"}}); p.status != http.StatusSeeOther {
		t.Fatalf("remove the email: %d\n%s", p.status, p.body)
	}
	if got := personOf(t, a, "kim").Email; got != "" {
		t.Fatalf("after its removal kim's email is %q", got)
	}
	p = post(url.Values{"step": {"remove"}, "channel": {"sms"}})
	if p.status != http.StatusBadRequest || !strings.Contains(p.body, "the phone is the only way to reach kim; add another first") {
		t.Errorf("remove the last contact: %d, want 400 saying why\n%s", p.status, p.body)
	}
	if got := personOf(t, a, "kim").Phone; got != "+821099998888" {
		t.Errorf("after a refused removal kim's phone is %q", got)
	}
	p = post(url.Values{"step": {"remove"}, "channel": {"email"}})
	if p.status != http.StatusNotFound || !strings.Contains(p.body, "email of kim") {
		t.Errorf("remove an email kim no longer has: %d, want 404 saying what is missing\n%s", p.status, p.body)
	}

	trail, err := a.n.AuditTrail(50)
	if err != nil {
		t.Fatal(err)
	}
	var acts []string
	for _, e := range trail {
		if e.Actor == "kim" && strings.HasPrefix(e.Action, "contact.") {
			acts = append(acts, e.Action+"("+e.Detail+")")
		}
	}
	got := strings.Join(acts, " ")
	for _, want := range []string{"contact.start(sms)", "contact.refused(confirm: code.wrong)", "contact.add(sms)",
		"contact.remove(email)", "contact.refused(remove: error.action)"} {
		if !strings.Contains(got, want) {
			t.Errorf("the audit trail lacks %s: %s", want, got)
		}
	}
}
