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

// TestCommanderActions: a commander starts a roll-call and posts to an
// audience at high priority; a responder trying either is refused and
// nothing is posted; responders answer with the buttons and the tally
// counts them; the acknowledge button records an ack; each action is in
// the audit trail.
func TestCommanderActions(t *testing.T) {
	ns := startCluster(t, "relay-1")
	a := ns[0]
	postIncident(t, a, "first", "group:db-oncall")
	lee, kim := newBrowser(t), newBrowser(t)
	lee.login(a, "lee")
	kim.login(a, "kim")
	kimTok := csrf(t, kim.get(a.url+"/incidents/"+incident))
	leeTok := csrf(t, lee.get(a.url+"/rollcalls/new"))
	rc := url.Values{"incident": {incident}, "question": {"안전한가요?"}, "options": {"1 안전\n2 도움 필요!"}, "to": {"group:db-oncall"}, "nonce": {"rc1"}}

	refused := url.Values{"csrf": {kimTok}}
	for k, v := range rc {
		refused[k] = v
	}
	if p := kim.post(a.url+"/rollcalls/new", refused, a.url); p.status != http.StatusForbidden {
		t.Errorf("a responder starting a roll-call: %d, want 403", p.status)
	}
	if p := kim.post(a.url+"/incidents/"+incident+"/reply", url.Values{"text": {"all hands"}, "to": {"everyone"}, "severity": {"critical"}, "csrf": {kimTok}}, a.url); p.status != http.StatusForbidden {
		t.Errorf("a responder choosing the audience: %d, want 403", p.status)
	}
	if rcs, _ := a.n.RollCalls(incident); len(rcs) != 0 {
		t.Fatalf("%d roll-calls after refusals", len(rcs))
	}

	rc.Set("csrf", leeTok)
	if p := lee.post(a.url+"/rollcalls/new", rc, a.url); p.status != http.StatusSeeOther || p.header.Get("Location") != "/incidents/"+incident+"?done=rollcall" {
		t.Fatalf("start a roll-call: %d %q\n%s", p.status, p.header.Get("Location"), p.body)
	}
	bad := url.Values{}
	for k, v := range rc {
		bad[k] = v
	}
	bad.Set("options", "one\n2 two")
	if p := lee.post(a.url+"/rollcalls/new", bad, a.url); p.status != http.StatusBadRequest || !strings.Contains(p.body, "line 1") {
		t.Errorf("options without a digit: %d", p.status)
	}
	p := lee.post(a.url+"/incidents/"+incident+"/reply", url.Values{"text": {"전원 대피"}, "to": {"everyone"}, "severity": {"critical"}, "csrf": {leeTok}, "nonce": {"p1"}}, a.url)
	if p.status != http.StatusSeeOther {
		t.Fatalf("a commander's post: %d %s", p.status, p.body)
	}
	msgs, _ := a.n.Store().IncidentMessages(incident)
	last := msgs[len(msgs)-1]
	if last.Author != "lee" || last.Severity != relay.SeverityCritical || len(last.Recipients) != 4 || last.Priority != relay.PriorityHigh {
		t.Errorf("the commander's post: author %s severity %s priority %v to %d people", last.Author, last.Severity, last.Priority, len(last.Recipients))
	}

	room := kim.get(a.url + "/incidents/" + incident).body
	if !strings.Contains(room, `form class="rollcall"`) || !strings.Contains(room, `name="option" value="2"`) {
		t.Fatalf("no answer buttons in the room:\n%s", room)
	}
	rcs, _ := a.n.RollCalls(incident)
	if p := kim.post(a.url+"/incidents/"+incident+"/answer", url.Values{"rollcall": {rcs[0].ID}, "option": {"1"}, "csrf": {kimTok}}, a.url); p.status != http.StatusSeeOther {
		t.Fatalf("answer: %d %s", p.status, p.body)
	}
	if p := kim.post(a.url+"/incidents/"+incident+"/answer", url.Values{"rollcall": {rcs[0].ID}, "option": {"7"}, "csrf": {kimTok}}, a.url); p.status != http.StatusBadRequest {
		t.Errorf("an option the roll-call lacks: %d, want 400", p.status)
	}
	room = kim.get(a.url + "/incidents/" + incident).body
	if !strings.Contains(room, `<li data-option="1"><span class="digit">1</span> 안전 <strong class="count">1</strong>`) ||
		!strings.Contains(room, `value="1" aria-pressed="true"`) || !strings.Contains(room, `data-kind="answer"`) {
		t.Errorf("the tally does not count kim's answer:\n%s", room)
	}
	if p := kim.post(a.url+"/incidents/"+incident+"/ack", url.Values{"csrf": {kimTok}}, a.url); p.status != http.StatusSeeOther {
		t.Fatalf("ack: %d", p.status)
	}
	if room := kim.get(a.url + "/incidents/" + incident).body; !strings.Contains(room, `aria-pressed="true">확인함`) || !strings.Contains(room, `data-kind="ack"`) {
		t.Errorf("the room does not show kim's ack")
	}
	testkit.Eventually(t, 5*time.Second, "the actions in the audit trail", func() bool {
		trail, _ := a.n.AuditTrail(20)
		var s []string
		for _, e := range trail {
			s = append(s, e.Action+":"+e.Actor)
		}
		all := strings.Join(s, " ")
		return strings.Contains(all, "rollcall.start:lee") && strings.Contains(all, "post:lee") && strings.Contains(all, "answer:kim") && strings.Contains(all, "ack:kim")
	})
}

// TestRosterUploadDiffApply: an admin uploads a roster, sees what
// changes, and applies it; a roster with an error is refused naming it
// and changes nothing.
func TestRosterUploadDiffApply(t *testing.T) {
	ns := startCluster(t, "relay-1")
	a := ns[0]
	park := newBrowser(t)
	park.login(a, "park")
	tok := csrf(t, park.get(a.url+"/admin/roster"))
	newRoster := `people:
  - {id: kim, name: 김민준, phone: "+821011112222", email: kim@example.com}
  - {id: lee, name: Lee Seo-yeon, phone: "+821033334444", email: lee@example.com, lang: en, roles: [commander]}
  - {id: park, name: 박지훈, email: park@example.com, roles: [admin]}
  - {id: jung, name: 정하늘, email: jung@example.com}
`
	p := park.post(a.url+"/admin/roster", url.Values{"step": {"diff"}, "roster": {newRoster}, "csrf": {tok}}, a.url)
	if p.status != http.StatusOK || !strings.Contains(p.body, `class="added">+ jung`) || !strings.Contains(p.body, `class="removed">− choi`) ||
		!strings.Contains(p.body, `form id="roster-apply"`) {
		t.Fatalf("diff: %d\n%s", p.status, p.body)
	}
	if ros, _ := a.n.Roster(); len(ros.People) != 4 || ros.People[3].ID != "choi" {
		t.Fatal("the diff changed the roster")
	}
	if p := park.post(a.url+"/admin/roster", url.Values{"step": {"apply"}, "roster": {"people:\n  - {id: kim, email: not-mail}\n"}, "csrf": {tok}}, a.url); p.status != http.StatusBadRequest || !strings.Contains(p.body, "people[0]") {
		t.Errorf("a bad roster: %d\n%s", p.status, p.body)
	}
	if p := park.post(a.url+"/admin/roster", url.Values{"step": {"apply"}, "roster": {newRoster}, "csrf": {tok}}, a.url); p.status != http.StatusSeeOther {
		t.Fatalf("apply: %d %s", p.status, p.body)
	}
	ros, _ := a.n.Roster()
	if _, ok := ros.Person("jung"); !ok || len(ros.People) != 4 {
		t.Errorf("after apply: %+v", ros.People)
	}
	lee := newBrowser(t)
	lee.login(a, "lee")
	leeTok := csrf(t, lee.get(a.url+"/"))
	if p := lee.post(a.url+"/admin/roster", url.Values{"step": {"apply"}, "roster": {newRoster}, "csrf": {leeTok}}, a.url); p.status != http.StatusForbidden {
		t.Errorf("a commander applying a roster: %d, want 403", p.status)
	}
}

// TestLanguageSwitch: the link switches the page's language with a
// cookie, whatever the roster says, and goes back where it was.
func TestLanguageSwitch(t *testing.T) {
	ns := startCluster(t, "relay-1")
	a := ns[0]
	b := newBrowser(t)
	b.login(a, "kim") // Korean by default
	if p := b.get(a.url + "/people"); !strings.Contains(p.body, `<html lang="ko">`) || !strings.Contains(p.body, "사람과 그룹") {
		t.Fatal("kim's page is not in Korean")
	}
	p := b.get(a.url + "/lang?to=en&next=%2Fpeople")
	if p.status != http.StatusSeeOther || p.header.Get("Location") != "/people" {
		t.Fatalf("switch: %d %q", p.status, p.header.Get("Location"))
	}
	if p := b.get(a.url + "/people"); !strings.Contains(p.body, `<html lang="en">`) || !strings.Contains(p.body, "People and groups") {
		t.Error("the page did not switch to English")
	}
	if p := b.get(a.url + "/lang?to=en&next=https%3A%2F%2Fevil.example"); p.header.Get("Location") != "/" {
		t.Errorf("a switch to another site went to %q", p.header.Get("Location"))
	}
}
