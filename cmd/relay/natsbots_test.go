package main

import (
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	natsserver "github.com/nats-io/nats-server/v2/server"
	natsgo "github.com/nats-io/nats.go"

	"github.com/oob-relay/relay/channels/email/mailsink"
	"github.com/oob-relay/relay/internal/testkit"
	"github.com/oob-relay/relay/relay"
	"github.com/oob-relay/relay/relay/client"
)

// TestNATSBotsServe runs relay serve with bots configured as an operator
// would, every ingest limit at its default, against a NATS server whose
// permissions give each bot its own subjects. A bot posts only as itself,
// acknowledges only for the people it may, cannot claim the admin's
// idempotency key, and a flood of posts is cut to its rate.
func TestNATSBotsServe(t *testing.T) {
	t.Parallel()
	const relayPW, oncallPW, pagerPW = "relay-pw-7Hq2", "oncall-pw-3Xk9", "pager-pw-5Mn4"
	botUser := func(name, pw string, publish ...string) *natsserver.User {
		return &natsserver.User{Username: name, Password: pw, Permissions: &natsserver.Permissions{
			Publish:   &natsserver.SubjectPermission{Allow: publish},
			Subscribe: &natsserver.SubjectPermission{Allow: []string{"_INBOX.>"}},
		}}
	}
	ns, err := natsserver.NewServer(&natsserver.Options{Host: "127.0.0.1", Port: -1, NoLog: true, NoSigs: true, Users: []*natsserver.User{
		{Username: "relay", Password: relayPW, Permissions: &natsserver.Permissions{
			Subscribe: &natsserver.SubjectPermission{Allow: []string{"relay.post.*", "relay.ack.*"}},
			Publish:   &natsserver.SubjectPermission{Allow: []string{"relay.incident.>"}},
			Response:  &natsserver.ResponsePermission{MaxMsgs: 1, Expires: time.Minute},
		}},
		botUser("oncall-bot", oncallPW, "relay.post.oncall-bot", "relay.ack.oncall-bot"),
		botUser("pager", pagerPW, "relay.ack.pager"),
	}})
	if err != nil {
		t.Fatal(err)
	}
	go ns.Start()
	if !ns.ReadyForConnections(10 * time.Second) {
		t.Fatal("nats server not ready")
	}
	t.Cleanup(func() { ns.Shutdown(); ns.WaitForShutdown() })
	mail, err := mailsink.Start(mailsink.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { mail.Close() })

	dir := t.TempDir()
	roster := `people:
  - {id: kim, name: 김민수, email: kim@example.com}
  - {id: lee, name: 이서연, email: lee@example.com}
  - {id: park, name: 박지훈, email: park@example.com}
groups:
  - {id: infra, members: [kim, lee]}
`
	addr := freeAddr(t)
	cfg := fmt.Sprintf(`node:
  name: bots-1
  data_dir: data
http:
  listen: %s
api:
  tokens:
    - name: ops-admin
      role: admin
      token_env: TEST_RELAY_TOKEN
roster_file: roster.yaml
channels:
  email:
    providers:
      - name: smtp-test
        smtp:
          address: %s
          tls: none
          from: "relay <relay@example.com>"
  nats:
    providers:
      - name: nats-test
        nats:
          urls: [%s]
          user: relay
          password: %s
          ingest:
            enabled: true
            bots:
              - name: oncall-bot
              - name: pager
                allow: [ack]
                ack_for: [group:infra]
`, addr, mail.Addr(), ns.ClientURL(), relayPW)
	for name, body := range map[string]string{"relay.yaml": cfg, "roster.yaml": roster} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	// The bots' token buckets are made after this instant, full.
	started := time.Now()
	p := serve(t, filepath.Join(dir, "relay.yaml"), "http://"+addr)
	u, _ := url.Parse("http://" + addr)
	admin := client.New([]*url.URL{u}, testToken, nil)
	connect := func(user, pw string) *natsgo.Conn {
		nc, err := natsgo.Connect(ns.ClientURL(), natsgo.UserInfo(user, pw))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(nc.Close)
		return nc
	}
	oncall, pager := connect("oncall-bot", oncallPW), connect("pager", pagerPW)
	request := func(nc *natsgo.Conn, subject string, body any) map[string]any {
		t.Helper()
		data, err := json.Marshal(body)
		if err != nil {
			t.Fatal(err)
		}
		msg, err := nc.Request(subject, data, 10*time.Second)
		if err != nil {
			t.Fatalf("request on %s: %v", subject, err)
		}
		var reply map[string]any
		if err := json.Unmarshal(msg.Data, &reply); err != nil {
			t.Fatalf("reply %s: %v", msg.Data, err)
		}
		return reply
	}
	refusal := func(reply map[string]any, code, want string) {
		t.Helper()
		e, _ := reply["error"].(map[string]any)
		if e["code"] != code || !strings.Contains(fmt.Sprint(e["message"]), want) {
			t.Errorf("reply %v, want %s saying %q", reply, code, want)
		}
	}
	// The ingest subscribes once the node has started; wait for it.
	testkit.EventuallyNil(t, 10*time.Second, func() error {
		_, err := pager.Request("relay.ack.pager", []byte(`{"person":"kim","incident":"probe"}`), time.Second)
		return err
	})

	// A post naming another author is refused; the bot's own is by it.
	post := relay.Post{Incident: "pangyo-fire", Text: "판교 IDC 화재: 메신저 장애", To: []string{"group:infra"}, Severity: relay.SeverityCritical}
	for _, author := range []string{"kim", "ops-admin"} {
		refusal(request(oncall, "relay.post.oncall-bot", map[string]any{"incident": post.Incident, "text": post.Text, "to": post.To,
			"severity": post.Severity, "idempotency_key": "deploy-42", "author": author}),
			"forbidden", fmt.Sprintf("%q is not the bot that sends this request: bot oncall-bot posts as oncall-bot", author))
	}
	reply := request(oncall, "relay.post.oncall-bot", map[string]any{"incident": post.Incident, "text": post.Text, "to": post.To,
		"severity": post.Severity, "idempotency_key": "deploy-42"})
	botMsg, _ := reply["id"].(string)
	if botMsg == "" {
		t.Fatalf("the bot's own post: %v", reply)
	}
	if m, err := admin.Message(t.Context(), botMsg); err != nil || m.Author != "oncall-bot" {
		t.Fatalf("the bot's message: %+v, %v; want author oncall-bot", m, err)
	}

	// The bot's key does not block the admin's post under the same key.
	acc, err := admin.Post(t.Context(), &relay.Post{Incident: "pangyo-fire", Text: "지휘: 판교 인원 전원 대피", To: []string{"everyone"},
		Severity: relay.SeverityCritical}, "deploy-42")
	if err != nil {
		t.Fatalf("the admin's post with the key the bot used: %v", err)
	}
	if acc.ID == botMsg {
		t.Fatalf("the admin's post got the bot's message %s", botMsg)
	}
	if again, err := admin.Post(t.Context(), &relay.Post{Incident: "pangyo-fire", Text: "지휘: 판교 인원 전원 대피", To: []string{"everyone"},
		Severity: relay.SeverityCritical}, "deploy-42"); err != nil || again.ID != acc.ID {
		t.Errorf("the admin's retry: %+v, %v; want the message %s", again, err, acc.ID)
	}

	// Acknowledgements: only pager, only for group infra.
	refusal(request(pager, "relay.ack.pager", map[string]any{"person": "park", "incident": "pangyo-fire"}),
		"forbidden", `bot pager may not acknowledge for "park": only for group:infra`)
	refusal(request(oncall, "relay.ack.oncall-bot", map[string]any{"person": "kim", "incident": "pangyo-fire"}),
		"forbidden", "bot oncall-bot may not acknowledge: its allow lists post")
	reply = request(pager, "relay.ack.pager", map[string]any{"person": "kim", "incident": "pangyo-fire"})
	if acked, _ := reply["acked"].([]any); len(acked) != 2 {
		t.Errorf("pager acknowledging for kim: %v, want both messages kim was sent", reply)
	}

	// A flood of posts is cut to the bot's rate: the burst of 20 and one
	// a second, both defaults.
	const flood = 200
	var (
		wg      sync.WaitGroup
		mu      sync.Mutex
		codes   = map[string]int{}
		flooded = time.Now()
	)
	for i := range flood {
		wg.Go(func() {
			data, _ := json.Marshal(map[string]any{"incident": "flood", "text": fmt.Sprintf("flood %d", i), "to": []string{"person:park"}})
			msg, err := oncall.Request("relay.post.oncall-bot", data, 10*time.Second)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				codes[err.Error()]++
				return
			}
			var r struct {
				ID    string
				Error struct{ Code string }
			}
			_ = json.Unmarshal(msg.Data, &r)
			if r.ID != "" {
				codes["accepted"]++
			} else {
				codes[r.Error.Code]++
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(started)
	t.Logf("flood of %d posts in %s: %v", flood, time.Since(flooded).Round(time.Millisecond), codes)
	// Before the flood the bot spent three tokens (two refused posts and
	// its own); the bucket refills at one a second since it was made.
	most := 20 - 3 + int(math.Ceil(elapsed.Seconds()))
	if codes["accepted"]+codes["rate_limited"] != flood || codes["accepted"] > most || codes["rate_limited"] == 0 {
		t.Errorf("flood of %d posts in %s: %v; want at most %d accepted and the rest rate_limited", flood, time.Since(flooded), codes, most)
	}
	metrics := scrape(http.DefaultClient, "http://"+addr)
	for series, want := range map[string]float64{
		`relay_nats_ingest_refused_total{bot="oncall-bot",provider="nats-test",reason="author"}`:       2,
		`relay_nats_ingest_refused_total{bot="oncall-bot",provider="nats-test",reason="rate_limited"}`: float64(codes["rate_limited"]),
		`relay_nats_ingest_refused_total{bot="pager",provider="nats-test",reason="ack_for"}`:           1,
		`relay_nats_ingest_refused_total{bot="oncall-bot",provider="nats-test",reason="not_allowed"}`:  1,
	} {
		if got := metrics[series]; got != want {
			t.Errorf("%s = %v, want %v", series, got, want)
		}
	}
	if log := p.log(); !strings.Contains(log, "nats request refused") || strings.Count(log, "reason=rate_limited") >= codes["rate_limited"] {
		t.Errorf("refusals not logged, or every one of %d rate-limited refusals logged", codes["rate_limited"])
	}
	for _, pw := range []string{relayPW, oncallPW, pagerPW} {
		if strings.Contains(p.log(), pw) {
			t.Errorf("a NATS password is in the node's log")
		}
	}
}
