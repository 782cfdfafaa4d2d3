package node_test

import (
	"context"
	"encoding/base64"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/oob-relay/relay/channels/twilio"
	"github.com/oob-relay/relay/channels/twilio/emulator"
	"github.com/oob-relay/relay/channels/twilio/emulator/emulatortest"
	"github.com/oob-relay/relay/internal/testkit"
	"github.com/oob-relay/relay/relay"
	"github.com/oob-relay/relay/relay/delivery"
	"github.com/oob-relay/relay/relay/node"
	"github.com/oob-relay/relay/relay/secret"
)

// The two Twilio accounts a rig sends through, in the node's order of
// preference. Each is served by an emulator of its own, so a fault
// scripted on one leaves the other untouched. Twilio's credentials are
// letters and digits only.
var rigAccounts = []struct {
	sms, voice string // provider names
	sid, token string
}{
	{"twilio-a", "twilio-voice-a", "AC0000000000000000000000000000000a", "tokenA0123456789abcdef0123456789a"},
	{"twilio-b", "twilio-voice-b", "AC0000000000000000000000000000000b", "tokenB0123456789abcdef0123456789b"},
}

// rigFrom is the number every rig account sends and calls from.
const rigFrom = "+15005550006"

// rigOptions shape a rig. Zero values take the defaults noted.
type rigOptions struct {
	// Accounts is how many of rigAccounts carry sms and voice; zero
	// means two.
	Accounts int
	People   []relay.Person
	// Deadline is every message's deadline; zero means three seconds.
	Deadline time.Duration
	// Workers, AttemptTimeout and Backoff go to node.Options as given:
	// zero values take the engine's defaults.
	Workers        int
	AttemptTimeout time.Duration
	Backoff        delivery.Backoff
	// Wrap, when set, stands in front of an emulator's API, to add faults
	// the emulator does not script by itself.
	Wrap func(*emulator.Emulator, http.Handler) http.Handler
	// TokenA, when set, is the auth token provider A is configured with,
	// in place of the one its emulator knows.
	TokenA string
	// Canaries are the node's provider canaries.
	Canaries []node.Canary
	// LogLevel is the level of the captured log; zero means Info. The
	// fault tests capture Debug, where the senders log every attempt.
	LogLevel slog.Level
}

// side is one Twilio account of a rig: its emulator, the server the
// emulator answers on, and the account's senders.
type side struct {
	em    *emulator.Emulator
	srv   *httptest.Server
	sms   *twilio.SMS
	voice *twilio.Voice

	downOnce sync.Once
}

// down takes the account's API off the network: new connections are
// refused, as when the provider's region is gone.
func (s *side) down() {
	s.downOnce.Do(func() {
		s.em.Close()
		s.srv.Close()
	})
}

// rig is a real node whose sms and voice go to Twilio emulators through
// the twilio senders, with receipts and key presses posted back to the
// node's webhooks on a local server, and everything the node, the senders
// and the webhooks log captured.
type rig struct {
	tb    testing.TB
	node  *node.Node
	sides []*side
	logs  *testkit.LogBuffer
	hist  *history
	reg   *prometheus.Registry
	// publicURL is where the node's webhooks are.
	publicURL string
	// secrets are the auth tokens configured, and their HTTP basic
	// credentials, none of which may reach a log.
	secrets []string
}

// startRig starts the emulators, the node and its webhooks, and stops
// them all when the test ends.
func startRig(tb testing.TB, opts rigOptions) *rig {
	tb.Helper()
	if opts.Accounts == 0 {
		opts.Accounts = 2
	}
	if opts.Deadline == 0 {
		opts.Deadline = 3 * time.Second
	}
	r := &rig{tb: tb, logs: &testkit.LogBuffer{}, hist: newHistory()}
	log := slog.New(slog.NewTextHandler(r.logs, &slog.HandlerOptions{Level: opts.LogLevel}))
	spec := emulatortest.Spec(tb)

	var providers []delivery.Provider
	var voices []delivery.Provider
	var tokens []secret.String
	for i, acct := range rigAccounts[:opts.Accounts] {
		s := &side{}
		// Status steps come emulator.DefaultCallbackDelay apart.
		em, err := emulator.New(emulator.Options{
			Spec:     spec,
			Accounts: map[string]string{acct.sid: acct.token},
			Seed:     uint64(i + 1),
		})
		if err != nil {
			tb.Fatal(err)
		}
		s.em = em
		var h http.Handler = em.Handler()
		if opts.Wrap != nil {
			h = opts.Wrap(em, h)
		}
		s.srv = httptest.NewServer(h)
		tb.Cleanup(func() {
			s.down()
			for _, v := range em.Violations() {
				tb.Errorf("%s: Twilio contract violation: %s", acct.sms, v)
			}
		})

		token := acct.token
		if i == 0 && opts.TokenA != "" {
			token = opts.TokenA
		}
		tokens = append(tokens, secret.New(acct.token))
		r.secrets = append(r.secrets, acct.token, token, base64.StdEncoding.EncodeToString([]byte(acct.sid+":"+token)))
		cfg := twilio.Config{AccountSID: acct.sid, AuthToken: secret.New(token), From: rigFrom, APIURL: s.srv.URL}
		if s.sms, err = twilio.New(cfg, twilio.Options{Logger: log}); err != nil {
			tb.Fatal(err)
		}
		if s.voice, err = twilio.NewVoice(cfg, twilio.Options{Logger: log}); err != nil {
			tb.Fatal(err)
		}
		tb.Cleanup(func() { s.sms.Close(); s.voice.Close() })
		providers = append(providers, delivery.Provider{Name: acct.sms, Channel: relay.ChannelSMS, Sender: s.sms})
		voices = append(voices, delivery.Provider{Name: acct.voice, Channel: relay.ChannelVoice, Sender: s.voice})
		r.sides = append(r.sides, s)
	}
	// The webhooks' address must be known before the node opens: it is
	// the node's public URL.
	web := httptest.NewUnstartedServer(nil)
	publicURL := "http://" + web.Listener.Addr().String()
	reg := prometheus.NewRegistry()
	n, err := node.Open(node.Options{
		Name:           "fault-1",
		DataDir:        tb.TempDir(),
		Providers:      append(providers, voices...),
		Deadline:       func(relay.Severity) time.Duration { return opts.Deadline },
		Workers:        opts.Workers,
		AttemptTimeout: opts.AttemptTimeout,
		Backoff:        opts.Backoff,
		PublicURL:      publicURL,
		Roster:         &relay.Roster{People: opts.People},
		Canaries:       opts.Canaries,
		Logger:         log,
		Registerer:     reg,
	})
	if err != nil {
		web.Listener.Close()
		tb.Fatal(err)
	}
	r.node, r.reg, r.publicURL = n, reg, publicURL
	n.Store().Observe(r.hist.observe)
	hk, err := twilio.NewHooks(twilio.HookOptions{Node: hooksNode{n}, PublicURL: publicURL, AuthTokens: tokens, Logger: log, Registerer: reg})
	if err != nil {
		web.Listener.Close()
		tb.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle(relay.WebhookPrefix, hk)
	web.Config.Handler = mux
	web.Start()
	tb.Cleanup(web.Close)
	tb.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := n.Close(ctx); err != nil {
			tb.Errorf("close node: %v", err)
		}
	})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := n.Start(ctx); err != nil {
		tb.Fatal(err)
	}
	return r
}

// hooksNode is the node as Twilio's webhooks see it.
type hooksNode struct{ *node.Node }

func (n hooksNode) Delivery(id string) (*relay.Delivery, error) { return n.Store().Delivery(id) }
func (n hooksNode) Message(id string) (*relay.Message, error)   { return n.Store().Message(id) }

// a and b are the rig's first and second accounts.
func (r *rig) a() *side { return r.sides[0] }
func (r *rig) b() *side { return r.sides[1] }

// post posts a critical message to people on one channel and returns it.
func (r *rig) post(ctx context.Context, text, channel string, people ...string) *relay.Message {
	r.tb.Helper()
	to := make([]string, len(people))
	for i, p := range people {
		to[i] = "person:" + p
	}
	acc, err := r.node.Post(ctx, &relay.Post{Incident: "idc-fire", Text: text, To: to,
		Severity: relay.SeverityCritical, Channels: []string{channel}}, node.Author{Name: "fault-test"}, "")
	if err != nil {
		r.tb.Fatal(err)
	}
	return acc.Message
}

// delivery reads a delivery's current state.
func (r *rig) delivery(id string) *relay.Delivery {
	r.tb.Helper()
	d, err := r.node.Store().Delivery(id)
	if err != nil {
		r.tb.Fatalf("delivery %s: %v", id, err)
	}
	return d
}

// requests counts the API requests every emulator received.
func (r *rig) requests() []int {
	out := make([]int, len(r.sides))
	for i, s := range r.sides {
		out[i] = s.em.Requests()
	}
	return out
}

// staleReceipts counts the status callbacks the webhooks took as stale:
// about an attempt other than the delivery's latest as the store had it.
func (r *rig) staleReceipts() int {
	return int(testkit.Metric(r.tb, r.reg, "relay_webhook_handled_total", "outcome", "stale"))
}

// checkLogs fails the test if a configured auth token, or the basic
// credentials made of it, appears in the captured log. It returns the log.
func (r *rig) checkLogs(tb testing.TB) string {
	tb.Helper()
	out := r.logs.String()
	for _, s := range r.secrets {
		if strings.Contains(out, s) {
			tb.Errorf("a Twilio auth token (or basic credentials made of it) appears in the node's log:\n%s", out)
			break
		}
	}
	return out
}

// history keeps every delivery change and acknowledgement the node's
// store committed, in commit order, and wakes waiters on each commit.
type history struct {
	mu      sync.Mutex
	changes map[string][]relay.DeliveryChange
	acks    []relay.Ack
	changed chan struct{}
}

func newHistory() *history {
	return &history{changes: map[string][]relay.DeliveryChange{}, changed: make(chan struct{})}
}

// observe is a store observer.
func (h *history) observe(events []relay.Event) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for i := range events {
		for _, c := range events[i].Deliveries {
			h.changes[c.ID] = append(h.changes[c.ID], c)
		}
		if a := events[i].Ack; a != nil {
			h.acks = append(h.acks, *a)
		}
	}
	close(h.changed)
	h.changed = make(chan struct{})
}

// of returns the changes recorded for a delivery.
func (h *history) of(id string) []relay.DeliveryChange {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]relay.DeliveryChange(nil), h.changes[id]...)
}

// all returns every change recorded, by delivery.
func (h *history) all() map[string][]relay.DeliveryChange {
	h.mu.Lock()
	defer h.mu.Unlock()
	out := make(map[string][]relay.DeliveryChange, len(h.changes))
	for id, cs := range h.changes {
		out[id] = append([]relay.DeliveryChange(nil), cs...)
	}
	return out
}

// ackCount returns how many acknowledgements were recorded.
func (h *history) ackCount() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.acks)
}

// wait blocks until cond reports true, checking it after every commit
// of the store, or fails with what describe says once ctx is done. cond
// runs without the history's lock, so it may read the store.
func (h *history) wait(ctx context.Context, cond func() bool, describe func() string) error {
	for {
		h.mu.Lock()
		changed := h.changed
		h.mu.Unlock()
		if cond() {
			return nil
		}
		select {
		case <-changed:
		case <-ctx.Done():
			return fmt.Errorf("%s: %w", describe(), ctx.Err())
		}
	}
}

// rigPerson returns a person reached on one channel, with a Korean name.
func rigPerson(i int, channel string) relay.Person {
	return relay.Person{
		ID:       fmt.Sprintf("p%04d", i),
		Name:     fmt.Sprintf("직원 %d", i),
		Phone:    fmt.Sprintf("+8210%08d", 10000000+i),
		Channels: []string{channel},
		Lang:     "ko",
	}
}

// settleMessage waits until each delivery is sent and its message has
// reached a final status at the emulator.
func settleMessage(ctx context.Context, t *testing.T, r *rig, ids []string) {
	t.Helper()
	for _, d := range waitSent(ctx, t, r, ids) {
		em := r.side(d.Provider).em
		if _, err := em.WaitMessage(ctx, d.ProviderID, func(m emulator.Message) bool { return emulator.Final(m.Status) }); err != nil {
			t.Fatalf("message %s never ended at the emulator: %v", d.ProviderID, err)
		}
	}
}

// settleCall waits until each delivery is sent and its call has ended.
func settleCall(ctx context.Context, t *testing.T, r *rig, ids []string) {
	t.Helper()
	for _, d := range waitSent(ctx, t, r, ids) {
		em := r.side(d.Provider).em
		if _, err := em.WaitCall(ctx, d.ProviderID, func(c emulator.Call) bool { return emulator.Final(c.Status) }); err != nil {
			t.Fatalf("call %s never ended at the emulator: %v", d.ProviderID, err)
		}
	}
}

// settleAck waits until the call has ended and an acknowledgement is
// recorded.
func settleAck(ctx context.Context, t *testing.T, r *rig, ids []string) {
	t.Helper()
	settleCall(ctx, t, r, ids)
	if err := r.hist.wait(ctx, func() bool { return r.hist.ackCount() > 0 },
		func() string { return "no acknowledgement recorded" }); err != nil {
		t.Fatal(err)
	}
}

// waitSent waits until every delivery is settled with a provider id.
func waitSent(ctx context.Context, t *testing.T, r *rig, ids []string) []*relay.Delivery {
	t.Helper()
	err := r.hist.wait(ctx, func() bool {
		return !slices.ContainsFunc(ids, func(id string) bool {
			d := r.delivery(id)
			return !d.Status.Settled() || d.ProviderID == ""
		})
	}, func() string { return "deliveries not sent: " + describe(deliveries(r, ids)) })
	if err != nil {
		t.Fatal(err)
	}
	return deliveries(r, ids)
}

// describe lists deliveries for a failure message.
func describe(ds []*relay.Delivery) string {
	var b strings.Builder
	for _, d := range ds {
		fmt.Fprintf(&b, "\n  %s: %s via %s (%s) attempt %d, reason %q, code %q, error %q",
			d.ID, d.Status, d.Provider, d.ProviderID, d.Attempts, d.Reason, d.Code, d.Error)
	}
	return b.String()
}

func deliveries(r *rig, ids []string) []*relay.Delivery {
	out := make([]*relay.Delivery, len(ids))
	for i, id := range ids {
		out[i] = r.delivery(id)
	}
	return out
}

// side returns the account of a provider name (sms or voice).
func (r *rig) side(provider string) *side {
	for i, a := range rigAccounts[:len(r.sides)] {
		if provider == a.sms || provider == a.voice {
			return r.sides[i]
		}
	}
	r.tb.Fatalf("no account carries provider %q", provider)
	return nil
}

func findMessage(em *emulator.Emulator, sid string) (emulator.Message, bool) {
	for _, m := range em.Messages() {
		if m.SID == sid {
			return m, true
		}
	}
	return emulator.Message{}, false
}

func findCall(em *emulator.Emulator, sid string) (emulator.Call, bool) {
	for _, c := range em.Calls() {
		if c.SID == sid {
			return c, true
		}
	}
	return emulator.Call{}, false
}
