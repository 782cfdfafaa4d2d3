package console_test

import (
	"bufio"
	"context"
	"crypto/ed25519"
	"encoding/csv"
	"encoding/json"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/oob-relay/relay/internal/testkit"
	"github.com/oob-relay/relay/relay"
	"github.com/oob-relay/relay/relay/console"
	"github.com/oob-relay/relay/relay/session"
	"github.com/oob-relay/relay/relay/trust"
)

const wantCSP = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'"

func checkHeaders(t *testing.T, what string, p page, peers ...string) {
	t.Helper()
	csp := p.header.Get("Content-Security-Policy")
	if !strings.HasPrefix(csp, wantCSP) || !strings.Contains(csp, "frame-ancestors 'none'; base-uri 'none'; form-action 'self'") {
		t.Errorf("%s: Content-Security-Policy %q", what, csp)
	}
	for _, o := range peers {
		if !strings.Contains(csp, "connect-src 'self' "+o) && !strings.Contains(csp, " "+o+";") && !strings.Contains(csp, " "+o+" ") {
			t.Errorf("%s: connect-src does not name the other node %s: %q", what, o, csp)
		}
	}
	if p.header.Get("X-Content-Type-Options") != "nosniff" || p.header.Get("Referrer-Policy") != "same-origin" {
		t.Errorf("%s: X-Content-Type-Options %q, Referrer-Policy %q", what, p.header.Get("X-Content-Type-Options"), p.header.Get("Referrer-Policy"))
	}
}

// TestPagesByRole: every page renders for the roles it is for, with the
// security headers and the page's language, and is refused (403 page,
// same headers) to the others; an admin's API token sees the admin pages;
// a viewer's token is refused.
func TestPagesByRole(t *testing.T) {
	ns := startCluster(t, "relay-1", "relay-2")
	a := ns[0]
	postIncident(t, a, koText, "group:db-oncall")
	pages := map[string]string{ // path → the role it needs
		"/": "", "/incidents/" + incident: "", "/people": "", "/oncall": "", "/me": "person",
		"/rollcalls/new": relay.PersonCommander,
		"/admin/roster":  relay.PersonAdmin, "/admin/cluster": relay.PersonAdmin, "/admin/audit": relay.PersonAdmin,
	}
	for _, who := range []struct {
		person, lang string
		roles        []string
	}{{"kim", "ko", nil}, {"lee", "en", []string{relay.PersonCommander}}, {"park", "ko", []string{relay.PersonAdmin, relay.PersonCommander}}} {
		b := newBrowser(t)
		b.login(a, who.person)
		for path, need := range pages {
			p := b.get(a.url + path)
			allowed := need == "" || need == "person" || contains(who.roles, need)
			switch {
			case allowed && p.status != http.StatusOK:
				t.Errorf("%s GET %s: %d\n%s", who.person, path, p.status, p.body)
			case !allowed && p.status != http.StatusForbidden:
				t.Errorf("%s GET %s: %d, want 403", who.person, path, p.status)
			}
			checkHeaders(t, who.person+" "+path, p, ns[1].url)
			if !strings.Contains(p.body, `<html lang="`+who.lang+`">`) {
				t.Errorf("%s GET %s: not in %s", who.person, path, who.lang)
			}
			if !strings.Contains(p.body, `id="node-banner"`) || !strings.Contains(p.body, "relay-1") {
				t.Errorf("%s GET %s: no #node-banner naming relay-1", who.person, path)
			}
		}
	}
	for path := range pages {
		req, _ := http.NewRequest(http.MethodGet, a.url+path, nil)
		req.Header.Set("Authorization", "Bearer "+adminToken)
		p := newBrowser(t).do(req)
		if want := http.StatusOK; path == "/me" {
			if p.status != http.StatusForbidden {
				t.Errorf("admin token GET /me: %d, want 403 (a token is no person)", p.status)
			}
		} else if p.status != want {
			t.Errorf("admin token GET %s: %d", path, p.status)
		}
		req.Header.Set("Authorization", "Bearer "+viewerToken)
		if p := newBrowser(t).do(req); p.status != http.StatusUnauthorized {
			t.Errorf("viewer token GET %s: %d, want 401", path, p.status)
		}
	}
	// The cluster page shows each provider's circuit.
	adm := newBrowser(t)
	adm.login(a, "park")
	if p := adm.get(a.url + "/admin/cluster"); !strings.Contains(p.body, `data-provider="sms-relay-1" data-circuit="closed"`) ||
		!strings.Contains(p.body, `data-node="relay-2" data-state="alive"`) {
		t.Errorf("the cluster page lacks the circuits or the other node:\n%s", p.body)
	}
	// Without a session, pages send the browser to the login page.
	p := newBrowser(t).get(a.url + "/incidents/" + incident)
	if p.status != http.StatusSeeOther || p.header.Get("Location") != "/login?next=%2Fincidents%2F"+incident {
		t.Errorf("no session: %d to %q", p.status, p.header.Get("Location"))
	}
	for _, path := range []string{"/login", "/resume", "/no/such/page"} {
		p := newBrowser(t).get(a.url + path)
		checkHeaders(t, path, p)
	}
}

func contains(s []string, v string) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}

// TestPostNeedsFormTokenAndOrigin: a reply without the form token, with
// another session's, from another origin or marked cross-site is refused
// and posts nothing; with the page's token it posts once, as the person.
func TestPostNeedsFormTokenAndOrigin(t *testing.T) {
	ns := startCluster(t, "relay-1")
	a := ns[0]
	postIncident(t, a, "first", "group:db-oncall")
	b := newBrowser(t)
	b.login(a, "kim")
	room := b.get(a.url + "/incidents/" + incident)
	tok := csrf(t, room)
	other := newBrowser(t)
	other.login(a, "kim") // the same person, another session
	otherTok := csrf(t, other.get(a.url+"/incidents/"+incident))
	reply := a.url + "/incidents/" + incident + "/reply"
	for name, try := range map[string]func() page{
		"no token":          func() page { return b.post(reply, url.Values{"text": {"refused"}}, a.url) },
		"another session's": func() page { return b.post(reply, url.Values{"text": {"refused"}, "csrf": {otherTok}}, a.url) },
		"garbage token":     func() page { return b.post(reply, url.Values{"text": {"refused"}, "csrf": {"x.y"}}, a.url) },
		"session as the token": func() page {
			return b.post(reply, url.Values{"text": {"refused"}, "csrf": {sessionCookie(b, a)}}, a.url)
		},
		"cross origin": func() page {
			return b.post(reply, url.Values{"text": {"refused"}, "csrf": {tok}}, "https://evil.example")
		},
		"cross site": func() page {
			req, _ := http.NewRequest(http.MethodPost, reply, strings.NewReader(url.Values{"text": {"refused"}, "csrf": {tok}}.Encode()))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			req.Header.Set("Sec-Fetch-Site", "cross-site")
			return b.do(req)
		},
	} {
		if p := try(); p.status != http.StatusForbidden {
			t.Errorf("%s: %d, want 403", name, p.status)
		} else {
			checkHeaders(t, name, p)
		}
	}
	msgs, _ := a.n.Store().IncidentMessages(incident)
	if len(msgs) != 1 {
		t.Fatalf("%d messages after refused posts, want 1", len(msgs))
	}
	p := b.post(reply, url.Values{"text": {"답장: 확인 중"}, "csrf": {tok}, "nonce": {"n1"}}, a.url)
	if p.status != http.StatusSeeOther {
		t.Fatalf("reply: %d\n%s", p.status, p.body)
	}
	b.post(reply, url.Values{"text": {"답장: 확인 중"}, "csrf": {tok}, "nonce": {"n1"}}, a.url) // the same form again
	msgs, _ = a.n.Store().IncidentMessages(incident)
	if len(msgs) != 2 || msgs[1].Author != "kim" || msgs[1].Reply == nil || msgs[1].Reply.Channel != "console" {
		t.Fatalf("after the reply: %d messages, last %+v", len(msgs), msgs[len(msgs)-1])
	}
}

func sessionCookie(b *browser, tn *tnode) string {
	u, _ := url.Parse(tn.url)
	for _, c := range b.jar.Cookies(u) {
		if c.Name == "relay_session" {
			return c.Value
		}
	}
	return ""
}

// TestSessionRefusals: a session signed by a node nobody trusts, an
// expired one and one of a person no longer... are refused; a session
// issued by relay-1 is taken by relay-2.
func TestSessionRefusals(t *testing.T) {
	ns := startCluster(t, "relay-1", "relay-2")
	a, b2 := ns[0], ns[1]
	postIncident(t, a, "first", "group:db-oncall")
	_, k, _ := ed25519.GenerateKey(nil)
	stranger := session.New(trust.NewSigner("relay-1", k), nil, time.Now)
	forged, _ := stranger.Issue(session.KindSession, "", "park", "", time.Hour)
	expired, _ := a.n.Tokens().Issue(session.KindSession, "", "park", "", -time.Second)
	link, _ := a.n.Tokens().Issue(session.KindLink, "", "park", incident, time.Hour)
	nobody, _ := a.n.Tokens().Issue(session.KindSession, "", "ghost", "", time.Hour)
	for name, tok := range map[string]string{"forged": forged, "expired": expired, "a link as a session": link, "not in the roster": nobody, "garbage": "abc"} {
		br := newBrowser(t)
		br.setSession(a, tok)
		if p := br.get(a.url + "/admin/audit"); p.status != http.StatusUnauthorized {
			t.Errorf("%s: %d, want 401", name, p.status)
		} else if !strings.Contains(p.header.Get("Set-Cookie"), "relay_session=;") {
			t.Errorf("%s: the bad cookie is not cleared: %q", name, p.header.Get("Set-Cookie"))
		}
	}
	br := newBrowser(t)
	tok, _ := a.n.Tokens().Issue(session.KindSession, "", "kim", "", time.Hour)
	br.setSession(b2, tok)
	if p := br.get(b2.url + "/incidents/" + incident); p.status != http.StatusOK && p.status != http.StatusNotFound {
		t.Errorf("relay-1's session on relay-2: %d", p.status)
	}
}

// TestPersonalLinkScoped: a personal link opens its incident's room with
// a session that sees nothing else.
func TestPersonalLinkScoped(t *testing.T) {
	ns := startCluster(t, "relay-1")
	a := ns[0]
	postIncident(t, a, "first", "group:db-oncall")
	if _, err := a.n.Post(t.Context(), &relay.Post{Incident: "other", Text: "elsewhere", To: []string{"everyone"}}, nodeAuthor(), ""); err != nil {
		t.Fatal(err)
	}
	link := a.n.PersonalLink("lee", incident) // a commander, yet scoped
	if !strings.HasPrefix(link, a.url+"/l/") {
		t.Fatalf("personal link %q", link)
	}
	b := newBrowser(t)
	p := b.get(link)
	if p.status != http.StatusSeeOther || p.header.Get("Location") != "/incidents/"+incident {
		t.Fatalf("link: %d to %q", p.status, p.header.Get("Location"))
	}
	if !strings.Contains(p.header.Get("Set-Cookie"), "HttpOnly") || !strings.Contains(p.header.Get("Set-Cookie"), "SameSite=Strict") {
		t.Errorf("session cookie %q", p.header.Get("Set-Cookie"))
	}
	if p := b.get(a.url + "/incidents/" + incident); p.status != http.StatusOK {
		t.Errorf("the link's room: %d", p.status)
	}
	for _, path := range []string{"/", "/incidents/other", "/people", "/rollcalls/new", "/admin/audit", "/me"} {
		if p := b.get(a.url + path); p.status != http.StatusForbidden {
			t.Errorf("link session GET %s: %d, want 403", path, p.status)
		}
	}
	tok := csrf(t, b.get(a.url+"/incidents/"+incident))
	p = b.post(a.url+"/incidents/"+incident+"/reply", url.Values{"text": {"to all"}, "to": {"everyone"}, "csrf": {tok}}, a.url)
	if p.status != http.StatusForbidden {
		t.Errorf("a link session choosing the audience: %d, want 403", p.status)
	}
	bad := newBrowser(t)
	expired, _ := a.n.Tokens().Issue(session.KindLink, "", "lee", incident, -time.Second)
	if p := bad.get(a.url + "/l/" + expired); p.status != http.StatusUnauthorized {
		t.Errorf("an expired link: %d, want 401", p.status)
	}
}

// TestHandoffResumesOnAnotherNode: the hand-off the live stream of
// relay-1 gave is turned by relay-2 into the same session, once.
func TestHandoffResumesOnAnotherNode(t *testing.T) {
	ns := startCluster(t, "relay-1", "relay-2")
	a, b2 := ns[0], ns[1]
	postIncident(t, a, "first", "group:db-oncall")
	br := newBrowser(t)
	cl := br.login(a, "kim")
	h := readHandoff(t, br, a)
	moved := newBrowser(t)
	if p := moved.post(b2.url+"/resume", url.Values{"handoff": {h}}, "https://evil.example"); p.status != http.StatusForbidden {
		t.Errorf("a hand-off posted from another origin: %d, want 403", p.status)
	}
	p := moved.post(b2.url+"/resume", url.Values{"handoff": {h}}, b2.url)
	if p.status != http.StatusNoContent {
		t.Fatalf("resume: %d %s", p.status, p.body)
	}
	got, err := b2.n.Tokens().Check(session.KindSession, sessionCookie(moved, b2))
	if err != nil || got.ID != cl.ID || got.Expires != cl.Expires || got.Issued != cl.Issued || got.Person != "kim" {
		t.Errorf("resumed session %+v %v, want the same as %+v", got, err, cl)
	}
	if p := moved.get(b2.url + "/incidents/" + incident + "?moved=relay-1"); p.status != http.StatusOK ||
		!strings.Contains(p.body, "relay-1 노드가 응답하지 않아 relay-2 노드에서 이어갑니다") {
		t.Errorf("the page on relay-2 does not say it moved: %d", p.status)
	}
	if p := newBrowser(t).post(b2.url+"/resume", url.Values{"handoff": {h}}, b2.url); p.status != http.StatusUnauthorized {
		t.Errorf("the same hand-off again: %d, want 401", p.status)
	}
	sess, _ := a.n.Tokens().Issue(session.KindSession, "", "kim", "", time.Hour)
	if p := newBrowser(t).post(b2.url+"/resume", url.Values{"handoff": {sess}}, b2.url); p.status != http.StatusUnauthorized {
		t.Errorf("a session as a hand-off: %d, want 401", p.status)
	}
}

// readHandoff opens the room's live stream and returns its first
// hand-off.
func readHandoff(t *testing.T, br *browser, tn *tnode) string {
	t.Helper()
	var h string
	readStream(t, br, tn, func(event, data string) bool {
		if event == "handoff" {
			h = data
			return true
		}
		return false
	})
	return h
}

// readStream reads the incident's live stream on tn until fn is done.
func readStream(t *testing.T, br *browser, tn *tnode, fn func(event, data string) bool) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, tn.url+"/incidents/"+incident+"/live", nil)
	resp, err := br.http.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "text/event-stream" {
		t.Fatalf("live: %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 1<<20), 4<<20)
	event := ""
	for sc.Scan() {
		line := sc.Text()
		switch {
		case strings.HasPrefix(line, "event: "):
			event = strings.TrimPrefix(line, "event: ")
		case strings.HasPrefix(line, "data: "):
			if fn(event, strings.TrimPrefix(line, "data: ")) {
				return
			}
			event = ""
		}
	}
	t.Fatalf("the stream ended first: %v", sc.Err())
}

// TestLiveStreamShowsReplyFromOtherNode: a page on relay-1 gets, over its
// live stream, a reply posted through relay-2's console.
func TestLiveStreamShowsReplyFromOtherNode(t *testing.T) {
	ns := startCluster(t, "relay-1", "relay-2")
	a, b2 := ns[0], ns[1]
	postIncident(t, a, "first", "group:db-oncall")
	testkit.Eventually(t, 5*time.Second, "the incident on relay-2", func() bool {
		_, err := b2.n.Store().Incident(incident)
		return err == nil
	})
	watcher := newBrowser(t)
	watcher.login(a, "kim")
	writer := newBrowser(t)
	writer.login(b2, "lee")
	tok := csrf(t, writer.get(b2.url+"/incidents/"+incident))
	first := true
	readStream(t, watcher, a, func(event, data string) bool {
		if event != "part" {
			return false
		}
		var part struct{ ID, HTML string }
		if err := json.Unmarshal([]byte(data), &part); err != nil {
			t.Fatal(err)
		}
		if part.ID == "timeline" && first {
			first = false
			p := writer.post(b2.url+"/incidents/"+incident+"/reply", url.Values{"text": {"relay-2에서 답장"}, "csrf": {tok}}, b2.url)
			if p.status != http.StatusSeeOther {
				t.Fatalf("reply on relay-2: %d %s", p.status, p.body)
			}
		}
		return part.ID == "timeline" && strings.Contains(part.HTML, "relay-2에서 답장") && strings.Contains(part.HTML, `data-kind="reply"`)
	})
}

// TestRoomEscapesText: Korean text is shown as written and markup in it
// is escaped, on the page and in the export.
func TestRoomEscapesText(t *testing.T) {
	ns := startCluster(t, "relay-1")
	a := ns[0]
	postIncident(t, a, koText, "group:db-oncall")
	b := newBrowser(t)
	b.login(a, "kim")
	p := b.get(a.url + "/incidents/" + incident)
	if !strings.Contains(p.body, "DB 장애: 결제 지연 &lt;script&gt;alert(1)&lt;/script&gt;") || strings.Contains(p.body, "<script>alert") {
		t.Errorf("the text is not escaped as it should be:\n%s", p.body)
	}
	for _, hook := range []string{`form id="reply"`, `name="text"`, `form id="ack"`, `id="timeline"`, `data-kind="message"`, `table id="matrix"`,
		`data-person="kim"`, `data-channel="sms"`, `id="export"`, `id="lang-ko"`, `id="lang-en"`, `id="tally"`} {
		if !strings.Contains(p.body, hook) {
			t.Errorf("the room lacks %s", hook)
		}
	}
}

// TestExport: the CSV and JSON exports hold the timeline, a formula-like
// cell defused.
func TestExport(t *testing.T) {
	ns := startCluster(t, "relay-1")
	a := ns[0]
	postIncident(t, a, koText, "group:db-oncall")
	postIncident(t, a, "=HYPERLINK(\"http://evil\")", "group:db-oncall")
	if _, err := a.n.AckIncident(t.Context(), "kim", incident, "sms"); err != nil {
		t.Fatal(err)
	}
	b := newBrowser(t)
	b.login(a, "lee")
	p := b.get(a.url + "/incidents/" + incident + "/export.csv")
	if p.status != http.StatusOK || !strings.HasPrefix(p.header.Get("Content-Type"), "text/csv") {
		t.Fatalf("csv: %d %s", p.status, p.header.Get("Content-Type"))
	}
	rows, err := csv.NewReader(strings.NewReader(p.body)).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	// kim's acknowledgement covers both messages: an entry each.
	if len(rows) != 5 || rows[0][1] != "kind" || rows[1][3] != koText || rows[2][3] != "'=HYPERLINK(\"http://evil\")" || rows[3][1] != "ack" || rows[4][2] != "김민준" {
		t.Errorf("csv rows %q", rows)
	}
	p = b.get(a.url + "/incidents/" + incident + "/export.json")
	var ex struct {
		Incident struct{ ID string }
		Timeline []struct{ Kind, Text string }
		Matrix   struct {
			Rows []struct {
				Person string
				Acked  bool
			}
		}
	}
	if err := json.Unmarshal([]byte(p.body), &ex); err != nil {
		t.Fatal(err)
	}
	if ex.Incident.ID != incident || len(ex.Timeline) != 4 || ex.Timeline[0].Text != koText || len(ex.Matrix.Rows) != 2 {
		t.Errorf("json export %+v", ex)
	}
}

var (
	inlineScript = regexp.MustCompile(`(?i)<script(\s[^>]*)?>`)
	inlineStyle  = regexp.MustCompile(`(?i)<style|\sstyle\s*=|\son[a-z]+\s*=|javascript:`)
)

// TestTemplatesHaveNoInlineScriptOrStyle: the CSP forbids them, so no
// template may hold a script without src, a style element or attribute,
// or an event handler attribute.
func TestTemplatesHaveNoInlineScriptOrStyle(t *testing.T) {
	srcs, err := console.TemplateSources()
	if err != nil || len(srcs) < 10 {
		t.Fatalf("%d templates, %v", len(srcs), err)
	}
	for name, src := range srcs {
		for _, m := range inlineScript.FindAllString(src, -1) {
			if !strings.Contains(m, " src=") {
				t.Errorf("%s: inline script %q", name, m)
			}
		}
		if m := inlineStyle.FindString(src); m != "" {
			t.Errorf("%s: inline style or handler %q", name, m)
		}
	}
}

var keyUse = regexp.MustCompile(`\.Tf? "([a-z.]+)"`)

// TestCatalogueComplete: every key a template names is in Korean and in
// English, and both languages have the same keys.
func TestCatalogueComplete(t *testing.T) {
	srcs, _ := console.TemplateSources()
	for name, src := range srcs {
		for _, m := range keyUse.FindAllStringSubmatch(src, -1) {
			for lang, msgs := range console.Catalogue {
				if _, ok := msgs[m[1]]; !ok {
					t.Errorf("%s: key %s has no %s text", name, m[1], lang)
				}
			}
		}
	}
	for k := range console.Catalogue["en"] {
		if _, ok := console.Catalogue["ko"][k]; !ok {
			t.Errorf("key %s has no Korean text", k)
		}
	}
	for k := range console.Catalogue["ko"] {
		if _, ok := console.Catalogue["en"][k]; !ok {
			t.Errorf("key %s has no English text", k)
		}
	}
}

// TestFormPostHeadersAsChromiumSends: the pages' referrer policy is
// same-origin, under which Chromium sends the page's own origin on a
// form post; over plain HTTP on a LAN address it sends no Sec-Fetch-Site
// (the origin is not potentially trustworthy), and the post passes on its
// Origin. Origin: null passes only with Sec-Fetch-Site: same-origin.
func TestFormPostHeadersAsChromiumSends(t *testing.T) {
	ns := startCluster(t, "relay-1")
	a := ns[0]
	postIncident(t, a, "first", "group:db-oncall")
	b := newBrowser(t)
	b.login(a, "kim")
	roomURL := a.url + "/incidents/" + incident
	room := b.get(roomURL)
	if got := room.header.Get("Referrer-Policy"); got != "same-origin" {
		t.Errorf("Referrer-Policy %q, want same-origin", got)
	}
	if !strings.Contains(room.body, `<meta name="referrer" content="same-origin">`) {
		t.Errorf("the page's referrer meta is not same-origin")
	}
	tok := csrf(t, room)
	post := func(nonce string, h map[string]string) page {
		req, _ := http.NewRequest(http.MethodPost, roomURL+"/reply",
			strings.NewReader(url.Values{"text": {"확인 " + nonce}, "csrf": {tok}, "nonce": {nonce}}.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("Cache-Control", "max-age=0")
		req.Header.Set("Upgrade-Insecure-Requests", "1")
		req.Header.Set("Accept", "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8")
		for k, v := range h {
			req.Header.Set(k, v)
		}
		return b.do(req)
	}
	for _, tc := range []struct {
		name   string
		header map[string]string
		want   int
	}{
		// Chromium over http://192.168.x.y: no Sec-Fetch-*, the page's
		// origin and, under same-origin, its address as Referer.
		{"plain HTTP on a LAN address", map[string]string{"Origin": a.url, "Referer": roomURL}, http.StatusSeeOther},
		// Chromium over HTTPS or localhost.
		{"trustworthy origin", map[string]string{"Origin": a.url, "Referer": roomURL, "Sec-Fetch-Site": "same-origin",
			"Sec-Fetch-Mode": "navigate", "Sec-Fetch-Dest": "document", "Sec-Fetch-User": "?1"}, http.StatusSeeOther},
		{"opaque origin, same-origin fetch", map[string]string{"Origin": "null", "Sec-Fetch-Site": "same-origin",
			"Sec-Fetch-Mode": "navigate", "Sec-Fetch-Dest": "document"}, http.StatusSeeOther},
		// What the no-referrer policy made Chromium send over plain HTTP.
		{"opaque origin without Sec-Fetch-Site", map[string]string{"Origin": "null"}, http.StatusForbidden},
		{"opaque origin, cross-site", map[string]string{"Origin": "null", "Sec-Fetch-Site": "cross-site"}, http.StatusForbidden},
		{"another LAN origin", map[string]string{"Origin": "http://192.168.1.20:8080"}, http.StatusForbidden},
	} {
		if p := post(strings.ReplaceAll(tc.name, " ", "-"), tc.header); p.status != tc.want {
			t.Errorf("%s: %d, want %d\n%s", tc.name, p.status, tc.want, p.body)
		}
	}
}

var handoffAttr = regexp.MustCompile(`data-handoff="([^"]*)"`)

// TestRoomPageCarriesHandoff: the room comes with a hand-off of its
// session, signed as it renders, that another node takes before any live
// update reached the page; a token's page carries none.
func TestRoomPageCarriesHandoff(t *testing.T) {
	ns := startCluster(t, "relay-1", "relay-2")
	a, b2 := ns[0], ns[1]
	postIncident(t, a, "first", "group:db-oncall")
	br := newBrowser(t)
	cl := br.login(a, "kim")
	room := br.get(a.url + "/incidents/" + incident)
	m := handoffAttr.FindStringSubmatch(room.body)
	if m == nil {
		t.Fatalf("the room carries no hand-off:\n%s", room.body)
	}
	h, err := a.n.Tokens().Check(session.KindHandoff, m[1])
	if err != nil || h.ID != cl.ID || h.Person != "kim" || h.SessionExpires != cl.Expires {
		t.Fatalf("the page's hand-off %+v %v does not name the session %+v", h, err, cl)
	}
	if left := h.ExpiresAt().Sub(a.n.Now()); left > 10*time.Minute || left < 9*time.Minute {
		t.Errorf("the page's hand-off lasts %s, want 10 min", left)
	}
	a.stop()
	moved := newBrowser(t)
	if p := moved.post(b2.url+"/resume", url.Values{"handoff": {m[1]}}, b2.url); p.status != http.StatusNoContent {
		t.Fatalf("resume with the page's hand-off: %d %s", p.status, p.body)
	}
	if p := moved.get(b2.url + "/incidents/" + incident); p.status != http.StatusOK {
		t.Errorf("the room on relay-2 after the move: %d", p.status)
	}
	req, _ := http.NewRequest(http.MethodGet, b2.url+"/incidents/"+incident, nil)
	req.Header.Set("Authorization", "Bearer "+adminToken)
	if p := newBrowser(t).do(req); p.status != http.StatusOK || strings.Contains(p.body, "data-handoff") {
		t.Errorf("a token's room: %d, carries a hand-off: %v", p.status, strings.Contains(p.body, "data-handoff"))
	}
}

// TestHandoffTakenOnceInCluster: a hand-off taken on relay-2 is refused
// on relay-3 once relay-3 holds relay-2's record of it.
func TestHandoffTakenOnceInCluster(t *testing.T) {
	ns := startCluster(t, "relay-1", "relay-2", "relay-3")
	a, b2, c3 := ns[0], ns[1], ns[2]
	postIncident(t, a, "first", "group:db-oncall")
	br := newBrowser(t)
	br.login(a, "kim")
	m := handoffAttr.FindStringSubmatch(br.get(a.url + "/incidents/" + incident).body)
	if m == nil {
		t.Fatal("the room carries no hand-off")
	}
	if p := newBrowser(t).post(b2.url+"/resume", url.Values{"handoff": {m[1]}}, b2.url); p.status != http.StatusNoContent {
		t.Fatalf("resume on relay-2: %d %s", p.status, p.body)
	}
	testkit.Eventually(t, 10*time.Second, "relay-3 holds relay-2's record of the hand-off", func() bool {
		seen, _ := c3.n.Seen(console.HandoffKey(m[1]))
		return seen
	})
	p := newBrowser(t).post(c3.url+"/resume", url.Values{"handoff": {m[1]}}, c3.url)
	if p.status != http.StatusUnauthorized || !strings.Contains(p.body, "used already") {
		t.Errorf("the same hand-off on relay-3: %d %s, want 401 used already", p.status, p.body)
	}
}
