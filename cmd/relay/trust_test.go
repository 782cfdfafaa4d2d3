package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	natsgo "github.com/nats-io/nats.go"

	"github.com/oob-relay/relay/cmd/relay/internal/launch"
	"github.com/oob-relay/relay/internal/testkit"
	"github.com/oob-relay/relay/relay"
	"github.com/oob-relay/relay/relay/problem"
)

// fromAddr returns an HTTP client whose connections come from the
// loopback address ip, so that a test speaks for one client address of
// its own.
func fromAddr(t *testing.T, ip string) *http.Client {
	t.Helper()
	d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(ip)}, Timeout: 5 * time.Second}
	tr := &http.Transport{DialContext: d.DialContext, MaxIdleConnsPerHost: 32}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr, Timeout: 30 * time.Second}
}

// call makes one request and returns the status, the headers and the
// problem of an error answer.
func call(t *testing.T, hc *http.Client, method, url, token, contentType string, body []byte) (int, http.Header, problem.Problem) {
	t.Helper()
	req, err := http.NewRequest(method, url, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	resp, err := hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	var env problem.Envelope
	if resp.StatusCode >= 300 {
		if err := json.Unmarshal(data, &env); err != nil {
			t.Fatalf("%s %s: %d answer is not the error envelope: %s", method, url, resp.StatusCode, data)
		}
	}
	return resp.StatusCode, resp.Header, env.Error
}

// flood sends requests from 16 goroutines through hc until one is
// answered 429, with a Retry-After of a second or more.
func flood(ctx context.Context, t *testing.T, hc *http.Client, method, url, token string) {
	t.Helper()
	var (
		sent, limited atomic.Int64
		wg            sync.WaitGroup
		once          sync.Once
		retry         string
	)
	for range 16 {
		wg.Go(func() {
			for limited.Load() == 0 && sent.Add(1) <= 30000 && ctx.Err() == nil {
				req, _ := http.NewRequestWithContext(ctx, method, url, nil)
				req.Header.Set("Authorization", "Bearer "+token)
				resp, err := hc.Do(req)
				if err != nil {
					continue
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode == http.StatusTooManyRequests {
					once.Do(func() { retry = resp.Header.Get("Retry-After") })
					limited.Add(1)
				}
			}
		})
	}
	wg.Wait()
	if limited.Load() == 0 {
		t.Fatalf("%s %s: %d requests from one address and none limited", method, url, sent.Load())
	}
	if s, err := strconv.Atoi(retry); err != nil || s < 1 {
		t.Errorf("%s %s: Retry-After %q", method, url, retry)
	}
}

// TestServeRefusesHostileInput runs relay serve from a config that leaves
// the limits out, as an operator's would, and sends what the attacker
// probe sent: hostile text on every inbound path (the API, NATS,
// Alertmanager, a reply by SMS and by mail), a post naming 1,001 targets,
// wrong tokens and a flood of requests from one address.
func TestServeRefusesHostileInput(t *testing.T) {
	testkit.NoLeaks(t)
	cl := startCluster(t, clusterSpec{nodes: 1, people: 3, replies: true, nats: true, natsIngest: true, alertmanager: true, shippedLimits: true})
	n := cl.nodes[0]
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	hc := fromAddr(t, "127.0.0.1")
	post := func(body string) (int, problem.Problem) {
		status, _, p := call(t, hc, http.MethodPost, n.api+"/v1/messages", testToken, "application/json", []byte(body))
		return status, p
	}

	// The API: text is kept byte for byte, a repeated target once; hostile
	// text and invalid UTF-8 are refused naming the field, and so is a
	// post over the default cap of 1,000 targets.
	const incident = "idc-fire"
	const alert = "판교 IDC 화재 🔥 👨‍👩‍👧 사내 메신저 중단"
	acc, err := n.c.Post(ctx, &relay.Post{Incident: incident, Text: alert, To: []string{"group:all", "person:p00000", "group:all"},
		Severity: relay.SeverityCritical}, "")
	if err != nil {
		t.Fatal(err)
	}
	m, err := n.c.Message(ctx, acc.ID)
	if err != nil || m.Text != alert || strings.Join(m.To, ",") != "group:all,person:p00000" {
		t.Fatalf("message %+v (%v): want the text byte for byte and each target once", m, err)
	}
	targets := make([]string, 1001)
	for i := range targets {
		targets[i] = fmt.Sprintf(`"person:p%05d"`, i)
	}
	for _, c := range []struct{ body, field, says string }{
		{`{"incident":"idc-fire","text":"ok\u001b[2J\u001b[H","to":["everyone"]}`, "text", "contains U+001B (a control character)"},
		{`{"incident":"idc-fire","text":"결제 \u202egnp.exe","to":["everyone"]}`, "text", "contains U+202E (a bidirectional formatting character)"},
		{"{\"incident\":\"idc-fire\",\"text\":\"\xb1\xe8\",\"to\":[\"everyone\"]}", "text", "is not valid UTF-8"},
		{`{"incident":"idc-fire","text":"x","to":[` + strings.Join(targets, ",") + `]}`, "to", "names 1001 audience targets; the limit is 1000"},
	} {
		status, p := post(c.body)
		if status != http.StatusUnprocessableEntity || p.Code != problem.CodeInvalidField || p.Field != c.field || !strings.Contains(p.Message, c.says) {
			t.Errorf("post %.60q: %d %+v, want 422 on %s saying %q", c.body, status, p, c.field, c.says)
		}
	}

	// NATS: the same refusals, in NATS ingest's own error shape.
	nc, err := natsgo.Connect(cl.s.nats.ClientURL())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	for _, c := range []struct{ body, code, field string }{
		{`{"incident":"idc-fire","text":"ok\u001b[2J","to":["everyone"]}`, problem.CodeInvalidField, "text"},
		{"{\"incident\":\"idc-fire\",\"text\":\"ok\",\"to\":[\"everyone\",\"person:\xff\"]}", problem.CodeInvalidJSON, "to[1]"},
	} {
		msg, err := nc.RequestWithContext(ctx, "relay.post.ops-bot", []byte(c.body))
		if err != nil {
			t.Fatal(err)
		}
		var reply struct {
			Error *struct {
				Code   string
				Fields []struct{ Field string }
			}
		}
		if err := json.Unmarshal(msg.Data, &reply); err != nil || reply.Error == nil || reply.Error.Code != c.code ||
			len(reply.Error.Fields) != 1 || reply.Error.Fields[0].Field != c.field {
			t.Errorf("NATS post %.50q: %s, want %s on %s", c.body, msg.Data, c.code, c.field)
		}
	}

	// Replies by SMS and by mail keep the person's words and lose what a
	// terminal would obey.
	testkit.Eventually(t, 30*time.Second, "the alert's SMS and mail", func() bool {
		return len(perRecipient(cl.s.smsArrivals(alert))) == 3 && len(perRecipient(cl.s.mailArrivals(alert))) == 3
	})
	sms := incomingSMS(t, n, phone(0), smsTo(cl, alert)[phone(0)].From, "판교 도착\x1b[2J 👍🏽\u202e 정전\r\n확인중")
	if status, _ := cl.deliver(t, ctx, n, sms); status != http.StatusOK {
		t.Fatalf("SMS reply: HTTP %d", status)
	}
	if e := timelineEntry(t, ctx, n, incident, personID(0)); e.Text != "직원 0: 판교 도착[2J 👍🏽 정전\n확인중" {
		t.Errorf("SMS reply stored as %q", e.Text)
	}
	orig := mailTo(t, cl, alert, email(1))
	if err := sendMail(n.smtpIn, email(1), orig.ReplyTo[0].Address, replyMail(t, "직원 1", email(1), orig, "메일 답장\x1b]0;owned\x07 \u2066끝")); err != nil {
		t.Fatal(err)
	}
	if e := timelineEntry(t, ctx, n, incident, personID(1)); relay.CheckText("text", e.Text) != nil || !strings.HasPrefix(e.Text, "직원 1: 메일 답장") || !strings.Contains(e.Text, "끝") {
		t.Errorf("mail reply stored as %q", e.Text)
	}

	// Alertmanager: hostile annotations are removed, not refused, so the
	// alert goes out; a label that is not UTF-8 is refused, named.
	am := func(body string) (int, problem.Problem) {
		status, _, p := call(t, hc, http.MethodPost, n.api+launch.AlertmanagerPath, alertmanagerToken, "application/json", []byte(body))
		return status, p
	}
	const amAlert = `{"version":"4","groupKey":"{}:{alertname=\"DiskFull\"}","status":"firing","receiver":"relay","alerts":[` +
		`{"status":"firing","startsAt":"2026-11-24T05:00:00Z","labels":{"alertname":"DiskFull","team":"%s"},` +
		`"annotations":{"summary":"디스크 부족 \u001b[2J\u202e확인 필요 🔥"}}]}`
	if status, p := am(fmt.Sprintf(amAlert, "db")); status != http.StatusOK {
		t.Fatalf("Alertmanager notification: %d %+v", status, p)
	}
	if status, p := am(fmt.Sprintf(amAlert, "\xb5\xf0")); status != http.StatusBadRequest || p.Field != "alerts[0].labels.team" {
		t.Errorf("Alertmanager label not UTF-8: %d %+v, want 400 naming alerts[0].labels.team", status, p)
	}
	incs, err := n.c.Incidents(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, inc := range incs {
		if !strings.HasPrefix(inc.ID, "am-") {
			continue
		}
		e := timelineEntry(t, ctx, n, inc.ID, "alertmanager")
		if relay.CheckText("text", e.Text) != nil || !strings.Contains(e.Text, "디스크 부족 [2J확인 필요 🔥") {
			t.Errorf("Alertmanager message text %q", e.Text)
		}
	}

	// Wrong tokens from one address: three plain 401s, a fourth that
	// starts a wait, then 429 with Retry-After within the growing wait.
	// Wrong credentials on the Alertmanager webhook count the same way,
	// and its guesser then waits on the API too: one wait per address.
	for _, c := range []struct{ addr, method, path, body string }{
		{"127.0.0.3", http.MethodGet, "/v1/incidents", ""},
		{"127.0.0.4", http.MethodPost, launch.AlertmanagerPath, `{"version":"4"}`},
	} {
		guesser := fromAddr(t, c.addr)
		guess := func(i int) (int, http.Header, problem.Problem) {
			var body []byte
			if c.body != "" {
				body = []byte(c.body)
			}
			return call(t, guesser, c.method, n.api+c.path, fmt.Sprintf("guess-%d-0123456789", i), "application/json", body)
		}
		for i := range 4 {
			if status, _, p := guess(i); status != http.StatusUnauthorized {
				t.Fatalf("%s: wrong token %d: %d %+v, want 401", c.path, i+1, status, p)
			}
		}
		throttled := false
		for i := 4; i < 14 && !throttled; i++ {
			status, h, p := guess(i)
			switch status {
			case http.StatusUnauthorized:
			case http.StatusTooManyRequests:
				throttled = true
				if s, err := strconv.Atoi(h.Get("Retry-After")); err != nil || s < 1 || p.Code != problem.CodeRateLimited || !strings.Contains(p.Message, "too many wrong tokens from "+c.addr) {
					t.Errorf("%s: 429 with Retry-After %q and %+v", c.path, h.Get("Retry-After"), p)
				}
			default:
				t.Fatalf("%s: wrong token %d: %d %+v", c.path, i+1, status, p)
			}
		}
		if !throttled {
			t.Fatalf("%s: ten more wrong tokens were never slowed", c.path)
		}
	}
	if status, _, p := call(t, fromAddr(t, "127.0.0.4"), http.MethodGet, n.api+"/v1/incidents", testToken, "", nil); status != http.StatusTooManyRequests {
		t.Errorf("the API for the address that guessed the webhook's token: %d %+v, want 429 until its wait ends", status, p)
	}

	// A flood from one address meets the default limit of that address,
	// on the API as on the Alertmanager webhook, while health, readiness
	// and other addresses go on.
	flooder := fromAddr(t, "127.0.0.2")
	flood(ctx, t, flooder, http.MethodGet, n.api+"/v1/incidents", testToken)
	flood(ctx, t, fromAddr(t, "127.0.0.5"), http.MethodGet, n.api+launch.AlertmanagerPath, alertmanagerToken)
	for _, path := range []string{"/healthz", "/readyz"} {
		if status, _, _ := call(t, flooder, http.MethodGet, n.api+path, "", "", nil); status != http.StatusOK {
			t.Errorf("GET %s from the limited address: %d", path, status)
		}
	}
	if _, err := n.c.Incidents(ctx); err != nil {
		t.Errorf("another address while one is limited: %v", err)
	}

	metrics := cl.metrics(0)
	for series, least := range map[string]float64{
		`relay_http_throttled_total{limit="address"}`:      1,
		`relay_http_throttled_total{limit="auth"}`:         1,
		`relay_http_auth_failures_total{reason="invalid"}`: 4,
	} {
		if metrics[series] < least {
			t.Errorf("%s = %v, want at least %v", series, metrics[series], least)
		}
	}
	log := n.p.log()
	if !strings.Contains(log, `msg="authentication failed" node=node-a client=127.0.0.3 reason=invalid`) {
		t.Errorf("no log line names the guessing address:\n%s", log)
	}
	if strings.Contains(log, "guess-") {
		t.Error("a wrong token reached the log")
	}
}
