package alertmanager_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/oob-relay/relay/internal/testkit"
	"github.com/oob-relay/relay/relay"
	"github.com/oob-relay/relay/relay/alertmanager"
	"github.com/oob-relay/relay/relay/problem"
	"github.com/oob-relay/relay/relay/secret"
)

// Every documented shape of notification is stored as the message Posts
// renders, under the group's incident, and reaches people.
func TestFixturesPosted(t *testing.T) {
	h := newHarness(t, baseConfig())
	cfg := baseConfig()
	for _, name := range fixtures {
		t.Run(name, func(t *testing.T) {
			body := fixture(t, name)
			n := decode(t, body)
			want, err := alertmanager.Posts(n, cfg)
			if err != nil {
				t.Fatal(err)
			}
			r := h.send(t, body, bearer(testToken)).response(t)
			if r.Incident != alertmanager.IncidentID(n) {
				t.Errorf("incident %q, want %q", r.Incident, alertmanager.IncidentID(n))
			}
			if len(r.Messages) != len(want) {
				t.Fatalf("%d messages, want %d: %+v", len(r.Messages), len(want), r.Messages)
			}
			for i, pm := range r.Messages {
				m, err := h.node.Store().Message(pm.ID)
				if err != nil {
					t.Fatalf("message %s: %v", pm.ID, err)
				}
				w := want[i]
				if pm.Route != w.Route || m.Incident != r.Incident || m.Text != w.Post.Text || m.Severity != w.Post.Severity ||
					!slices.Equal(m.To, w.Post.To) || !slices.Equal(m.Channels, w.Post.Channels) ||
					m.Author != author || m.IdempotencyKey != w.Key || pm.Replayed {
					t.Errorf("message %d: %+v\nwant the post %+v (key %s, route %s)", i, m, w.Post, w.Key, w.Route)
				}
			}
		})
	}
}

// The message goes out as email with its Korean intact.
func TestDelivered(t *testing.T) {
	h := newHarness(t, baseConfig())
	r := h.send(t, fixture(t, "firing"), bearer(testToken)).response(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	mails, err := h.sink.WaitMails(ctx, 2)
	if err != nil {
		t.Fatalf("mails: %v (got %d)", err, len(h.sink.Mails()))
	}
	var kim string
	for _, m := range mails {
		if slices.Contains(m.Envelope.To, "kim@example.com") {
			kim = m.Text
		}
	}
	for _, s := range []string{"[발생] ProbeFailure", "요약: 블랙박스 점검 실패: https://status.example.co.kr", r.Incident} {
		if !strings.Contains(kim, s) {
			t.Errorf("kim's mail lacks %q:\n%s", s, kim)
		}
	}
}

// A notification Alertmanager sends again, one after another or at once,
// is one message; its resolution is a second one in the same incident.
func TestRetryPostsOnce(t *testing.T) {
	h := newHarness(t, baseConfig())
	body := fixture(t, "firing")
	first := h.send(t, body, bearer(testToken)).response(t)
	if len(first.Messages) != 1 || first.Messages[0].Replayed {
		t.Fatalf("first: %+v", first)
	}
	var wg sync.WaitGroup
	answers := make([]answer, 4)
	for i := range answers {
		wg.Go(func() { answers[i] = h.send(t, body, bearer(testToken)) })
	}
	wg.Wait()
	for i, a := range answers {
		r := a.response(t)
		if len(r.Messages) != 1 || r.Messages[0].ID != first.Messages[0].ID || !r.Messages[0].Replayed || r.Incident != first.Incident {
			t.Errorf("retry %d: %+v, want a replay of %+v", i, r, first)
		}
	}
	if ms := h.messages(t, first.Incident); len(ms) != 1 {
		t.Fatalf("%d messages after retries, want 1", len(ms))
	}

	resolved := h.send(t, fixture(t, "resolved"), bearer(testToken)).response(t)
	again := h.send(t, fixture(t, "resolved"), bearer(testToken)).response(t)
	if resolved.Incident != first.Incident || resolved.Messages[0].ID == first.Messages[0].ID || resolved.Messages[0].Replayed ||
		again.Messages[0].ID != resolved.Messages[0].ID || !again.Messages[0].Replayed {
		t.Errorf("resolution %+v, its retry %+v", resolved, again)
	}
	ms := h.messages(t, first.Incident)
	if len(ms) != 2 || !strings.HasPrefix(ms[1].Text, "[해결됨] ProbeFailure\n") {
		t.Fatalf("incident has %d messages, want the alert and its resolution: %+v", len(ms), ms)
	}
	if got := testkit.Metric(t, h.reg, "relay_alertmanager_notifications_total", "outcome", "replayed"); got != 5 {
		t.Errorf("replayed notifications %v, want 5", got)
	}
	if got := testkit.Metric(t, h.reg, "relay_alertmanager_notifications_total", "outcome", "posted"); got != 2 {
		t.Errorf("posted notifications %v, want 2", got)
	}
}

// A notification handled under a changed config (a new audience) after
// it was first posted is a new message rather than a refusal that
// Alertmanager would retry in vain.
func TestConfigChangedBetweenRetries(t *testing.T) {
	h := newHarness(t, baseConfig())
	body := fixture(t, "firing")
	first := h.send(t, body, bearer(testToken)).response(t)
	cfg := baseConfig()
	cfg.Default.To = []string{"group:db-oncall"}
	h.serve(t, cfg, nil)
	second := h.send(t, body, bearer(testToken)).response(t)
	if second.Messages[0].ID == first.Messages[0].ID || second.Messages[0].Replayed || second.Incident != first.Incident {
		t.Errorf("after the change %+v, before %+v", second, first)
	}
}

func TestAuth(t *testing.T) {
	configs := map[string]func(*alertmanager.Config){
		"bearer": func(*alertmanager.Config) {},
		"basic": func(c *alertmanager.Config) {
			c.Token, c.Username, c.Password = secret.String{}, testUser, secret.New(testPassword)
		},
		"both": func(c *alertmanager.Config) { c.Username, c.Password = testUser, secret.New(testPassword) },
	}
	challenges := map[string][]string{
		"bearer": {`Bearer realm="relay"`},
		"basic":  {`Basic realm="relay", charset="UTF-8"`},
		"both":   {`Bearer realm="relay"`, `Basic realm="relay", charset="UTF-8"`},
	}
	header := func(v string) func(*http.Request) { return func(r *http.Request) { r.Header.Set("Authorization", v) } }
	cases := []struct {
		name string
		auth func(*http.Request)
		ok   map[string]bool // config → accepted
		msg  string          // the 401 message
	}{
		{"none", nil, nil, "missing credentials: configure Alertmanager's http_config with this receiver's bearer token or basic auth"},
		{"bearer", bearer(testToken), map[string]bool{"bearer": true, "both": true}, "credentials are not valid for this receiver"},
		{"bearer lower case", header("bearer " + testToken), map[string]bool{"bearer": true, "both": true}, "credentials are not valid for this receiver"},
		{"bearer wrong", bearer(wrongToken), nil, "credentials are not valid for this receiver"},
		{"bearer prefix", bearer(testToken[:len(testToken)-1]), nil, "credentials are not valid for this receiver"},
		{"bearer empty", header("Bearer "), nil, "credentials are not valid for this receiver"},
		{"token without scheme", header(testToken), nil, "credentials are not valid for this receiver"},
		{"basic", basic(testUser, testPassword), map[string]bool{"basic": true, "both": true}, "credentials are not valid for this receiver"},
		{"basic wrong password", basic(testUser, wrongToken), nil, "credentials are not valid for this receiver"},
		{"basic wrong user", basic("prometheus", testPassword), nil, "credentials are not valid for this receiver"},
		{"token as basic password", basic(testUser, testToken), nil, "credentials are not valid for this receiver"},
		{"password as bearer", bearer(testPassword), nil, "credentials are not valid for this receiver"},
	}
	for cname, mutate := range configs {
		cfg := baseConfig()
		mutate(cfg)
		if err := cfg.Validate(); err != nil {
			t.Fatal(err)
		}
		h := newHarness(t, cfg)
		for _, c := range cases {
			t.Run(cname+"/"+c.name, func(t *testing.T) {
				before := h.calls.Load()
				var auth []func(*http.Request)
				if c.auth != nil {
					auth = append(auth, c.auth)
				}
				a := h.send(t, fixture(t, "firing"), auth...)
				if c.ok[cname] {
					a.response(t)
					return
				}
				p := a.problem(t, http.StatusUnauthorized, problem.CodeUnauthorized)
				if p.Message != c.msg {
					t.Errorf("message %q, want %q", p.Message, c.msg)
				}
				if got := a.header.Values("WWW-Authenticate"); !slices.Equal(got, challenges[cname]) {
					t.Errorf("WWW-Authenticate %q, want %q", got, challenges[cname])
				}
				if h.calls.Load() != before {
					t.Error("an unauthenticated notification was posted")
				}
			})
		}
	}
}

func TestMethod(t *testing.T) {
	h := newHarness(t, baseConfig())
	for _, m := range []string{http.MethodGet, http.MethodPut, http.MethodDelete} {
		req, _ := http.NewRequest(m, h.url, bytes.NewReader(fixture(t, "firing")))
		bearer(testToken)(req)
		a := h.do(t, req)
		a.problem(t, http.StatusMethodNotAllowed, problem.CodeMethod)
		if got := a.header.Get("Allow"); got != "POST" {
			t.Errorf("%s: Allow %q", m, got)
		}
	}
	if h.calls.Load() != 0 {
		t.Error("a notification was posted")
	}
}

func TestBadInput(t *testing.T) {
	cfg := baseConfig()
	cfg.MaxBodyBytes = 8 << 10
	h := newHarness(t, cfg)
	big := `{"receiver":"` + strings.Repeat("x", 8<<10) + `"}`
	cases := []struct {
		name, body, contentType string
		chunked                 bool
		status                  int
		code, field, msg        string
	}{
		{name: "not JSON", body: "firing", status: 400, code: "invalid_json",
			msg: "malformed JSON at byte 2: invalid character 'i' in literal false (expecting 'a')"},
		{name: "empty", body: "", status: 400, code: "invalid_json", msg: "payload is empty; send a JSON object"},
		{name: "version", body: strings.Replace(valid, `"version":"4"`, `"version":"2"`, 1), status: 400, code: "invalid_field",
			field: "version", msg: `version: is "2"; only payload version "4" is understood`},
		{name: "startsAt", body: strings.Replace(valid, `"startsAt":"2026-11-03T05:00:00Z"`, `"startsAt":"now"`, 1), status: 400,
			code: "invalid_field", field: "alerts[0].startsAt", msg: `alerts[0].startsAt: "now" is not an RFC 3339 time such as 2026-11-03T14:02:00Z`},
		{name: "form", body: "a=b", contentType: "application/x-www-form-urlencoded", status: 415, code: "unsupported_media_type",
			msg: `Content-Type "application/x-www-form-urlencoded" is not supported; send application/json`},
		{name: "too large", body: big, status: 413, code: "body_too_large",
			msg: "notification is larger than 8192 bytes; lower max_alerts in Alertmanager's webhook_config or raise max_body_bytes"},
		{name: "too large chunked", body: big, chunked: true, status: 413, code: "body_too_large",
			msg: "notification is larger than 8192 bytes; lower max_alerts in Alertmanager's webhook_config or raise max_body_bytes"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var body io.Reader = strings.NewReader(c.body)
			if c.chunked {
				body = io.MultiReader(body) // no length known: sent chunked
			}
			req, _ := http.NewRequest(http.MethodPost, h.url, body)
			req.Header.Set("Content-Type", "application/json; charset=utf-8")
			if c.contentType != "" {
				req.Header.Set("Content-Type", c.contentType)
			}
			bearer(testToken)(req)
			if c.chunked && req.ContentLength != 0 {
				t.Fatal("the request has a length")
			}
			p := h.do(t, req).problem(t, c.status, c.code)
			if p.Field != c.field || p.Message != c.msg {
				t.Errorf("field %q message %q\nwant field %q message %q", p.Field, p.Message, c.field, c.msg)
			}
		})
	}
	if h.calls.Load() != 0 {
		t.Error("a bad notification was posted")
	}
	if got := testkit.Metric(t, h.reg, "relay_alertmanager_notifications_total", "outcome", "bad_request"); got != 4 {
		t.Errorf("bad_request %v, want 4", got)
	}
	if got := testkit.Metric(t, h.reg, "relay_alertmanager_notifications_total", "outcome", "too_large"); got != 2 {
		t.Errorf("too_large %v, want 2", got)
	}
}

// Posts the node refuses (an audience the roster lacks, a channel the
// node has no provider for) are 422s naming the route's key, which
// Alertmanager does not retry; the others are still posted.
func TestRefusedPosts(t *testing.T) {
	cfg := baseConfig()
	cfg.Routes[0].To = []string{"group:dba"}
	cfg.Routes[1].Channels = []string{"voice"}
	h := newHarness(t, cfg)
	body := fixture(t, "multiple")
	p := h.send(t, body, bearer(testToken)).problem(t, http.StatusUnprocessableEntity, problem.CodeInvalidField)
	want := []problem.Detail{
		{Field: "routes[0].to[0]", Message: `"group:dba" is not a group in the roster`},
		{Field: "routes[1].channels[0]", Message: `"voice" has no provider configured on this node`},
	}
	if p.Field != want[0].Field || !slices.Equal(p.Details, want) ||
		p.Message != `routes[0].to[0]: "group:dba" is not a group in the roster; routes[1].channels[0]: "voice" has no provider configured on this node` {
		t.Errorf("problem %+v", p)
	}
	if ms := h.messages(t, alertmanager.IncidentID(decode(t, body))); len(ms) != 0 {
		t.Errorf("%d messages stored", len(ms))
	}

	cfg.Routes[1].Channels = nil
	h.serve(t, cfg, nil)
	h.send(t, body, bearer(testToken)).problem(t, http.StatusUnprocessableEntity, problem.CodeInvalidField)
	if ms := h.messages(t, alertmanager.IncidentID(decode(t, body))); len(ms) != 1 || !slices.Equal(ms[0].To, []string{"person:lee"}) {
		t.Errorf("the acceptable post was not stored: %+v", ms)
	}
}

// Alerts no route takes are a 422; the others are posted.
func TestNoRouteAnswer(t *testing.T) {
	cfg := baseConfig()
	cfg.Default = nil
	cfg.Routes = cfg.Routes[:1]
	h := newHarness(t, cfg)
	body := fixture(t, "multiple")
	p := h.send(t, body, bearer(testToken)).problem(t, http.StatusUnprocessableEntity, problem.CodeNoRoute)
	if want := "alerts[1] (InstanceDown), alerts[2] (InstanceDown) matched no route and there is no default route (1 messages posted for the other alerts)"; p.Message != want {
		t.Errorf("message %q, want %q", p.Message, want)
	}
	ms := h.messages(t, alertmanager.IncidentID(decode(t, body)))
	if len(ms) != 1 || !strings.Contains(ms[0].Text, "db-1:9100") || strings.Contains(ms[0].Text, "web-1") {
		t.Errorf("messages %+v, want the team=db alert's", ms)
	}
}

// A post the node cannot store now is a 503, which Alertmanager retries;
// the retry posts what is missing, and what was stored once.
func TestUnavailableThenRetried(t *testing.T) {
	h := newHarness(t, baseConfig())
	body := fixture(t, "multiple")
	h.faults.Store(1)
	p := h.send(t, body, bearer(testToken)).problem(t, http.StatusServiceUnavailable, problem.CodeUnavailable)
	if want := "1 of 2 messages could not be stored; the node's log has the cause, and a retry posts the rest once"; p.Message != want {
		t.Errorf("message %q, want %q", p.Message, want)
	}
	if !strings.Contains(h.logs.String(), "no space left on device") {
		t.Error("the cause is not in the log")
	}
	if strings.Contains(p.Message, "no space") {
		t.Error("the cause reached Alertmanager")
	}
	r := h.send(t, body, bearer(testToken)).response(t)
	if len(r.Messages) != 2 || r.Messages[0].Replayed || !r.Messages[1].Replayed {
		t.Errorf("retry: %+v, want the first post made now and the second replayed", r.Messages)
	}
	if ms := h.messages(t, r.Incident); len(ms) != 2 {
		t.Errorf("%d messages, want 2", len(ms))
	}
	if got := testkit.Metric(t, h.reg, "relay_alertmanager_notifications_total", "outcome", "unavailable"); got != 1 {
		t.Errorf("unavailable %v, want 1", got)
	}
}

func TestMetricsExistAtZero(t *testing.T) {
	h := newHarness(t, baseConfig())
	if n := testutil.CollectAndCount(h.reg, "relay_alertmanager_notifications_total"); n != 11 {
		t.Errorf("%d series, want one per outcome", n)
	}
	// A handler made again on the same registry counts on.
	h.serve(t, baseConfig(), nil)
	h.send(t, fixture(t, "firing"), bearer(testToken)).response(t)
	if got := testkit.Metric(t, h.reg, "relay_alertmanager_notifications_total", "outcome", "posted"); got != 1 {
		t.Errorf("posted %v", got)
	}
}

func TestHandlerPanicsOnMisuse(t *testing.T) {
	post := func(context.Context, *relay.Post, string) (string, bool, error) { return "", false, nil }
	unresolved := baseConfig()
	unresolved.Token, unresolved.TokenFile = secret.String{}, "token"
	invalid := baseConfig()
	invalid.Routes[0].MatchRE = map[string]string{"x": "("}
	cases := map[string]alertmanager.Options{
		"no config":          {Post: post},
		"no post":            {Config: baseConfig()},
		"unresolved secrets": {Config: unresolved, Post: post},
		"invalid config":     {Config: invalid, Post: post},
	}
	for name, opts := range cases {
		t.Run(name, func(t *testing.T) {
			defer func() {
				r := recover()
				if r == nil {
					t.Fatal("no panic")
				}
				if msg := fmt.Sprint(r); !strings.HasPrefix(msg, "alertmanager: ") || strings.Contains(msg, testToken) {
					t.Errorf("panic %q", msg)
				}
			}()
			alertmanager.Handler(opts)
		})
	}
}

// TestRefusalsDoNotFloodTheLog: whoever sends the webhook wrong
// credentials decides how often it is refused, so a thousand refusals
// log a few lines while the metric counts every one.
func TestRefusalsDoNotFloodTheLog(t *testing.T) {
	h := newHarness(t, baseConfig())
	const flood = 1000
	for range flood {
		req, _ := http.NewRequest(http.MethodPost, h.url, bytes.NewReader(fixture(t, "firing")))
		bearer(wrongToken)(req)
		h.do(t, req).problem(t, http.StatusUnauthorized, problem.CodeUnauthorized)
	}
	lines := strings.Count(h.logs.String(), "alertmanager notification refused")
	if lines == 0 || lines > 20 {
		t.Fatalf("%d refused notifications logged %d lines, want a few (1 to 20)", flood, lines)
	}
	if got := testkit.Metric(t, h.reg, "relay_alertmanager_notifications_total", "outcome", "unauthorized"); got != flood {
		t.Fatalf("relay_alertmanager_notifications_total{outcome=unauthorized} = %v, want %d", got, flood)
	}
	if h.calls.Load() != 0 {
		t.Error("a notification was posted")
	}
}
