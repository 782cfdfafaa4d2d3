package main

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"

	"github.com/oob-relay/relay/channels/twilio/emulator"
	"github.com/oob-relay/relay/internal/testkit"
	"github.com/oob-relay/relay/internal/testkit/browser"
	"github.com/oob-relay/relay/relay"
)

// consoleRoster is the roster of the console's browser tests: a
// commander who is also an admin, two responders reading Korean and one
// reading English, every one with a phone.
const consoleRoster = `people:
  - id: p00000
    name: 김민지
    phone: "+821000000000"
    email: p00000@example.com
    lang: ko
    roles: [commander, admin]
  - id: p00001
    name: 이서준
    phone: "+821000000001"
    email: p00001@example.com
    lang: ko
  - id: p00002
    name: Alex Morgan
    phone: "+821000000002"
    email: p00002@example.com
    lang: en
  - id: p00003
    name: 박지훈
    phone: "+821000000003"
    email: p00003@example.com
    lang: ko
groups:
  - id: all
    name: 전 직원
    members: [p00000, p00001, p00002, p00003]
`

// codePattern finds a one-time code in an SMS.
var codePattern = regexp.MustCompile(`\b(\d{6})\b`)

// consoleLogin logs browser b in on node n as the person whose phone is
// phone: it asks for a code, reads it from the SMS the Twilio emulator
// got and types it, as the person would.
func consoleLogin(t *testing.T, ctx context.Context, b *browser.Browser, cl *testCluster, base string, phone string, shots bool) {
	t.Helper()
	before := len(smsToPhone(cl.s.emu, phone))
	b.Do(t, "open the login page", chromedp.Navigate(base+"/login"), chromedp.WaitVisible(chromedp.CSS("form#login input[name=contact]")))
	if shots {
		b.RequireAccessible(t, "login")
		b.Screenshots(t, "login")
	}
	b.Do(t, "ask for a code", chromedp.SendKeys(chromedp.CSS("form#login input[name=contact]"), phone),
		chromedp.Click(chromedp.CSS("form#login button[type=submit]")))
	if err := waitVisible(ctx, b, "form#code input[name=code]"); err != nil {
		t.Fatalf("no code form after asking for a code for %s: %v; the page says: %s", phone, err,
			browser.Eval[string](t, b, "location.href + ' ' + document.documentElement.outerHTML.slice(0, 3000)"))
	}
	var code string
	testkit.WaitFor(t, ctx, "the code by SMS to "+phone, func() bool {
		ms := smsToPhone(cl.s.emu, phone)
		if len(ms) <= before {
			return false
		}
		m := codePattern.FindStringSubmatch(ms[len(ms)-1].Body)
		if m != nil {
			code = m[1]
		}
		return m != nil
	})
	if shots {
		b.RequireAccessible(t, "login code")
		b.Screenshots(t, "login-code")
	}
	b.Do(t, "type the code", chromedp.SendKeys(chromedp.CSS("form#code input[name=code]"), code),
		chromedp.Click(chromedp.CSS("form#code button[type=submit]")))
	if !pageIs(ctx, b, func(path string) bool { return !strings.HasPrefix(path, "/login") }) {
		t.Fatalf("the code did not log %s in: %s", phone, browser.Eval[string](t, b, "location.href + ' ' + document.body.innerText"))
	}
}

// pageIs reports whether b's page comes to a path ok takes, with its
// node banner shown, within 15 s.
func pageIs(ctx context.Context, b *browser.Browser, ok func(path string) bool) bool {
	return testkit.Poll(ctx, 15*time.Second, func() bool {
		c, cancel := context.WithTimeout(b.Context(), 2*time.Second)
		defer cancel()
		s, err := chromedp.Run(c, chromedp.Evaluate[string](
			`document.readyState === 'complete' && document.getElementById('node-banner') ? location.pathname : ''`))
		return err == nil && s != "" && ok(s)
	})
}

// waitVisible waits up to 15 s for sel to be visible in b's page.
func waitVisible(ctx context.Context, b *browser.Browser, sel string) error {
	ctx, cancel := context.WithTimeout(b.Context(), 15*time.Second)
	defer cancel()
	return chromedp.Do(ctx, chromedp.WaitVisible(chromedp.CSS(sel)))
}

func smsToPhone(emu *emulator.Emulator, phone string) []emulator.Message {
	var out []emulator.Message
	for _, m := range emu.Messages() {
		if m.To == phone {
			out = append(out, m)
		}
	}
	return out
}

// waitText waits until the page in b has text in the element sel
// matches, polling in the page every 5 ms, and returns when it saw it.
func waitText(ctx context.Context, b *browser.Browser, sel, text string) (time.Time, error) {
	bctx, cancel := context.WithCancel(b.Context())
	defer cancel()
	defer context.AfterFunc(ctx, cancel)()
	js := fmt.Sprintf(`new Promise(function (resolve) {
		(function poll() {
			var els = document.querySelectorAll(%q);
			for (var i = 0; i < els.length; i++) {
				if (els[i].textContent.indexOf(%q) >= 0) { resolve(Date.now()); return; }
			}
			setTimeout(poll, 5);
		})();
	})`, sel, text)
	ms, err := chromedp.Run(bctx, chromedp.Evaluate[int64](js, chromedp.EvalAwaitPromise))
	return time.UnixMilli(ms), err
}

// percentile returns the p-th percentile of ds, sorted in place.
func percentile(ds []time.Duration, p float64) time.Duration {
	sort.Slice(ds, func(i, j int) bool { return ds[i] < ds[j] })
	i := int(float64(len(ds)-1) * p)
	return ds[i]
}

// TestBrowserConsole drives the web console of three relay serve
// processes in chromium: a commander logs in on node A with the code
// the Twilio emulator captured, a responder on node B; every page passes
// axe-core (no serious or critical violation) and is shot at a phone's
// and a desktop's width; the Korean text is drawn in a Hangul font; the
// delivery matrix shows who was reached; the commander's reply appears
// on the responder's page on the other node; SMS replies at node B
// appear on node A's page (latency measured); the responder answers a
// roll-call with its buttons.
func TestBrowserConsole(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	cl := startCluster(t, clusterSpec{nodes: 3, replies: true, admin: true, roster: consoleRoster,
		inbound: []string{"replies: {per_person: 1000, repeat_window: 1s}"}})
	a, bnode := cl.nodes[0], cl.nodes[1]
	const incident = "db-outage"
	const text = "DB 장애: 결제 지연, 확인 중"
	if _, err := a.c.Post(ctx, &relay.Post{Incident: incident, Text: text, To: []string{"group:all"},
		Severity: relay.SeverityWarning, Channels: []string{relay.ChannelSMS}}, ""); err != nil {
		t.Fatal(err)
	}

	commander := browser.Start(t)
	consoleLogin(t, ctx, commander, cl, a.api, "+821000000000", true)

	pages := []struct{ name, path, ready string }{
		{"incidents", "/", "main"},
		{"room", "/incidents/" + incident, "#timeline .entry[data-kind=message]"},
		{"people", "/people", "main"},
		{"oncall", "/oncall", "main"},
		{"rollcall-new", "/rollcalls/new", "main"},
		{"admin-roster", "/admin/roster", "main"},
		{"admin-cluster", "/admin/cluster", "main"},
		{"admin-audit", "/admin/audit", "main"},
		{"me", "/me", "main"},
	}
	for _, p := range pages {
		commander.Do(t, "open "+p.name, chromedp.Navigate(a.api+p.path), chromedp.WaitVisible(chromedp.CSS(p.ready)))
		commander.RequireAccessible(t, p.name)
		commander.Screenshots(t, p.name)
	}

	// The room, in Korean: the text, the language and the font.
	commander.Do(t, "open the room", chromedp.Navigate(a.api+"/incidents/"+incident),
		chromedp.WaitVisible(chromedp.CSS("#timeline .entry[data-kind=message] .text")))
	if got := commander.Text(t, "#timeline .entry[data-kind=message] .text"); !strings.Contains(got, text) {
		t.Errorf("the room shows %q", got)
	}
	if lang := browser.Eval[string](t, commander, "document.documentElement.lang"); lang != "ko" {
		t.Errorf("html lang = %q for a Korean reader", lang)
	}
	fonts := commander.Fonts(t, "#timeline .entry[data-kind=message] .text")
	t.Logf("fonts of the Korean message: %v", fonts)
	if !browser.HangulFont(fonts) {
		t.Errorf("the Korean message is drawn in %v, none of which has Hangul", fonts)
	}
	// The delivery matrix: every person's SMS reached.
	testkit.WaitFor(t, ctx, "every SMS reached in the matrix", func() bool {
		commander.Do(t, "reload the room", chromedp.Navigate(a.api+"/incidents/"+incident), chromedp.WaitVisible(chromedp.CSS("table#matrix")))
		states := browser.Eval[[]string](t, commander,
			`Array.from(document.querySelectorAll('table#matrix tr[data-person] td[data-channel="sms"]')).map(td => td.closest('tr').dataset.person + '=' + td.dataset.state)`)
		return len(states) == 4 && !slices.ContainsFunc(states, func(s string) bool { return !strings.HasSuffix(s, "=reached") })
	})
	commander.Screenshots(t, "room-reached")
	// Switch to English and back.
	commander.Do(t, "switch to English", chromedp.Click(chromedp.CSS("a#lang-en")), chromedp.WaitVisible(chromedp.CSS("html[lang=en]")))
	commander.Screenshots(t, "room-en")
	commander.Do(t, "switch to Korean", chromedp.Click(chromedp.CSS("a#lang-ko")), chromedp.WaitVisible(chromedp.CSS("html[lang=ko]")))

	// A responder on node B sees the commander's reply from node A live.
	responder := browser.Start(t)
	consoleLogin(t, ctx, responder, cl, bnode.api, "+821000000001", false)
	responder.Do(t, "open the room on node B", chromedp.Navigate(bnode.api+"/incidents/"+incident),
		chromedp.WaitVisible(chromedp.CSS("#timeline .entry[data-kind=message]")))
	commander.Do(t, "post a reply on node A", chromedp.Navigate(a.api+"/incidents/"+incident),
		chromedp.WaitVisible(chromedp.CSS("form#reply textarea[name=text]")),
		chromedp.SendKeys(chromedp.CSS("form#reply textarea[name=text]"), "복구 담당: 이서준, 10분 후 보고"),
		chromedp.Click(chromedp.CSS("form#reply button[type=submit]")))
	wctx, wcancel := context.WithTimeout(ctx, 20*time.Second)
	if _, err := waitText(wctx, responder, "#timeline .entry", "복구 담당: 이서준"); err != nil {
		t.Fatalf("the commander's reply did not reach the responder's page on node B: %v", err)
	}
	wcancel()
	responder.Screenshots(t, "room-responder")

	// Live-update latency: an SMS reply taken by node B's signed webhook,
	// to its text on the commander's page on node A.
	commander.Do(t, "open the room on node A", chromedp.Navigate(a.api+"/incidents/"+incident),
		chromedp.WaitVisible(chromedp.CSS("#timeline .entry")))
	var lat []time.Duration
	for i := range 20 {
		phone := []string{"+821000000002", "+821000000003"}[i%2]
		body := fmt.Sprintf("현장 확인 %02d 완료", i)
		seen := make(chan time.Time, 1)
		errs := make(chan error, 1)
		wctx, wcancel := context.WithTimeout(ctx, 20*time.Second)
		go func() {
			at, err := waitText(wctx, commander, "#timeline .entry", body)
			if err != nil {
				errs <- err
				return
			}
			seen <- at
		}()
		start := time.Now()
		if status, _ := cl.deliver(t, ctx, bnode, incomingSMS(t, bnode, phone, bnode.smsFrom, body)); status != 200 {
			t.Fatalf("node B's SMS webhook answered %d", status)
		}
		select {
		case at := <-seen:
			lat = append(lat, at.Sub(start))
		case err := <-errs:
			t.Fatalf("SMS reply %d did not show on node A's page: %v", i, err)
		}
		wcancel()
	}
	t.Logf("live-update latency, SMS reply at node B to the text on a browser at node A, %d replies: p50 %s, p99 %s, max %s",
		len(lat), percentile(lat, 0.5), percentile(lat, 0.99), percentile(lat, 1))

	// The responder answers a roll-call with its buttons.
	rc, err := a.c.StartRollCall(ctx, &relay.RollCallStart{Incident: incident, Question: "모두 안전한가요?",
		Options: []relay.RollCallOption{{Digit: 1, Label: "안전"}, {Digit: 2, Label: "도움 필요"}}, To: []string{"group:all"}}, "")
	if err != nil {
		t.Fatal(err)
	}
	responder.Do(t, "open the room with the roll-call", chromedp.Navigate(bnode.api+"/incidents/"+incident),
		chromedp.WaitVisible(chromedp.CSS(`form.rollcall button[name=option][value="1"]`)))
	responder.RequireAccessible(t, "room with a roll-call")
	responder.Screenshots(t, "room-rollcall")
	responder.Do(t, "answer 1", chromedp.Click(chromedp.CSS(`form.rollcall button[name=option][value="1"]`)),
		chromedp.WaitVisible(chromedp.CSS(`form.rollcall button[name=option][value="1"][aria-pressed=true]`)))
	testkit.WaitFor(t, ctx, "the responder's answer in the tally", func() bool {
		tally, err := a.c.RollCall(ctx, rc.RollCall.ID)
		return err == nil && slices.ContainsFunc(tally.People, func(p relay.RollCallPerson) bool { return p.Person == "p00001" && p.Digit == 1 })
	})
	wctx, wcancel = context.WithTimeout(ctx, 20*time.Second)
	if _, err := waitText(wctx, commander, "#tally", "1"); err != nil {
		t.Errorf("the commander's tally: %v", err)
	}
	wcancel()

	if errs := commander.Errors(); len(errs) > 0 {
		t.Logf("commander's page errors (the dead node's stream included): %v", errs)
	}
}

// TestBrowserConsoleFailover: the node serving a commander's incident
// room is killed (SIGKILL) before the room's live stream sent anything;
// the page carries on on another node without a new login, through the
// hand-off it was rendered with, its banner saying it moved from the
// dead node. The time
// from the kill to the room shown again is logged.
func TestBrowserConsoleFailover(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cl := startCluster(t, clusterSpec{nodes: 3, replies: true, admin: true, roster: consoleRoster})
	a := cl.nodes[0]
	const incident = "db-outage"
	if _, err := a.c.Post(ctx, &relay.Post{Incident: incident, Text: "DB 장애: 결제 지연, 확인 중", To: []string{"group:all"},
		Severity: relay.SeverityWarning, Channels: []string{relay.ChannelSMS}}, ""); err != nil {
		t.Fatal(err)
	}
	// The page is on node A as localhost, the other nodes are 127.0.0.1:
	// no cookie of A reaches them, as with nodes on their own hosts, so
	// the page continues only through its hand-off.
	base := strings.Replace(a.api, "127.0.0.1", "localhost", 1)
	// relay serve has no playground: only relay dev mounts /dev/.
	for _, path := range []string{"/dev/", "/dev/state", "/dev/login/x"} {
		resp, err := cl.http.Get(a.api + path)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusNotFound && resp.StatusCode != http.StatusSeeOther && resp.StatusCode != http.StatusFound {
			t.Errorf("relay serve answers %s with %s", path, resp.Status)
		}
	}
	commander := browser.Start(t)
	consoleLogin(t, ctx, commander, cl, base, "+821000000000", false)

	// Node A dies before the page's live stream sent anything: its
	// stream is blocked (A is the only node named localhost), so the
	// page holds only the hand-off it was rendered with, and carries on
	// on another node through it.
	if _, err := chromedp.Call(commander.Context(), network.Enable, network.EnableParams{}); err != nil {
		t.Fatal(err)
	}
	if _, err := chromedp.Call(commander.Context(), network.SetBlockedURLs, network.SetBlockedURLsParams{
		URLPatterns: []*network.BlockPattern{{URLPattern: "*://localhost:*/incidents/*/live", Block: true}}}); err != nil {
		t.Fatal(err)
	}
	commander.Do(t, "open the room on node A", chromedp.Navigate(base+"/incidents/"+incident),
		chromedp.WaitVisible(chromedp.CSS("#timeline .entry")))
	hostA := strings.TrimPrefix(base, "http://")
	killed := time.Now()
	cl.kill(0)
	var moved time.Duration
	var state string
	ok := testkit.Poll(ctx, 30*time.Second, func() bool {
		c, cancel := context.WithTimeout(commander.Context(), 2*time.Second)
		defer cancel()
		s, err := chromedp.Run(c, chromedp.Evaluate[string](
			`location.host + '|' + (document.querySelector('#node-banner.moved') ? 'moved' : '') + '|' + document.querySelectorAll('#timeline .entry').length`))
		if err != nil {
			return false
		}
		state = s
		parts := strings.Split(s, "|")
		if parts[0] != hostA && parts[1] == "moved" && parts[2] != "0" {
			moved = time.Since(killed)
			return true
		}
		return false
	})
	if !ok {
		t.Fatalf("the page did not carry on on another node within 30 s: host|banner|entries = %s; banner %q; page errors %v; visits %v",
			state, commander.Text(t, "#node-banner"), commander.Errors(), commander.Visits())
	}
	visits := commander.Visits()
	t.Logf("page recovery after its node was killed (SIGKILL to the room shown again on another node): %s, through %s",
		moved, strings.Join(visits[max(0, len(visits)-2):], " then "))
	if len(visits) < 2 || !strings.Contains(visits[len(visits)-2], "/resume#") {
		t.Errorf("the page did not continue through its hand-off: %v", visits)
	}
	banner := commander.Text(t, "#node-banner")
	if !strings.Contains(banner, a.name) {
		t.Errorf("the banner after the move says %q, not that it moved from %s", banner, a.name)
	}
	if u, _ := url.Parse(browser.Eval[string](t, commander, "location.href")); u.Path != "/incidents/"+incident {
		t.Errorf("after the move the page is %s", u)
	}
	commander.Screenshots(t, "room-moved")
	if errs := commander.Errors(); len(errs) > 0 {
		t.Logf("page errors (the dead node's stream included): %v", errs)
	}
}
