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

	"github.com/oob-relay/relay/internal/testkit"
	"github.com/oob-relay/relay/relay"
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
	return relay.IdempotentMessageID(author, key), seen, nil
}

func (f *fakeInbox) Ack(ctx context.Context, a AckRequest) ([]string, error) {
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

// testIngest subscribes an Ingest that logs into logs and closes it when
// the test ends.
func testIngest(t *testing.T, nc *natsgo.Conn, cfg IngestConfig, inbox Inbox, logs io.Writer) *Ingest {
	t.Helper()
	if logs == nil {
		logs = io.Discard
	}
	log := slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	in, err := Subscribe(t.Context(), nc, cfg, inbox, log)
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
	kind := subject[strings.LastIndexByte(subject, '.')+1:]
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
	reply := ask(t, bot, "relay.post", mustJSON(t, req))
	wantID := relay.IdempotentMessageID(DefaultIngestAuthor, req.IdempotencyKey)
	if reply["id"] != wantID || reply["replayed"] != false {
		t.Fatalf("reply = %v, want id %s, not replayed", reply, wantID)
	}
	calls := inbox.postCalls()
	if len(calls) != 1 {
		t.Fatalf("inbox got %d posts, want 1", len(calls))
	}
	got := calls[0]
	if got.Post.Text != koreanText || got.Post.Incident != "pangyo-fire" || !slices.Equal(got.Post.To, req.To) ||
		got.Post.Severity != relay.SeverityCritical || got.Author != "nats" || got.Key != "alert-7f3a9c" {
		t.Errorf("inbox got %+v, want the request as sent, author nats", got)
	}

	// The same request again is replayed; another under the key is refused.
	reply = ask(t, bot, "relay.post", mustJSON(t, req))
	if reply["id"] != wantID || reply["replayed"] != true {
		t.Errorf("retry reply = %v, want id %s replayed", reply, wantID)
	}
	req.Text = "다른 내용"
	wantCode(t, ask(t, bot, "relay.post", mustJSON(t, req)), problem.CodeKeyReused, "already used")

	// A named author is passed on; it scopes the key.
	req.Author = "oncall-bot"
	reply = ask(t, bot, "relay.post", mustJSON(t, req))
	if want := relay.IdempotentMessageID("oncall-bot", req.IdempotencyKey); reply["id"] != want || inbox.postCalls()[3].Author != "oncall-bot" {
		t.Errorf("reply = %v, want id %s for author oncall-bot", reply, want)
	}
}

func TestIngestAck(t *testing.T) {
	inbox := &fakeInbox{}
	bot := ingestSetup(t, IngestConfig{}, inbox, nil)
	reply := ask(t, bot, "relay.ack", []byte(`{"person":"kim","incident":"pangyo-fire"}`))
	if acked, _ := reply["acked"].([]any); len(acked) != 1 || acked[0] != "01JC3Z7M8Q4X2V5T9R6N1B0K7D" {
		t.Errorf("reply = %v, want the acknowledged message", reply)
	}
	inbox.onAck(func(context.Context, AckRequest) ([]string, error) { return nil, nil })
	if reply := ask(t, bot, "relay.ack", []byte(`{"person":"kim","message":"01JC3Z7M8Q4X2V5T9R6N1B0K7D"}`)); fmt.Sprint(reply["acked"]) != "[]" {
		t.Errorf("reply = %v, want an empty list", reply)
	}
	inbox.onAck(func(context.Context, AckRequest) ([]string, error) {
		return nil, fmt.Errorf("message 01JC3Z7M8Q4X2V5T9R6N1B0K7E: %w", relay.ErrNotFound)
	})
	wantCode(t, ask(t, bot, "relay.ack", []byte(`{"person":"kim","message":"01JC3Z7M8Q4X2V5T9R6N1B0K7E"}`)), problem.CodeNotFound, "01JC3Z7M8Q4X2V5T9R6N1B0K7E: not found")
	wantCode(t, ask(t, bot, "relay.ack", []byte(`{"person":"kim","incident":"a","message":"b"}`)), problem.CodeInvalidField, "message: cannot be combined with incident")
	want := []AckRequest{{Person: "kim", Incident: "pangyo-fire"}, {Person: "kim", Message: "01JC3Z7M8Q4X2V5T9R6N1B0K7D"}, {Person: "kim", Message: "01JC3Z7M8Q4X2V5T9R6N1B0K7E"}}
	if got := inbox.ackCalls(); !slices.Equal(got, want) {
		t.Errorf("inbox got %+v, want %+v (the refused request never reaches it)", got, want)
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
		{"malformed", "relay.post", `{"incident":"a",`, problem.CodeInvalidJSON, "ends in the middle", nil},
		{"syntax", "relay.post", `{"incident" "a"}`, problem.CodeInvalidJSON, "malformed JSON at byte", nil},
		{"not an object", "relay.post", `["everyone"]`, problem.CodeInvalidJSON, "must be a JSON object, not an array", nil},
		{"empty", "relay.ack", ``, problem.CodeInvalidJSON, "request is empty", nil},
		{"not UTF-8", "relay.post", "{\"incident\":\"a\",\"text\":\"\xff\",\"to\":[\"everyone\"]}", problem.CodeInvalidJSON, "text: is not valid UTF-8", []string{"text"}},
		{"half a surrogate pair", "relay.post", `{"incident":"a","text":"t","to":["everyone","person:\udc00"]}`, problem.CodeInvalidJSON, "to[1]: is not valid UTF-8", []string{"to[1]"}},
		{"terminal escape", "relay.post", `{"incident":"a","text":"ok\u001b[2J","to":["everyone"]}`, problem.CodeInvalidField, "text: contains U+001B (a control character)", []string{"text"}},
		{"bidirectional override", "relay.post", `{"incident":"a","text":"결제 \u202egnp.exe","to":["everyone"]}`, problem.CodeInvalidField, "text: contains U+202E", []string{"text"}},
		{"trailing data", "relay.post", `{"incident":"a","text":"t","to":["everyone"]} {}`, problem.CodeInvalidJSON, "unexpected data after", nil},
		{"oversized", "relay.post", string(big), problem.CodeBodyTooLarge, "the limit is 262144", nil},
		{"unknown fields", "relay.post", `{"incident":"a","text":"t","to":["everyone"],"phone":"+8210","Text":"x"}`, problem.CodeUnknownField, "phone: is not a field", []string{"phone", "Text"}},
		{"twice", "relay.post", `{"incident":"a","text":"t","to":["everyone"],"text":"u"}`, problem.CodeInvalidJSON, "text: is given twice", []string{"text"}},
		{"wrong types", "relay.post", `{"incident":7,"text":"t","to":["everyone",1],"severity":null}`, problem.CodeInvalidJSON, "incident: must be a string, not a number", []string{"incident", "to[1]", "severity"}},
		{"invalid", "relay.post", `{"incident":"Pangyo Fire","text":" ","to":[],"severity":"urgent","channels":["sms","fax"],"author":"Bot"}`, problem.CodeInvalidField, `incident: "Pangyo Fire" must be`,
			[]string{"incident", "text", "to", "severity", "channels[1]", "author"}},
		{"long key", "relay.post", `{"incident":"a","text":"t","to":["everyone"],"idempotency_key":"` + strings.Repeat("k", 256) + `"}`, problem.CodeInvalidField, "idempotency_key: is 256 bytes", []string{"idempotency_key"}},
		{"ack without target", "relay.ack", `{"person":"kim"}`, problem.CodeInvalidField, "incident: is required unless message", []string{"incident"}},
		{"ack without person", "relay.ack", `{"incident":"a","message":"b"}`, problem.CodeInvalidField, "person: is required", []string{"person", "message"}},
		{"ack bad ids", "relay.ack", `{"person":"Kim","message":"a.b"}`, problem.CodeInvalidField, `person: "Kim" must be`, []string{"person", "message"}},
		{"ack unknown field", "relay.ack", `{"person":"kim","incident":"a","at":"now"}`, problem.CodeUnknownField, "at: is not a field; the fields are person, incident, message", []string{"at"}},
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
	e := wantCode(t, ask(t, bot, "relay.post", body), problem.CodeInvalidField, `to[1]: "person:lee" is not on the roster; channels[0]:`)
	if len(e["fields"].([]any)) != 2 {
		t.Errorf("fields = %v, want both", e["fields"])
	}

	inbox.onPost(func(context.Context, *relay.Post) error { return errors.New("bbolt: disk I/O error at page 4711") })
	e = wantCode(t, ask(t, bot, "relay.post", body), problem.CodeInternal, "the node's log has the cause")
	if strings.Contains(fmt.Sprint(e), "4711") {
		t.Errorf("the internal cause reached the client: %v", e)
	}
	if !strings.Contains(logs.String(), "page 4711") {
		t.Errorf("the internal cause is not in the log:\n%s", logs)
	}

	inbox.onPost(func(context.Context, *relay.Post) error { return &problem.Problem{Code: "made_up", Message: "x"} })
	wantCode(t, ask(t, bot, "relay.post", body), problem.CodeInternal, "")
}

func TestIngestTimeout(t *testing.T) {
	inbox := &fakeInbox{}
	inbox.post = func(ctx context.Context, _ *relay.Post) error {
		<-ctx.Done()
		return ctx.Err()
	}
	bot := ingestSetup(t, IngestConfig{Timeout: 50 * time.Millisecond}, inbox, nil)
	wantCode(t, ask(t, bot, "relay.post", mustJSON(t, koreanPost())), problem.CodeTimeout, "not done within 50ms and may still take effect; retry, a post with the same idempotency_key")
}

// TestIngestWithoutReply: a request with no reply subject is carried out,
// and a refused one is logged.
func TestIngestWithoutReply(t *testing.T) {
	logs := &testkit.LogBuffer{}
	inbox := &fakeInbox{}
	bot := ingestSetup(t, IngestConfig{}, inbox, logs)
	if err := bot.Publish("relay.post", mustJSON(t, koreanPost())); err != nil {
		t.Fatal(err)
	}
	if err := bot.Publish("relay.post", []byte(`{"incident":"a","text":"t"}`)); err != nil {
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
		ask(t, bot, "relay.post", mustJSON(t, req))
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

// TestIngestCredentials subscribes over a connection made by Connect with
// a password, and refuses to start where the server forbids the subjects.
// No password reaches the logs or errors.
func TestIngestCredentials(t *testing.T) {
	const relayPW, botPW, limitedPW = "pw-Ingest-Q7x", "pw-Bot-3Zk", "pw-Limited-8Hd"
	s := runServer(t, &server.Options{Users: []*server.User{
		{Username: "relay", Password: relayPW, Permissions: &server.Permissions{
			Subscribe: &server.SubjectPermission{Allow: []string{"relay.post", "relay.ack"}},
			Publish:   &server.SubjectPermission{Allow: []string{"relay.incident.>"}},
			Response:  &server.ResponsePermission{MaxMsgs: 1, Expires: time.Minute},
		}},
		{Username: "bot", Password: botPW, Permissions: &server.Permissions{
			Publish:   &server.SubjectPermission{Allow: []string{"relay.post", "relay.ack"}},
			Subscribe: &server.SubjectPermission{Allow: []string{"_INBOX.>"}},
		}},
		{Username: "limited", Password: limitedPW, Permissions: &server.Permissions{
			Subscribe: &server.SubjectPermission{Allow: []string{"relay.post"}},
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
	bot := connect("bot", botPW)
	if reply := ask(t, bot, "relay.post", mustJSON(t, koreanPost())); reply["id"] == nil {
		t.Errorf("post over authenticated connections: reply %v", reply)
	}
	if reply := ask(t, bot, "relay.ack", []byte(`{"person":"kim","incident":"pangyo-fire"}`)); reply["acked"] == nil {
		t.Errorf("ack over authenticated connections: reply %v", reply)
	}

	_, err := Subscribe(t.Context(), connect("limited", limitedPW), IngestConfig{}, inbox, slog.New(slog.NewTextHandler(logs, nil)))
	if err == nil || !strings.Contains(err.Error(), "does not allow subscribing to relay.ack") {
		t.Fatalf("Subscribe without permission: %v, want a refusal naming relay.ack", err)
	}
	all := logs.String() + "\n" + err.Error()
	for _, pw := range []string{relayPW, botPW, limitedPW} {
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
	in, err := Subscribe(t.Context(), connectClient(t, s.ClientURL()), IngestConfig{Concurrency: 1}, inbox, nil)
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
			msg, err := bot.Request("relay.post", mustJSON(t, req), 5*time.Second)
			if err != nil {
				replies <- []byte(err.Error())
				return
			}
			replies <- msg.Data
		}()
	}
	<-started
	post := in.subs[0]
	testkit.EventuallyNil(t, 5*time.Second, func() error {
		if p, _, _ := post.Pending(); p != n-1 {
			return fmt.Errorf("%d requests queued, want %d", p, n-1)
		}
		return nil
	})
	closed := make(chan error, 1)
	go func() { closed <- in.Close(t.Context()) }()
	testkit.EventuallyNil(t, 5*time.Second, func() error {
		if !post.IsDraining() {
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
	if _, err := bot.Request("relay.post", mustJSON(t, koreanPost()), 5*time.Second); !errors.Is(err, natsgo.ErrNoResponders) {
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
	in, err := Subscribe(t.Context(), connectClient(t, s.ClientURL()), IngestConfig{}, inbox, nil)
	if err != nil {
		t.Fatal(err)
	}
	bot := connectClient(t, s.ClientURL())
	replies := make(chan []byte, 1)
	go func() {
		msg, err := bot.Request("relay.post", mustJSON(t, koreanPost()), 5*time.Second)
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
		msg, err := bot.Request("relay.ack", []byte(`{"person":"kim","incident":"a"}`), time.Second)
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
	in, err := Subscribe(t.Context(), nc, IngestConfig{}, &fakeInbox{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	nc.Close()
	if err := in.Close(t.Context()); err != nil {
		t.Errorf("Close: %v", err)
	}
}
