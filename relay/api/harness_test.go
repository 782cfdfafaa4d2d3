package api_test

import (
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	natsgo "github.com/nats-io/nats.go"
	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/goleak"

	"github.com/oob-relay/relay/channels/email"
	"github.com/oob-relay/relay/channels/email/mailsink"
	relaynats "github.com/oob-relay/relay/channels/nats"
	"github.com/oob-relay/relay/internal/testkit"
	"github.com/oob-relay/relay/relay"
	"github.com/oob-relay/relay/relay/api"
	"github.com/oob-relay/relay/relay/delivery"
	"github.com/oob-relay/relay/relay/node"
	"github.com/oob-relay/relay/relay/secret"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// API tokens. They are long and distinctive so a leak into a log line or
// an answer cannot hide.
const (
	adminToken  = "relay-admin-token-7c1e9f3a5b"
	botToken    = "relay-bot-token-2d8a6e0c4f"
	otherToken  = "relay-bot-token-other-9b3f1d7e"
	viewerToken = "relay-viewer-token-5a0c8e2b6d"
	wrongToken  = "relay-wrong-token-1f4b7c0a9e"
)

// Token names: authors of posts and the names in logs.
const (
	adminName  = "incident-commander"
	botName    = "alert-bot"
	otherName  = "deploy-bot"
	viewerName = "dashboard"
)

const (
	nodeName = "seoul-1"
	incident = "db-outage"
	koText   = "DB 장애: 결제 지연"
	mailFrom = "relay 알림 <relay@example.com>"
)

// unlimited lifts the request rates, which tests that read or post
// as fast as they can would reach; the wait after wrong tokens stays.
var unlimited = api.Limits{PerAddress: api.NoLimit, PerToken: api.NoLimit}

var testTokens = []api.Token{
	{Name: adminName, Role: relay.RoleAdmin, Secret: secret.New(adminToken)},
	{Name: botName, Role: relay.RoleBot, Secret: secret.New(botToken)},
	{Name: otherName, Role: relay.RoleBot, Secret: secret.New(otherToken), AnswerFor: []string{"person:lee"}},
	{Name: viewerName, Role: relay.RoleViewer, Secret: secret.New(viewerToken)},
}

// baseRoster has two people reached by email (one reads Korean, one
// English), one reachable only by SMS, which the test node has no
// provider for, and a group of the first two.
func baseRoster() *relay.Roster {
	return &relay.Roster{
		People: []relay.Person{
			{ID: "kim", Name: "김민준", Email: "kim@example.com"},
			{ID: "lee", Name: "Lee Seo-yeon", Email: "lee@example.com", Lang: "en"},
			{ID: "park", Name: "박지훈", Phone: "+821012345678"},
		},
		Groups: []relay.Group{
			{ID: "db-oncall", Name: "DB 당직", Members: []string{"kim", "lee"}},
		},
	}
}

// harness is one relay node behind its HTTP API, delivering email to an
// SMTP sink over STARTTLS and broadcasts to an embedded NATS server, with
// a client that checks every exchange against openapi.yaml.
type harness struct {
	node   *node.Node
	url    string
	client *http.Client
	wire   *checkedTransport
	sink   *mailsink.Sink
	events *natsgo.Subscription
	subs   *natsgo.Conn
	logs   *testkit.LogBuffer
	log    *slog.Logger
}

func newHarness(t *testing.T) *harness {
	t.Helper()
	h := &harness{logs: &testkit.LogBuffer{}}
	log := slog.New(slog.NewTextHandler(h.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	h.log = log

	natsURL := startNATS(t)
	nc, err := natsgo.Connect(natsURL)
	if err != nil {
		t.Fatalf("nats subscriber: %v", err)
	}
	t.Cleanup(nc.Close)
	h.subs = nc
	if h.events, err = nc.SubscribeSync(relaynats.Subject(relaynats.DefaultSubjectPrefix, "*")); err != nil {
		t.Fatal(err)
	}
	if err := nc.Flush(); err != nil {
		t.Fatal(err)
	}

	cert, err := mailsink.SelfSigned()
	if err != nil {
		t.Fatal(err)
	}
	h.sink, err = mailsink.Start(mailsink.Options{TLS: cert.Server, Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { h.sink.Close() })
	mailer, err := email.New(email.Config{Address: h.sink.Addr(), From: mailFrom, Timeout: 5 * time.Second},
		email.Options{Logger: log, RootCAs: cert.Pool})
	if err != nil {
		t.Fatal(err)
	}

	natsCfg := relaynats.Config{URLs: []string{natsURL}, ConnectTimeout: time.Second,
		ReconnectWait: 10 * time.Millisecond, ReconnectWaitMax: 50 * time.Millisecond}
	pub, err := relaynats.New(natsCfg, relaynats.Options{Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pub.Close)

	reg := prometheus.NewRegistry()
	h.node, err = node.Open(node.Options{
		Name:    nodeName,
		DataDir: t.TempDir(),
		Providers: []delivery.Provider{
			{Name: "smtp-sink", Channel: relay.ChannelEmail, Sender: mailer},
			{Name: "nats-local", Channel: relay.ChannelNATS, Sender: pub},
		},
		Deadline:       func(relay.Severity) time.Duration { return time.Minute },
		AttemptTimeout: 5 * time.Second,
		Backoff:        delivery.Backoff{Initial: 20 * time.Millisecond, Max: 200 * time.Millisecond, Multiplier: 2},
		Roster:         baseRoster(),
		Logger:         log,
		Registerer:     reg,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := h.node.Close(ctx); err != nil {
			t.Errorf("close node: %v", err)
		}
	})
	if err := h.node.Start(context.Background()); err != nil {
		t.Fatal(err)
	}

	h.url = h.serve(t, api.Options{Node: h.node, Tokens: testTokens, Gatherer: reg, Registerer: reg, Logger: log, Limits: unlimited,
		MaxRosterBytes: testMaxRosterBytes})
	base := &http.Transport{}
	t.Cleanup(base.CloseIdleConnections)
	h.wire = &checkedTransport{t: t, spec: specFor(t), base: base}
	h.client = &http.Client{Transport: h.wire, Timeout: 10 * time.Second}
	return h
}

// testMaxRosterBytes bounds rosters in the harness: small enough that
// the oversized roster is sent in well under the client's timeout.
const testMaxRosterBytes = 2 << 20

// serve starts an HTTP server for an API over opts and returns its URL.
func (h *harness) serve(t *testing.T, opts api.Options) string {
	t.Helper()
	a, err := api.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(a)
	t.Cleanup(srv.Close)
	return srv.URL
}

// startNATS starts an embedded nats-server on a free loopback port.
func startNATS(t *testing.T) string {
	t.Helper()
	s, err := server.NewServer(&server.Options{Host: "127.0.0.1", Port: -1, NoLog: true, NoSigs: true})
	if err != nil {
		t.Fatalf("nats-server: %v", err)
	}
	go s.Start()
	if !s.ReadyForConnections(5 * time.Second) {
		s.Shutdown()
		t.Fatal("nats-server did not start")
	}
	t.Cleanup(func() {
		s.Shutdown()
		s.WaitForShutdown()
	})
	return s.ClientURL()
}

// pendingEvents returns how many NATS events wait unread. Every event the
// server took before the call is counted: the server queues it for the
// subscriber ahead of the answer to the flush.
func (h *harness) pendingEvents(t testing.TB) int {
	t.Helper()
	if err := h.subs.Flush(); err != nil {
		t.Fatal(err)
	}
	n, _, err := h.events.Pending()
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// state is what the node has stored, to show that a refused request
// changed nothing: incidents (with their message counts), the roster and
// the high marks of the event log, which any write moves.
type state struct {
	incidents []relay.Incident
	roster    *relay.Roster
	marks     map[string]uint64
}

func (h *harness) state(t testing.TB) state {
	t.Helper()
	st := h.node.Store()
	incs, err := st.Incidents()
	if err != nil {
		t.Fatal(err)
	}
	ros, _, err := st.Roster()
	if err != nil {
		t.Fatal(err)
	}
	marks, err := st.Marks()
	if err != nil {
		t.Fatal(err)
	}
	return state{incs, ros, marks}
}

func (h *harness) unchanged(t testing.TB, before state) {
	t.Helper()
	after := h.state(t)
	if !reflect.DeepEqual(before.incidents, after.incidents) {
		t.Errorf("incidents changed:\nbefore %+v\nafter  %+v", before.incidents, after.incidents)
	}
	if !reflect.DeepEqual(before.roster, after.roster) {
		t.Errorf("roster changed:\nbefore %+v\nafter  %+v", before.roster, after.roster)
	}
	if !reflect.DeepEqual(before.marks, after.marks) {
		t.Errorf("event log grew: before %v, after %v", before.marks, after.marks)
	}
}

// messages counts the messages of every incident.
func (h *harness) messages(t testing.TB) int {
	t.Helper()
	incs, err := h.node.Store().Incidents()
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, inc := range incs {
		n += inc.Messages
	}
	return n
}

// logLines returns the node's log so far, one line each.
func (h *harness) logLines() []string {
	return strings.Split(strings.TrimSpace(h.logs.String()), "\n")
}
