package gossip

import (
	"context"
	"encoding/base64"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/oob-relay/relay/internal/testkit"
	"github.com/oob-relay/relay/relay/secret"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// Keys made of printable bytes, so that a test can look for the raw key as
// well as its base64 form.
const (
	rawKey      = "relay-test-key-0123456789abcdef!"
	rawOtherKey = "relay-other-key-0123456789abcdef"
	rawNewKey   = "relay-new-key-0123456789abcdefgh"
	testLabel   = "relay-test"
)

var (
	testKey  = base64.StdEncoding.EncodeToString([]byte(rawKey))
	otherKey = base64.StdEncoding.EncodeToString([]byte(rawOtherKey))
	newKey   = base64.StdEncoding.EncodeToString([]byte(rawNewKey))
)

// testConfig is a valid LAN configuration on a free loopback port.
func testConfig() Config {
	return Config{
		Bind:           "127.0.0.1:0",
		Keys:           []secret.String{secret.New(testKey)},
		Label:          testLabel,
		RejoinInterval: 100 * time.Millisecond,
	}
}

// received is one call of OnMessage or MergeState.
type received struct {
	from    string
	payload string
	join    bool
}

// recorder records what a node's hooks receive.
type recorder struct {
	mu      sync.Mutex
	msgs    []received
	states  []received
	changes [][]string // Alive() as seen from each OnChange call
}

func (r *recorder) message(from string, payload []byte) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.msgs = append(r.msgs, received{from: from, payload: string(payload)})
}

func (r *recorder) merge(from string, state []byte, join bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.states = append(r.states, received{from: from, payload: string(state), join: join})
}

func (r *recorder) hasMessage(from, payload string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Contains(r.msgs, received{from: from, payload: payload})
}

func (r *recorder) hasState(want received) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Contains(r.states, want)
}

func (r *recorder) messagesContaining(s string) []received {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []received
	for _, m := range r.msgs {
		if strings.Contains(m.payload, s) {
			out = append(out, m)
		}
	}
	return out
}

func (r *recorder) lastChange() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.changes) == 0 {
		return nil
	}
	return r.changes[len(r.changes)-1]
}

// logBuffer collects a node's logs.
type logBuffer struct{ testkit.LogBuffer }

// rejections counts the packets and streams memberlist refused.
func (b *logBuffer) rejections() int {
	s := b.String()
	n := 0
	for _, p := range []string{"failed to receive", "unacceptable label", "Decrypt packet failed"} {
		n += strings.Count(s, p)
	}
	return n
}

// node is a started Membership with what its hooks and logger received.
type node struct {
	*Membership
	rec  *recorder
	logs *logBuffer
}

// startNode starts a member named name with testConfig, changed by
// mutate, and shuts it down when the test ends.
func startNode(t testing.TB, name string, mutate func(*Options)) *node {
	t.Helper()
	n, err := newNode(name, mutate)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = n.Shutdown() })
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := n.Start(ctx); err != nil {
		t.Fatalf("start %s: %v", name, err)
	}
	return n
}

func newNode(name string, mutate func(*Options)) (*node, error) {
	n := &node{rec: &recorder{}, logs: &logBuffer{}}
	opts := Options{
		Name:       name,
		Config:     testConfig(),
		Meta:       fmt.Appendf(nil, `{"api":"http://%s.test"}`, name),
		Logger:     slog.New(slog.NewTextHandler(n.logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
		OnMessage:  n.rec.message,
		LocalState: func(join bool) []byte { return []byte("state of " + name) },
		MergeState: n.rec.merge,
		OnChange: func() {
			alive := n.Alive()
			n.rec.mu.Lock()
			n.rec.changes = append(n.rec.changes, alive)
			n.rec.mu.Unlock()
		},
	}
	if mutate != nil {
		mutate(&opts)
	}
	m, err := New(opts)
	if err != nil {
		return nil, err
	}
	n.Membership = m
	return n, nil
}

// seededBy makes a node join seeds.
func seededBy(seeds ...*node) func(*Options) {
	return func(o *Options) {
		for _, s := range seeds {
			o.Config.Seeds = append(o.Config.Seeds, s.LocalAddr())
		}
	}
}

// waitAlive waits until every node sees exactly want alive.
func waitAlive(t testing.TB, want []string, nodes ...*node) {
	t.Helper()
	for _, n := range nodes {
		testkit.Eventually(t, 5*time.Second, fmt.Sprintf("%s sees %v alive", n.LocalNode(), want), func() bool {
			return slices.Equal(n.Alive(), want)
		})
	}
}

// memberOf returns the member named name as n sees it.
func memberOf(n *node, name string) (Member, bool) {
	for _, m := range n.Members() {
		if m.Name == name {
			return m, true
		}
	}
	return Member{}, false
}
