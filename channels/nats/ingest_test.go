package nats

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	natsgo "github.com/nats-io/nats.go"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/oob-relay/relay/internal/testkit"
	"github.com/oob-relay/relay/relay"
	"github.com/oob-relay/relay/relay/loggate"
	"github.com/oob-relay/relay/relay/problem"
)

// fakeInbox records what it is given. By default Post answers as the core
// does for idempotency keys (the same request is replayed, another one
// under the same key is refused) and Ack acknowledges one message.
type fakeInbox struct {
	mu    sync.Mutex
	posts []postCall
	acks  []AckRequest
	keys  map[string]string // key -> request hash
	post  func(ctx context.Context, p *relay.Post) error
	ack   func(ctx context.Context, a AckRequest) ([]string, error)
}

type postCall struct {
	Post        relay.Post
	Author, Key string
}

func (f *fakeInbox) Post(ctx context.Context, p *relay.Post, author, key string) (string, bool, error) {
	f.mu.Lock()
	f.posts = append(f.posts, postCall{*p, author, key})
	n := len(f.posts)
	hook := f.post
	f.mu.Unlock()
	if hook != nil {
		if err := hook(ctx, p); err != nil {
			return "", false, err
		}
	}
	if key == "" {
		return fmt.Sprintf("msg-%d", n), false, nil
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.keys == nil {
		f.keys = map[string]string{}
	}
	prev, seen := f.keys[author+"\x00"+key]
	if seen && prev != p.Hash() {
		return "", false, &problem.Problem{Code: problem.CodeKeyReused, Message: "idempotency_key was already used for a different message"}
	}
	f.keys[author+"\x00"+key] = p.Hash()
	return relay.IdempotentMessageID(relay.ViaNATS, author, key), seen, nil
}

// fakeRoster is whom fakeInbox.Member knows: kim and lee in group infra,
// park in none.
var fakeRoster = &relay.Roster{
	People: []relay.Person{{ID: "kim"}, {ID: "lee"}, {ID: "park"}},
	Groups: []relay.Group{{ID: "infra", Members: []string{"kim", "lee"}}},
}

func (f *fakeInbox) Member(_ context.Context, person string, targets []string) (bool, error) {
	return fakeRoster.Includes(person, targets), nil
}

func (f *fakeInbox) Ack(ctx context.Context, _ string, a AckRequest) ([]string, error) {
	f.mu.Lock()
	f.acks = append(f.acks, a)
	hook := f.ack
	f.mu.Unlock()
	if hook != nil {
		return hook(ctx, a)
	}
	return []string{"01JC3Z7M8Q4X2V5T9R6N1B0K7D"}, nil
}

// onPost and onAck replace the hooks while requests may be running.
func (f *fakeInbox) onPost(h func(ctx context.Context, p *relay.Post) error) {
	f.mu.Lock()
	f.post = h
	f.mu.Unlock()
}

func (f *fakeInbox) onAck(h func(ctx context.Context, a AckRequest) ([]string, error)) {
	f.mu.Lock()
	f.ack = h
	f.mu.Unlock()
}

func (f *fakeInbox) postCalls() []postCall {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.posts)
}

func (f *fakeInbox) ackCalls() []AckRequest {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.acks)
}

// The test bots (withBots) and their subjects.
const (
	// oncallBot posts, with a rate limit tests do not reach.
	oncallBot  = "oncall-bot"
	oncallPost = "relay.post.oncall-bot"
	// pager posts and acknowledges for group infra (kim and lee).
	pagerAck  = "relay.ack.pager"
	pagerPost = "relay.post.pager"
	// watch only acknowledges, for park.
	watchAck  = "relay.ack.watch"
	watchPost = "relay.post.watch"
)

// withBots gives cfg the test bots when it lists none.
func withBots(cfg IngestConfig) IngestConfig {
	if len(cfg.Bots) == 0 {
		cfg.Bots = []Bot{
			{Name: oncallBot, Rate: 1000, Burst: 1000},
			{Name: "pager", Allow: []string{ActionPost, ActionAck}, AckFor: []string{"group:infra"}, Rate: 1000, Burst: 1000},
			{Name: "watch", Allow: []string{ActionAck}, AckFor: []string{"person:park"}, Rate: 1000, Burst: 1000},
		}
	}
	return cfg
}

// testOptions logs into logs (nil discards) and registers with reg (nil
// is a private registry).
func testOptions(logs io.Writer, reg prometheus.Registerer) Options {
	if logs == nil {
		logs = io.Discard
	}
	return Options{Logger: slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})), Registerer: reg}
}

// testIngest subscribes an Ingest with the test bots, unless cfg lists
// its own, that logs into logs and closes it when the test ends.
func testIngest(t *testing.T, nc *natsgo.Conn, cfg IngestConfig, inbox Inbox, logs io.Writer) *Ingest {
	t.Helper()
	return testIngestWith(t, nc, cfg, inbox, testOptions(logs, nil))
}

func testIngestWith(t *testing.T, nc *natsgo.Conn, cfg IngestConfig, inbox Inbox, opts Options) *Ingest {
	t.Helper()
	in, err := Subscribe(t.Context(), nc, withBots(cfg), inbox, opts)
	if err != nil {
		t.Fatalf("Subscribe: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := in.Close(ctx); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return in
}

// ask sends a request and returns the reply, which it checks against the
// reply schema of the subject's kind ("post" or "ack").
func ask(t *testing.T, nc *natsgo.Conn, subject string, body []byte) map[string]any {
	t.Helper()
	msg, err := nc.Request(subject, body, 5*time.Second)
	if err != nil {
		t.Fatalf("request on %s: %v", subject, err)
	}
	tokens := strings.Split(subject, ".")
	kind := tokens[len(tokens)-2]
	checkSchema(t, replySchema(t, kind), msg.Data)
	var v map[string]any
	if err := json.Unmarshal(msg.Data, &v); err != nil {
		t.Fatalf("reply is not a JSON object: %v: %s", err, msg.Data)
	}
	return v
}

// wantCode checks that a reply is an error with code whose message
// contains want.
func wantCode(t *testing.T, reply map[string]any, code, want string) map[string]any {
	t.Helper()
	e, ok := reply["error"].(map[string]any)
	if !ok || e["code"] != code || !strings.Contains(fmt.Sprint(e["message"]), want) {
		t.Fatalf("reply = %v, want error %s containing %q", reply, code, want)
	}
	return e
}

func mustJSON(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func koreanPost() PostRequest {
	return PostRequest{
		Post:           relay.Post{Incident: "pangyo-fire", Text: koreanText, To: []string{"group:infra", "person:lee"}, Severity: relay.SeverityCritical},
		IdempotencyKey: "alert-7f3a9c",
	}
}

// ingestSetup starts a server, an Ingest with inbox and a client.
func ingestSetup(t *testing.T, cfg IngestConfig, inbox Inbox, logs io.Writer) *natsgo.Conn {
	t.Helper()
	s := runServer(t, &server.Options{})
	testIngest(t, connectClient(t, s.ClientURL()), cfg, inbox, logs)
	return connectClient(t, s.ClientURL())
}

func TestIngestPost(t *testing.T) {
	inbox := &fakeInbox{}
	bot := ingestSetup(t, IngestConfig{}, inbox, nil)
	req := koreanPost()
	reply := ask(t, bot, oncallPost, mustJSON(t, req))
	wantID := relay.IdempotentMessageID(relay.ViaNATS, oncallBot, req.IdempotencyKey)
	if reply["id"] != wantID || reply["replayed"] != false {
		t.Fatalf("reply = %v, want id %s, not replayed", reply, wantID)
	}
	calls := inbox.postCalls()
	if len(calls) != 1 {
		t.Fatalf("inbox got %d posts, want 1", len(calls))
	}
	got := calls[0]
	if got.Post.Text != koreanText || got.Post.Incident != "pangyo-fire" || !slices.Equal(got.Post.To, req.To) ||
		got.Post.Severity != relay.SeverityCritical || got.Author != oncallBot || got.Key != "alert-7f3a9c" {
		t.Errorf("inbox got %+v, want the request as sent, author %s", got, oncallBot)
	}

	// The same request again is replayed; another under the key is refused.
	reply = ask(t, bot, oncallPost, mustJSON(t, req))
	if reply["id"] != wantID || reply["replayed"] != true {
		t.Errorf("retry reply = %v, want id %s replayed", reply, wantID)
	}
	req.Text = "다른 내용"
	wantCode(t, ask(t, bot, oncallPost, mustJSON(t, req)), problem.CodeKeyReused, "already used")

	// Naming its own bot as author changes nothing; another bot's post
	// with the key is that bot's.
	req = koreanPost()
	req.Author = oncallBot
	if reply := ask(t, bot, oncallPost, mustJSON(t, req)); reply["id"] != wantID || reply["replayed"] != true {
		t.Errorf("reply = %v, want the replay of %s", reply, wantID)
	}
	req.Author = ""
	reply = ask(t, bot, pagerPost, mustJSON(t, req))
	if want := relay.IdempotentMessageID(relay.ViaNATS, "pager", req.IdempotencyKey); reply["id"] != want || reply["replayed"] != false ||
		inbox.postCalls()[4].Author != "pager" {
		t.Errorf("reply = %v, want a new message %s by pager", reply, want)
	}
}

// TestIngestAuthorIsTheBot: a post's author is the bot its subject names;
// a post naming anyone else is refused, counted and logged, and never
// reaches the core.
func TestIngestAuthorIsTheBot(t *testing.T) {
	logs := &testkit.LogBuffer{}
	reg := prometheus.NewRegistry()
	inbox := &fakeInbox{}
	s := runServer(t, &server.Options{})
	testIngestWith(t, connectClient(t, s.ClientURL()), IngestConfig{}, inbox, testOptions(logs, reg))
	bot := connectClient(t, s.ClientURL())
	for _, author := range []string{"kim", "ops-admin", "pager"} {
		req := koreanPost()
		req.Author = author
		e := wantCode(t, ask(t, bot, oncallPost, mustJSON(t, req)), problem.CodeForbidden,
			fmt.Sprintf(`author: %q is not the bot that sends this request: bot oncall-bot posts as oncall-bot; leave author out`, author))
		if f := e["fields"].([]any); len(f) != 1 || f[0].(map[string]any)["field"] != "author" {
			t.Errorf("fields = %v, want author", e["fields"])
		}
	}
	if n := len(inbox.postCalls()); n != 0 {
		t.Errorf("inbox got %d posts naming another author", n)
	}
	if got := refusedCount(t, reg, oncallBot, reasonAuthor); got != 3 {
		t.Errorf("refused{bot=oncall-bot,reason=author} = %v, want 3", got)
	}
	if l := logs.String(); !strings.Contains(l, "nats request refused") || !strings.Contains(l, "reason=author") {
		t.Errorf("refusal not logged:\n%s", l)
	}
}

// refusedCount reads a series of the refused metric in reg.
func refusedCount(t *testing.T, reg *prometheus.Registry, bot, reason string) float64 {
	t.Helper()
	return testkit.Metric(t, reg, "relay_nats_ingest_refused_total", "bot", bot, "reason", reason)
}

func TestIngestAck(t *testing.T) {
	inbox := &fakeInbox{}
	bot := ingestSetup(t, IngestConfig{}, inbox, nil)
	reply := ask(t, bot, pagerAck, []byte(`{"person":"kim","incident":"pangyo-fire"}`))
	if acked, _ := reply["acked"].([]any); len(acked) != 1 || acked[0] != "01JC3Z7M8Q4X2V5T9R6N1B0K7D" {
		t.Errorf("reply = %v, want the acknowledged message", reply)
	}
	inbox.onAck(func(context.Context, AckRequest) ([]string, error) { return nil, nil })
	if reply := ask(t, bot, pagerAck, []byte(`{"person":"kim","message":"01JC3Z7M8Q4X2V5T9R6N1B0K7D"}`)); fmt.Sprint(reply["acked"]) != "[]" {
		t.Errorf("reply = %v, want an empty list", reply)
	}
	inbox.onAck(func(context.Context, AckRequest) ([]string, error) {
		return nil, fmt.Errorf("message 01JC3Z7M8Q4X2V5T9R6N1B0K7E: %w", relay.ErrNotFound)
	})
	wantCode(t, ask(t, bot, pagerAck, []byte(`{"person":"kim","message":"01JC3Z7M8Q4X2V5T9R6N1B0K7E"}`)), problem.CodeNotFound, "01JC3Z7M8Q4X2V5T9R6N1B0K7E: not found")
	wantCode(t, ask(t, bot, pagerAck, []byte(`{"person":"kim","incident":"a","message":"b"}`)), problem.CodeInvalidField, "message: cannot be combined with incident")
	want := []AckRequest{{Person: "kim", Incident: "pangyo-fire"}, {Person: "kim", Message: "01JC3Z7M8Q4X2V5T9R6N1B0K7D"}, {Person: "kim", Message: "01JC3Z7M8Q4X2V5T9R6N1B0K7E"}}
	if got := inbox.ackCalls(); !slices.Equal(got, want) {
		t.Errorf("inbox got %+v, want %+v (the refused request never reaches it)", got, want)
	}
}

// TestIngestWhatBotsMayDo: a bot acknowledges only if allowed, and only
// for the people of its ack_for; it posts only if allowed; a subject
// naming no bot is refused. Nothing refused reaches the core.
func TestIngestWhatBotsMayDo(t *testing.T) {
	reg := prometheus.NewRegistry()
	inbox := &fakeInbox{}
	s := runServer(t, &server.Options{})
	testIngestWith(t, connectClient(t, s.ClientURL()), IngestConfig{}, inbox, testOptions(nil, reg))
	bot := connectClient(t, s.ClientURL())
	for _, tc := range []struct {
		subject, body, code, want, bot, reason string
	}{
		{pagerAck, `{"person":"park","incident":"pangyo-fire"}`, problem.CodeForbidden,
			`person: bot pager may not acknowledge for "park": only for group:infra`, "pager", reasonAckFor},
		{watchAck, `{"person":"kim","incident":"pangyo-fire"}`, problem.CodeForbidden,
			`person: bot watch may not acknowledge for "kim": only for person:park`, "watch", reasonAckFor},
		{watchAck, `{"person":"nobody","incident":"pangyo-fire"}`, problem.CodeForbidden,
			`bot watch may not acknowledge for "nobody"`, "watch", reasonAckFor},
		{"relay.ack.oncall-bot", `{"person":"kim","incident":"pangyo-fire"}`, problem.CodeForbidden,
			"bot oncall-bot may not acknowledge: its allow lists post", oncallBot, reasonNotAllowed},
		{watchPost, string(mustJSON(t, koreanPost())), problem.CodeForbidden,
			"bot watch may not post: its allow lists ack", "watch", reasonNotAllowed},
		{"relay.post.mallory", string(mustJSON(t, koreanPost())), problem.CodeForbidden,
			`no bot "mallory" is configured on this node: a bot sends on relay.post.<its name>`, "", reasonUnknownBot},
		{"relay.ack.kim", `{"person":"kim","incident":"pangyo-fire"}`, problem.CodeForbidden,
			`no bot "kim" is configured on this node: a bot sends on relay.ack.<its name>`, "", reasonUnknownBot},
	} {
		wantCode(t, ask(t, bot, tc.subject, []byte(tc.body)), tc.code, tc.want)
		if got := refusedCount(t, reg, tc.bot, tc.reason); got < 1 {
			t.Errorf("%s: refused{bot=%q,reason=%s} = %v, want it counted", tc.subject, tc.bot, tc.reason, got)
		}
	}
	if n, m := len(inbox.postCalls()), len(inbox.ackCalls()); n+m != 0 {
		t.Errorf("inbox got %d posts and %d acks of refused requests", n, m)
	}
	// Allowed, they go through.
	if reply := ask(t, bot, watchAck, []byte(`{"person":"park","incident":"pangyo-fire"}`)); reply["acked"] == nil {
		t.Errorf("watch acknowledging for park: %v", reply)
	}
	if reply := ask(t, bot, pagerAck, []byte(`{"person":"lee","incident":"pangyo-fire"}`)); reply["acked"] == nil {
		t.Errorf("pager acknowledging for lee: %v", reply)
	}
}

// TestIngestDocRefusalExamples: the examples of ingest.v1.md for what
// ingest itself refuses are what it answers.
func TestIngestDocRefusalExamples(t *testing.T) {
	s := runServer(t, &server.Options{})
	cfg := IngestConfig{Bots: []Bot{{Name: oncallBot}, {Name: "pager", Allow: []string{ActionPost, ActionAck}, AckFor: []string{"group:infra", "person:lee"}}}}
	testIngest(t, connectClient(t, s.ClientURL()), cfg, &fakeInbox{}, nil)
	bot := connectClient(t, s.ClientURL())
	req := koreanPost()
	req.Author = "ops-admin"
	examples := docExamples(t)
	for _, tc := range []struct {
		kind, subject string
		body          []byte
	}{
		{"post.reply", oncallPost, mustJSON(t, req)},
		{"ack.reply", pagerAck, []byte(`{"person":"park","incident":"pangyo-fire"}`)},
	} {
		msg, err := bot.Request(tc.subject, tc.body, 5*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Contains(examples, docExample{tc.kind, string(msg.Data) + "\n"}) {
			t.Errorf("ingest.v1.md lacks the answer to %s on %s:\n%s", tc.body, tc.subject, msg.Data)
		}
	}
}

// TestIngestAckOffUnlessConfigured: with no bot allowed to acknowledge,
// the node does not take acknowledgements at all.
func TestIngestAckOffUnlessConfigured(t *testing.T) {
	s := runServer(t, &server.Options{})
	in := testIngest(t, connectClient(t, s.ClientURL()), IngestConfig{Bots: []Bot{{Name: oncallBot}}}, &fakeInbox{}, nil)
	if len(in.subs) != 1 || in.subs[0].Subject != "relay.post.*" {
		t.Errorf("subscribed to %v, want relay.post.* alone", in.subs)
	}
	bot := connectClient(t, s.ClientURL())
	if _, err := bot.Request("relay.ack.oncall-bot", []byte(`{"person":"kim","incident":"a"}`), 5*time.Second); !errors.Is(err, natsgo.ErrNoResponders) {
		t.Errorf("ack request: %v, want no responders", err)
	}
}

// TestIngestRefusals sends bad requests; none reaches the inbox.
func TestIngestRefusals(t *testing.T) {
	inbox := &fakeInbox{}
	bot := ingestSetup(t, IngestConfig{}, inbox, nil)
	big := mustJSON(t, PostRequest{Post: relay.Post{Incident: "a", Text: strings.Repeat("가", MaxRequestBytes/3+1), To: []string{"everyone"}}})
	for _, tc := range []struct {
		name, subject, body, code, want string
		fields                          []string
	}{
		{"malformed", oncallPost, `{"incident":"a",`, problem.CodeInvalidJSON, "ends in the middle", nil},
		{"syntax", oncallPost, `{"incident" "a"}`, problem.CodeInvalidJSON, "malformed JSON at byte", nil},
		{"not an object", oncallPost, `["everyone"]`, problem.CodeInvalidJSON, "must be a JSON object, not an array", nil},
		{"empty", pagerAck, ``, problem.CodeInvalidJSON, "request is empty", nil},
		{"not UTF-8", oncallPost, "{\"incident\":\"a\",\"text\":\"\xff\",\"to\":[\"everyone\"]}", problem.CodeInvalidJSON, "text: is not valid UTF-8", []string{"text"}},
		{"half a surrogate pair", oncallPost, `{"incident":"a","text":"t","to":["everyone","person:\udc00"]}`, problem.CodeInvalidJSON, "to[1]: is not valid UTF-8", []string{"to[1]"}},
		{"terminal escape", oncallPost, `{"incident":"a","text":"ok\u001b[2J","to":["everyone"]}`, problem.CodeInvalidField, "text: contains U+001B (a control character)", []string{"text"}},
		{"bidirectional override", oncallPost, `{"incident":"a","text":"결제 \u202egnp.exe","to":["everyone"]}`, problem.CodeInvalidField, "text: contains U+202E", []string{"text"}},
		{"trailing data", oncallPost, `{"incident":"a","text":"t","to":["everyone"]} {}`, problem.CodeInvalidJSON, "unexpected data after", nil},
		{"oversized", oncallPost, string(big), problem.CodeBodyTooLarge, "the limit is 262144", nil},
		{"unknown fields", oncallPost, `{"incident":"a","text":"t","to":["everyone"],"phone":"+8210","Text":"x"}`, problem.CodeUnknownField, "phone: is not a field", []string{"phone", "Text"}},
		{"twice", oncallPost, `{"incident":"a","text":"t","to":["everyone"],"text":"u"}`, problem.CodeInvalidJSON, "text: is given twice", []string{"text"}},
		{"wrong types", oncallPost, `{"incident":7,"text":"t","to":["everyone",1],"severity":null}`, problem.CodeInvalidJSON, "incident: must be a string, not a number", []string{"incident", "to[1]", "severity"}},
		{"invalid", oncallPost, `{"incident":"Pangyo Fire","text":" ","to":[],"severity":"urgent","channels":["sms","fax"],"author":"Bot"}`, problem.CodeInvalidField, `incident: "Pangyo Fire" must be`,
			[]string{"incident", "text", "to", "severity", "channels[1]", "author"}},
		{"long key", oncallPost, `{"incident":"a","text":"t","to":["everyone"],"idempotency_key":"` + strings.Repeat("k", 256) + `"}`, problem.CodeInvalidField, "idempotency_key: is 256 bytes", []string{"idempotency_key"}},
		{"ack without target", pagerAck, `{"person":"kim"}`, problem.CodeInvalidField, "incident: is required unless message", []string{"incident"}},
		{"ack without person", pagerAck, `{"incident":"a","message":"b"}`, problem.CodeInvalidField, "person: is required", []string{"person", "message"}},
		{"ack bad ids", pagerAck, `{"person":"Kim","message":"a.b"}`, problem.CodeInvalidField, `person: "Kim" must be`, []string{"person", "message"}},
		{"ack unknown field", pagerAck, `{"person":"kim","incident":"a","at":"now"}`, problem.CodeUnknownField, "at: is not a field; the fields are person, incident, message", []string{"at"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := wantCode(t, ask(t, bot, tc.subject, []byte(tc.body)), tc.code, tc.want)
			var fields []string
			list, _ := e["fields"].([]any)
			for _, f := range list {
				fields = append(fields, fmt.Sprint(f.(map[string]any)["field"]))
			}
			if !slices.Equal(fields, tc.fields) {
				t.Errorf("fields = %v, want %v", fields, tc.fields)
			}
		})
	}
	if n, m := len(inbox.postCalls()), len(inbox.ackCalls()); n+m != 0 {
		t.Errorf("inbox got %d posts and %d acks of refused requests", n, m)
	}
}

// TestIngestInboxErrors: what the core refuses is explained; what fails
// inside is logged and not shown.
func TestIngestInboxErrors(t *testing.T) {
	logs := &testkit.LogBuffer{}
	inbox := &fakeInbox{}
	bot := ingestSetup(t, IngestConfig{}, inbox, logs)
	body := mustJSON(t, koreanPost())

	inbox.onPost(func(context.Context, *relay.Post) error {
		return errors.Join(&relay.FieldError{Field: "to[1]", Message: `"person:lee" is not on the roster`},
			&relay.FieldError{Field: "channels[0]", Message: `"voice" has no provider configured on this node`})
	})
	e := wantCode(t, ask(t, bot, oncallPost, body), problem.CodeInvalidField, `to[1]: "person:lee" is not on the roster; channels[0]:`)
	if len(e["fields"].([]any)) != 2 {
		t.Errorf("fields = %v, want both", e["fields"])
	}

	inbox.onPost(func(context.Context, *relay.Post) error { return errors.New("bbolt: disk I/O error at page 4711") })
	e = wantCode(t, ask(t, bot, oncallPost, body), problem.CodeInternal, "the node's log has the cause")
	if strings.Contains(fmt.Sprint(e), "4711") {
		t.Errorf("the internal cause reached the client: %v", e)
	}
	if !strings.Contains(logs.String(), "page 4711") {
		t.Errorf("the internal cause is not in the log:\n%s", logs)
	}

	inbox.onPost(func(context.Context, *relay.Post) error { return &problem.Problem{Code: "made_up", Message: "x"} })
	wantCode(t, ask(t, bot, oncallPost, body), problem.CodeInternal, "")
}

// TestIngestRateLimit: a bot over its rate is refused rate_limited,
// saying when to retry, and counted; other bots keep their own budget;
// the refusals' log lines are limited.
func TestIngestRateLimit(t *testing.T) {
	logs := &testkit.LogBuffer{}
	reg := prometheus.NewRegistry()
	inbox := &fakeInbox{}
	s := runServer(t, &server.Options{})
	// One request in 1,000 s after a burst of 3: no test lasts long
	// enough to earn a fourth.
	cfg := IngestConfig{Rate: 0.001, Burst: 3, Bots: []Bot{{Name: "flood"}, {Name: oncallBot}}}
	testIngestWith(t, connectClient(t, s.ClientURL()), cfg, inbox, testOptions(logs, reg))
	bot := connectClient(t, s.ClientURL())
	const n = 40
	accepted, limited := 0, 0
	for i := range n {
		req := koreanPost()
		req.IdempotencyKey = fmt.Sprint(i)
		reply := ask(t, bot, "relay.post.flood", mustJSON(t, req))
		if reply["id"] != nil {
			accepted++
			continue
		}
		wantCode(t, reply, problem.CodeRateLimited, "bot flood is over its rate of 0.001 request a second (burst 3); retry in ")
		limited++
	}
	if accepted != 3 || limited != n-3 {
		t.Errorf("%d accepted and %d rate limited of %d, want the burst of 3 and no more", accepted, limited, n)
	}
	if got := refusedCount(t, reg, "flood", reasonRateLimited); got != n-3 {
		t.Errorf("refused{bot=flood,reason=rate_limited} = %v, want %d", got, n-3)
	}
	if got := testkit.Metric(t, reg, "relay_nats_ingest_requests_total", "bot", "flood", "kind", "post"); got != n {
		t.Errorf("requests{bot=flood,kind=post} = %v, want %d", got, n)
	}
	if reply := ask(t, bot, oncallPost, mustJSON(t, koreanPost())); reply["id"] == nil {
		t.Errorf("another bot's post while flood is limited: %v", reply)
	}
	if lines := strings.Count(logs.String(), "nats request refused"); lines >= n-3 {
		t.Errorf("%d log lines for %d refusals, want them limited:\n%s", lines, n-3, logs)
	}
	if len(inbox.postCalls()) != 4 {
		t.Errorf("inbox got %d posts, want 4", len(inbox.postCalls()))
	}
}

// TestIngestRefusalLogLimit: a line logged after refusals went unlogged
// says how many.
func TestIngestRefusalLogLimit(t *testing.T) {
	logs := &testkit.LogBuffer{}
	now := time.Date(2026, 12, 2, 9, 0, 0, 0, time.UTC)
	in := &Ingest{log: slog.New(slog.NewTextHandler(logs, nil)), refusals: loggate.New(1.0/3600, 2), now: func() time.Time { return now }}
	m := &natsgo.Msg{Subject: oncallPost, Reply: "_INBOX.x"}
	p := &problem.Problem{Code: problem.CodeRateLimited, Message: "slow down"}
	for range 5 {
		in.logRefusal(m, oncallBot, reasonRateLimited, p)
	}
	if got := strings.Count(logs.String(), "nats request refused"); got != 2 {
		t.Errorf("%d lines for 5 refusals with a burst of 2, want 2:\n%s", got, logs)
	}
	now = now.Add(time.Hour)
	in.logRefusal(m, oncallBot, reasonRateLimited, p)
	if !strings.Contains(logs.String(), "not_logged_before=3") {
		t.Errorf("the next line does not count the 3 refusals left out:\n%s", logs)
	}
}

// TestIngestBusy: a request beyond max_in_flight is refused unavailable at
// once, not queued.
func TestIngestBusy(t *testing.T) {
	reg := prometheus.NewRegistry()
	started, release := make(chan struct{}), make(chan struct{})
	var once sync.Once
	inbox := &fakeInbox{post: func(context.Context, *relay.Post) error {
		once.Do(func() { close(started) })
		<-release
		return nil
	}}
	s := runServer(t, &server.Options{})
	testIngestWith(t, connectClient(t, s.ClientURL()), IngestConfig{Concurrency: 1, MaxInFlight: 1}, inbox, testOptions(nil, reg))
	bot := connectClient(t, s.ClientURL())
	first := make(chan []byte, 1)
	go func() {
		msg, err := bot.Request(oncallPost, mustJSON(t, koreanPost()), 5*time.Second)
		if err != nil {
			first <- []byte(err.Error())
			return
		}
		first <- msg.Data
	}()
	<-started
	req := koreanPost()
	req.IdempotencyKey = "second"
	wantCode(t, ask(t, bot, oncallPost, mustJSON(t, req)), problem.CodeUnavailable, "this node holds 1 requests already; retry in a moment")
	if got := refusedCount(t, reg, oncallBot, reasonBusy); got != 1 {
		t.Errorf("refused{reason=busy} = %v, want 1", got)
	}
	close(release)
	if got := <-first; !bytes.Contains(got, []byte(`"id"`)) {
		t.Errorf("the request under way got %s, want its answer", got)
	}
	if reply := ask(t, bot, oncallPost, mustJSON(t, req)); reply["id"] == nil {
		t.Errorf("a request once the node is free: %v", reply)
	}
}

// TestIngestMaxRequestBytes: a payload over the configured limit is
// refused before it is read.
func TestIngestMaxRequestBytes(t *testing.T) {
	reg := prometheus.NewRegistry()
	inbox := &fakeInbox{}
	s := runServer(t, &server.Options{})
	testIngestWith(t, connectClient(t, s.ClientURL()), IngestConfig{MaxRequestBytes: 2048}, inbox, testOptions(nil, reg))
	bot := connectClient(t, s.ClientURL())
	req := koreanPost()
	req.Text = strings.Repeat("가", 700)
	body := mustJSON(t, req)
	wantCode(t, ask(t, bot, oncallPost, body), problem.CodeBodyTooLarge, fmt.Sprintf("request is %d bytes; the limit is 2048", len(body)))
	if got := refusedCount(t, reg, oncallBot, reasonTooLarge); got != 1 {
		t.Errorf("refused{reason=too_large} = %v, want 1", got)
	}
	req.Text = strings.Repeat("가", 500)
	if reply := ask(t, bot, oncallPost, mustJSON(t, req)); reply["id"] == nil || len(inbox.postCalls()) != 1 {
		t.Errorf("a post under the limit: %v", reply)
	}
}

func TestIngestTimeout(t *testing.T) {
	inbox := &fakeInbox{}
	inbox.post = func(ctx context.Context, _ *relay.Post) error {
		<-ctx.Done()
		return ctx.Err()
	}
	bot := ingestSetup(t, IngestConfig{Timeout: 50 * time.Millisecond}, inbox, nil)
	wantCode(t, ask(t, bot, oncallPost, mustJSON(t, koreanPost())), problem.CodeTimeout, "not done within 50ms and may still take effect; retry, a post with the same idempotency_key")
}

// TestIngestWithoutReply: a request with no reply subject is carried out,
// and a refused one is logged.
func TestIngestWithoutReply(t *testing.T) {
	logs := &testkit.LogBuffer{}
	inbox := &fakeInbox{}
	bot := ingestSetup(t, IngestConfig{}, inbox, logs)
	if err := bot.Publish(oncallPost, mustJSON(t, koreanPost())); err != nil {
		t.Fatal(err)
	}
	if err := bot.Publish(oncallPost, []byte(`{"incident":"a","text":"t"}`)); err != nil {
		t.Fatal(err)
	}
	testkit.EventuallyNil(t, 5*time.Second, func() error {
		if n := len(inbox.postCalls()); n != 1 {
			return fmt.Errorf("inbox got %d posts, want 1", n)
		}
		if l := logs.String(); !strings.Contains(l, "refused without a reply subject") || !strings.Contains(l, `to: is required`) {
			return fmt.Errorf("refusal not logged:\n%s", l)
		}
		return nil
	})
}

// TestIngestQueueGroup: two nodes on one server take each request once.
func TestIngestQueueGroup(t *testing.T) {
	s := runServer(t, &server.Options{})
	a, b := &fakeInbox{}, &fakeInbox{}
	testIngest(t, connectClient(t, s.ClientURL()), IngestConfig{}, a, nil)
	testIngest(t, connectClient(t, s.ClientURL()), IngestConfig{}, b, nil)
	bot := connectClient(t, s.ClientURL())
	const n = 40
	for i := range n {
		req := koreanPost()
		req.IdempotencyKey = fmt.Sprintf("k%d", i)
		ask(t, bot, oncallPost, mustJSON(t, req))
	}
	seen := map[string]int{}
	for _, c := range append(a.postCalls(), b.postCalls()...) {
		seen[c.Key]++
	}
	for i := range n {
		if k := fmt.Sprintf("k%d", i); seen[k] != 1 {
			t.Errorf("request %s was handled %d times, want once", k, seen[k])
		}
	}
	if len(a.postCalls()) == 0 || len(b.postCalls()) == 0 {
		t.Errorf("one node took every request (%d and %d): the queue group did not spread them", len(a.postCalls()), len(b.postCalls()))
	}
}

// TestIngestCredentials: the NATS server's permissions bind each bot's
// subject to its credentials, so a bot posts as itself alone; relay's own
// connection (made by Connect with a password) subscribes, and a node
// refuses to start where the server forbids a subject. No password
// reaches the logs or errors.
func TestIngestCredentials(t *testing.T) {
	const relayPW, oncallPW, pagerPW, limitedPW = "pw-Ingest-Q7x", "pw-Bot-3Zk", "pw-Pager-5Wq", "pw-Limited-8Hd"
	bot := func(name, pw string, publish ...string) *server.User {
		return &server.User{Username: name, Password: pw, Permissions: &server.Permissions{
			Publish:   &server.SubjectPermission{Allow: publish},
			Subscribe: &server.SubjectPermission{Allow: []string{"_INBOX.>"}},
		}}
	}
	s := runServer(t, &server.Options{Users: []*server.User{
		{Username: "relay", Password: relayPW, Permissions: &server.Permissions{
			Subscribe: &server.SubjectPermission{Allow: []string{"relay.post.*", "relay.ack.*"}},
			Publish:   &server.SubjectPermission{Allow: []string{"relay.incident.>"}},
			Response:  &server.ResponsePermission{MaxMsgs: 1, Expires: time.Minute},
		}},
		bot(oncallBot, oncallPW, oncallPost),
		bot("pager", pagerPW, pagerPost, pagerAck),
		{Username: "limited", Password: limitedPW, Permissions: &server.Permissions{
			Subscribe: &server.SubjectPermission{Allow: []string{"relay.post.*"}},
		}},
	}})
	logs := &testkit.LogBuffer{}
	connect := func(user, pw string) *natsgo.Conn {
		cfg := testConfig(s.ClientURL())
		cfg.User, cfg.Password = user, secretOf(pw)
		nc, err := Connect(&cfg, Options{Logger: slog.New(slog.NewTextHandler(logs, nil))})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(nc.Close)
		testkit.EventuallyNil(t, 5*time.Second, func() error {
			if st := nc.Status(); st != natsgo.CONNECTED {
				return fmt.Errorf("status %s", st)
			}
			return nil
		})
		return nc
	}
	inbox := &fakeInbox{}
	testIngest(t, connect("relay", relayPW), IngestConfig{}, inbox, logs)
	oncall, pager := connect(oncallBot, oncallPW), connect("pager", pagerPW)
	if reply := ask(t, oncall, oncallPost, mustJSON(t, koreanPost())); reply["id"] == nil {
		t.Errorf("post over authenticated connections: reply %v", reply)
	}
	if reply := ask(t, pager, pagerAck, []byte(`{"person":"kim","incident":"pangyo-fire"}`)); reply["acked"] == nil {
		t.Errorf("ack over authenticated connections: reply %v", reply)
	}

	// oncall-bot cannot send on pager's subjects: the server refuses, and
	// relay never sees the requests.
	for _, subject := range []string{pagerPost, pagerAck} {
		if err := oncall.Publish(subject, mustJSON(t, koreanPost())); err != nil {
			t.Fatal(err)
		}
		testkit.EventuallyNil(t, 5*time.Second, func() error {
			if err := oncall.LastError(); err == nil || !strings.Contains(err.Error(), `Permissions Violation for Publish to "`+subject+`"`) {
				return fmt.Errorf("last error %v, want the server's refusal of %s", err, subject)
			}
			return nil
		})
	}
	if calls := inbox.postCalls(); len(calls) != 1 || calls[0].Author != oncallBot {
		t.Errorf("inbox got posts %+v, want oncall-bot's one", calls)
	}
	if n := len(inbox.ackCalls()); n != 1 {
		t.Errorf("inbox got %d acks, want pager's one", n)
	}

	_, err := Subscribe(t.Context(), connect("limited", limitedPW), withBots(IngestConfig{}), inbox, testOptions(logs, nil))
	if err == nil || !strings.Contains(err.Error(), "does not allow subscribing to relay.ack.*") {
		t.Fatalf("Subscribe without permission: %v, want a refusal naming relay.ack.*", err)
	}
	all := logs.String() + "\n" + err.Error()
	for _, pw := range []string{relayPW, oncallPW, pagerPW, limitedPW} {
		if strings.Contains(all, pw) {
			t.Errorf("password %q leaked:\n%s", pw, all)
		}
	}
	if !strings.Contains(all, "nats ingest subscribed") || !strings.Contains(all, "Permissions Violation") {
		t.Errorf("the scenario did not run as expected:\n%s", all)
	}
}

// TestIngestCloseDrains: requests already delivered to a node, under way
// or still queued behind it, are answered; after Close nobody takes
// requests.
func TestIngestCloseDrains(t *testing.T) {
	s := runServer(t, &server.Options{})
	var once sync.Once
	started, release := make(chan struct{}), make(chan struct{})
	inbox := &fakeInbox{post: func(context.Context, *relay.Post) error {
		once.Do(func() { close(started) })
		<-release
		return nil
	}}
	in, err := Subscribe(t.Context(), connectClient(t, s.ClientURL()), withBots(IngestConfig{Concurrency: 1}), inbox, Options{})
	if err != nil {
		t.Fatal(err)
	}
	bot := connectClient(t, s.ClientURL())
	const n = 3
	replies := make(chan []byte, n)
	for i := range n {
		req := koreanPost()
		req.IdempotencyKey = fmt.Sprint(i)
		go func() {
			msg, err := bot.Request(oncallPost, mustJSON(t, req), 5*time.Second)
			if err != nil {
				replies <- []byte(err.Error())
				return
			}
			replies <- msg.Data
		}()
	}
	<-started
	testkit.EventuallyNil(t, 5*time.Second, func() error {
		if held := len(in.held); held != n {
			return fmt.Errorf("%d requests held, want %d: one under way, the others waiting for its slot", held, n)
		}
		return nil
	})
	post := in.subs[0]
	closed := make(chan error, 1)
	go func() { closed <- in.Close(t.Context()) }()
	testkit.EventuallyNil(t, 5*time.Second, func() error {
		if post.IsValid() && !post.IsDraining() {
			return errors.New("not draining")
		}
		return nil
	})
	select {
	case err := <-closed:
		t.Fatalf("Close returned (%v) while requests were under way", err)
	default:
	}
	close(release)
	if err := <-closed; err != nil {
		t.Errorf("Close: %v", err)
	}
	for range n {
		if got := <-replies; !bytes.Contains(got, []byte(`"replayed":false`)) {
			t.Errorf("a request taken before Close got %s, want its answer", got)
		}
	}
	if _, err := bot.Request(oncallPost, mustJSON(t, koreanPost()), 5*time.Second); !errors.Is(err, natsgo.ErrNoResponders) {
		t.Errorf("request after Close: %v, want no responders", err)
	}
	if err := in.Close(t.Context()); err != nil {
		t.Errorf("second Close: %v", err)
	}
}

// TestIngestCloseDeadline: when Close's context ends first, requests under
// way are cancelled and answered unavailable.
func TestIngestCloseDeadline(t *testing.T) {
	s := runServer(t, &server.Options{})
	started := make(chan struct{})
	inbox := &fakeInbox{post: func(ctx context.Context, _ *relay.Post) error {
		close(started)
		<-ctx.Done()
		return ctx.Err()
	}}
	in, err := Subscribe(t.Context(), connectClient(t, s.ClientURL()), withBots(IngestConfig{}), inbox, Options{})
	if err != nil {
		t.Fatal(err)
	}
	bot := connectClient(t, s.ClientURL())
	replies := make(chan []byte, 1)
	go func() {
		msg, err := bot.Request(oncallPost, mustJSON(t, koreanPost()), 5*time.Second)
		if err != nil {
			replies <- []byte(err.Error())
			return
		}
		replies <- msg.Data
	}()
	<-started
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if err := in.Close(ctx); !errors.Is(err, context.Canceled) {
		t.Errorf("Close = %v, want the context's error", err)
	}
	if got := <-replies; !bytes.Contains(got, []byte(`"code":"unavailable"`)) {
		t.Errorf("reply = %s, want unavailable", got)
	}
}

// TestIngestBeforeServer: an Ingest on a connection that has not reached
// its server yet takes requests once it has.
func TestIngestBeforeServer(t *testing.T) {
	port := testkit.FreePort(t, "127.0.0.1")
	nc, err := Connect(new(testConfig(natsURL(port))), Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	logs := &testkit.LogBuffer{}
	in := testIngest(t, nc, IngestConfig{}, &fakeInbox{}, logs)
	if !strings.Contains(logs.String(), "not connected yet") {
		t.Errorf("no warning that the ingest waits for its server:\n%s", logs)
	}
	s := runServer(t, &server.Options{Port: port})
	bot := connectClient(t, s.ClientURL())
	testkit.EventuallyNil(t, 5*time.Second, func() error {
		msg, err := bot.Request(pagerAck, []byte(`{"person":"kim","incident":"a"}`), time.Second)
		if err != nil {
			return err
		}
		if !bytes.Contains(msg.Data, []byte(`"acked"`)) {
			return fmt.Errorf("reply %s", msg.Data)
		}
		return nil
	})

	// Close during an outage does not wait for a server to drain with.
	stopServer(s)
	if err := in.Close(t.Context()); err != nil {
		t.Errorf("Close while the server is gone: %v", err)
	}
}

// TestIngestCloseAfterConnection: Close returns at once when the
// connection is already gone.
func TestIngestCloseAfterConnection(t *testing.T) {
	s := runServer(t, &server.Options{})
	nc := connectClient(t, s.ClientURL())
	in, err := Subscribe(t.Context(), nc, withBots(IngestConfig{}), &fakeInbox{}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	nc.Close()
	if err := in.Close(t.Context()); err != nil {
		t.Errorf("Close: %v", err)
	}
}
