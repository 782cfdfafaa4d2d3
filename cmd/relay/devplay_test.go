package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
	natsgo "github.com/nats-io/nats.go"

	"github.com/oob-relay/relay/channels/twilio/emulator/emulatortest"
	"github.com/oob-relay/relay/cmd/relay/internal/devstack"
	"github.com/oob-relay/relay/cmd/relay/internal/launch"
	"github.com/oob-relay/relay/internal/testkit"
	"github.com/oob-relay/relay/relay"
	"github.com/oob-relay/relay/relay/api"
	"github.com/oob-relay/relay/relay/client"
)

// startDev starts a dev stack whose emulator checks Twilio's contract.
func startDev(t *testing.T, ctx context.Context) (*devstack.Stack, *client.Client) {
	t.Helper()
	st, err := devstack.Start(ctx, devstack.Options{DataDir: filepath.Join(t.TempDir(), "dev"), HTTPAddr: "127.0.0.1:0",
		TwilioSpec: emulatortest.Spec(t)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		st.Close(context.Background())
		if v := st.TwilioViolations(); len(v) > 0 {
			t.Errorf("requests outside Twilio's API description: %v", v)
		}
	})
	var urls []*url.URL
	for _, s := range st.URLs {
		u, _ := url.Parse(s)
		urls = append(urls, u)
	}
	return st, client.New(urls, st.Token, nil)
}

// waitTimeline waits until incident's timeline on the node c talks to
// has an entry by author whose text contains text.
func waitTimeline(t *testing.T, ctx context.Context, c *client.Client, incident, author, text string) {
	t.Helper()
	testkit.WaitFor(t, ctx, fmt.Sprintf("%s's %q in %s", author, text, incident), func() bool {
		v, err := c.Incident(ctx, incident)
		if err != nil {
			return false
		}
		return slices.ContainsFunc(v.Timeline, func(e api.TimelineEntry) bool {
			return e.Author == author && strings.Contains(e.Text, text)
		})
	})
}

// TestDevInboundPaths: relay dev takes Alertmanager's webhook, a bot's
// post over NATS and a bot's mail to an incident address, as relay serve
// does with the same sections configured.
func TestDevInboundPaths(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	st, c := startDev(t, ctx)
	in := st.Inbound()

	// Alertmanager's webhook, with the token relay dev prints.
	body := `{"version":"4","groupKey":"{}:{alertname=\"DiskFull\"}","status":"firing","receiver":"relay","groupLabels":{},` +
		`"commonLabels":{},"commonAnnotations":{},"externalURL":"http://alertmanager.localhost","alerts":[{"status":"firing",` +
		`"labels":{"alertname":"DiskFull","severity":"warning"},"annotations":{"summary":"디스크 가득 참"},` +
		`"startsAt":"2026-01-01T00:00:00Z","endsAt":"0001-01-01T00:00:00Z","generatorURL":"","fingerprint":"1"}]}`
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, st.URLs[1]+launch.AlertmanagerPath, strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+in.AlertmanagerToken)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("Alertmanager webhook answered %s: %s", resp.Status, b)
	}
	// The webhook's node answered once one peer held the incident; the
	// node c talks to may be the other.
	var incs []relay.Incident
	testkit.WaitFor(t, ctx, "the alert's incident on the node the client reads", func() bool {
		incs, err = c.Incidents(ctx)
		return err == nil && len(incs) > 0
	})
	if len(incs) != 1 {
		t.Fatalf("incidents after the alert: %v", incs)
	}
	waitTimeline(t, ctx, c, incs[0].ID, "alertmanager", "DiskFull")

	// A bot's post over NATS.
	nc, err := natsgo.Connect(in.NATS)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	msg, err := nc.RequestWithContext(ctx, devstack.NATSPostSubject,
		[]byte(`{"incident":"db-outage","text":"DB 장애: 결제 지연","to":["group:oncall"]}`))
	if err != nil {
		t.Fatal(err)
	}
	var reply struct {
		ID    string `json:"id"`
		Error any    `json:"error"`
	}
	if err := json.Unmarshal(msg.Data, &reply); err != nil || reply.ID == "" || reply.Error != nil {
		t.Fatalf("NATS post answered %s", msg.Data)
	}
	waitTimeline(t, ctx, c, "db-outage", devstack.Bot, "결제 지연")

	// A bot's mail to the incident's address, on another node's SMTP.
	sc, err := smtp.Dial(in.SMTP[2])
	if err != nil {
		t.Fatal(err)
	}
	defer sc.Close()
	if err := sc.Auth(sasl.NewPlainClient("", devstack.Bot, in.BotPassword)); err != nil {
		t.Fatal(err)
	}
	mail := "From: bot@relay.localhost\r\nTo: db-outage@" + devstack.MailDomain + "\r\nSubject: update\r\n" +
		"Message-ID: <bot-1@relay.localhost>\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n복구 작업 시작\r\n"
	if err := sc.SendMail("bot@relay.localhost", []string{"db-outage@" + devstack.MailDomain}, strings.NewReader(mail)); err != nil {
		t.Fatal(err)
	}
	waitTimeline(t, ctx, c, "db-outage", devstack.Bot, "복구 작업 시작")
}

// TestDevConsolePeople: the dev console's reply, ack and answer play a
// demo person through the real paths: an SMS by the signed Twilio
// webhook for people who take SMS, a mail reply through a node's SMTP
// server for people who take only mail.
func TestDevConsolePeople(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	st, c := startDev(t, ctx)

	if _, err := c.Post(ctx, &relay.Post{Incident: "fire", Text: "3층 화재, 대피하세요", To: []string{"group:infra"},
		Severity: relay.SeverityWarning, Channels: []string{"sms", "email"}}, ""); err != nil {
		t.Fatal(err)
	}
	// park takes only mail: wait for it, then answer by mail.
	testkit.WaitFor(t, ctx, "park's mail", func() bool {
		_, err := devCommand(ctx, st, "reply park 메일로 답합니다: 대피 완료")
		return err == nil
	})
	waitTimeline(t, ctx, c, "fire", "park", "메일로 답합니다")

	out, err := devCommand(ctx, st, "reply lee 2층 계단으로 대피 중")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out, "lee replied") {
		t.Errorf("reply said %q", out)
	}
	waitTimeline(t, ctx, c, "fire", "lee", "2층 계단으로 대피 중")

	if _, err := devCommand(ctx, st, "ack kim"); err != nil {
		t.Fatal(err)
	}
	testkit.WaitFor(t, ctx, "kim's acknowledgement", func() bool {
		v, err := c.Incident(ctx, "fire")
		return err == nil && slices.ContainsFunc(v.Acknowledged, func(a api.IncidentAck) bool { return a.Person == "kim" })
	})

	rc, err := c.StartRollCall(ctx, &relay.RollCallStart{Incident: "fire", Question: "안전한가요?",
		Options: []relay.RollCallOption{{Digit: 1, Label: "안전"}, {Digit: 2, Label: "도움 필요"}}, To: []string{"group:oncall"}}, "")
	if err != nil {
		t.Fatal(err)
	}
	testkit.WaitFor(t, ctx, "lee's answer", func() bool {
		if _, err := devCommand(ctx, st, "answer lee 2"); err != nil {
			t.Fatal(err)
		}
		tally, err := c.RollCall(ctx, rc.RollCall.ID)
		return err == nil && slices.ContainsFunc(tally.People, func(p relay.RollCallPerson) bool {
			return p.Person == "lee" && p.Digit == 2 && p.Channel == relay.ChannelSMS
		})
	})

	for line, want := range map[string]string{
		"reply nobody hi":  `no person "nobody"`,
		"reply lee":        "usage: reply PERSON TEXT",
		"answer lee x":     "usage: answer PERSON N",
		"answer lee 0":     "options are 1 to 9",
		"ack":              "usage: ack PERSON",
		"dance kim":        `unknown command "dance"`,
		"reply park again": "",
	} {
		_, err := devCommand(ctx, st, line)
		switch {
		case want == "" && err != nil:
			t.Errorf("%q: %v", line, err)
		case want != "" && (err == nil || !strings.Contains(err.Error(), want)):
			t.Errorf("%q: error %v, want one saying %q", line, err, want)
		}
	}
}

// TestDevPlayground: every dev node serves the playground with a strict
// CSP; its phone posts an SMS through the signed webhook, its call takes
// a key press through the Gather webhook, and its dev login sets the
// console's session cookie from a token any node accepts.
func TestDevPlayground(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	st, c := startDev(t, ctx)
	noRedirect := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}

	acc, err := c.Post(ctx, &relay.Post{Incident: "fire", Text: "3층 화재, 대피하세요", To: []string{"person:kim"},
		Severity: relay.SeverityCritical, Channels: []string{"sms", "voice"}}, "")
	if err != nil {
		t.Fatal(err)
	}
	calls, err := st.Emulator().WaitCalls(ctx, 1)
	if err != nil {
		t.Fatal(err)
	}
	testkit.WaitFor(t, ctx, "the call answered", func() bool {
		for _, cl := range st.Emulator().Calls() {
			if cl.SID == calls[0].SID && (cl.Status == "in-progress" || cl.Status == "completed") {
				return true
			}
		}
		return false
	})

	get := func(node int, path string) (*http.Response, string) {
		t.Helper()
		resp, err := noRedirect.Get(st.URLs[node] + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp, string(b)
	}
	for i := range st.URLs {
		resp, body := get(i, devstack.PlaygroundPath)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("node %d playground: %s", i, resp.Status)
		}
		if csp := resp.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "script-src 'self'") || !strings.Contains(csp, "frame-ancestors 'none'") {
			t.Errorf("playground CSP = %q", csp)
		}
		for _, want := range []string{"김민지", "이서준", "박지훈", "3층 화재, 대피하세요", calls[0].SID, `id="node-banner"`, fmt.Sprintf("dev-%d", i+1)} {
			if !strings.Contains(body, want) {
				t.Errorf("node %d playground lacks %q:\n%s", i, want, body)
			}
		}
		if strings.Contains(body, "<style") || strings.Contains(body, "style=") || strings.Contains(body, "<script>") {
			t.Errorf("node %d playground has inline style or script", i)
		}
	}

	post := func(node int, path string, form url.Values, origin string) *http.Response {
		t.Helper()
		req, _ := http.NewRequestWithContext(ctx, http.MethodPost, st.URLs[node]+path, strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		if origin != "" {
			req.Header.Set("Origin", origin)
		}
		resp, err := noRedirect.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp
	}
	// A form posted from another site changes nothing.
	if resp := post(1, "/dev/sms", url.Values{"person": {"kim"}, "text": {"위조"}}, "http://evil.example"); resp.StatusCode != http.StatusForbidden {
		t.Errorf("cross-site post answered %s", resp.Status)
	}
	if resp := post(1, "/dev/sms", url.Values{"person": {"kim"}, "text": {"위조"}}, ""); resp.StatusCode != http.StatusForbidden {
		t.Errorf("post without origin answered %s", resp.Status)
	}
	// kim texts back from the playground of dev-2.
	if resp := post(1, "/dev/sms", url.Values{"person": {"kim"}, "text": {"현장 도착했습니다"}}, st.URLs[1]); resp.StatusCode != http.StatusSeeOther ||
		strings.Contains(resp.Header.Get("Location"), "error=") {
		t.Fatalf("playground SMS answered %s, to %s", resp.Status, resp.Header.Get("Location"))
	}
	waitTimeline(t, ctx, c, "fire", "kim", "현장 도착했습니다")
	// kim presses 1 in the call: the Gather webhook acknowledges by voice.
	if resp := post(2, "/dev/press", url.Values{"person": {"kim"}, "call": {calls[0].SID}, "digits": {"1"}}, st.URLs[2]); resp.StatusCode != http.StatusSeeOther ||
		strings.Contains(resp.Header.Get("Location"), "error=") {
		t.Fatalf("playground key press answered %s, to %s", resp.Status, resp.Header.Get("Location"))
	}
	testkit.WaitFor(t, ctx, "kim's acknowledgement by voice", func() bool {
		m, err := c.Message(ctx, acc.ID)
		return err == nil && slices.ContainsFunc(m.Acks, func(a api.AckView) bool { return a.Person == "kim" && a.Channel == relay.ChannelVoice })
	})
	if _, body := get(0, devstack.PlaygroundPath); !strings.Contains(body, "현장 도착했습니다") {
		t.Error("the playground does not show what kim sent")
	}

	// The dev login link of dev-1 logs in on dev-3 too; a forged one does not.
	link, err := st.LoginURL("dev-1", "kim")
	if err != nil {
		t.Fatal(err)
	}
	token := link[strings.LastIndex(link, "/")+1:]
	resp, _ := get(2, devstack.LoginPath+token)
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/" {
		t.Fatalf("dev login answered %s to %q", resp.Status, resp.Header.Get("Location"))
	}
	var cookie *http.Cookie
	for _, ck := range resp.Cookies() {
		if ck.Name == devstack.SessionCookie {
			cookie = ck
		}
	}
	if cookie == nil || cookie.Value != token || !cookie.HttpOnly || cookie.SameSite != http.SameSiteStrictMode || cookie.Path != "/" {
		t.Fatalf("dev login cookie = %+v", cookie)
	}
	forged := token[:len(token)-4] + "AAAA"
	if resp, _ := get(2, devstack.LoginPath+forged); resp.StatusCode != http.StatusForbidden || len(resp.Cookies()) != 0 {
		t.Errorf("forged dev login answered %s with cookies %v", resp.Status, resp.Cookies())
	}
}
