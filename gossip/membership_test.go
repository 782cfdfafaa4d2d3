package gossip

import (
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/oob-relay/relay/internal/testkit"
)

func TestThreeMembersJoinThroughSeeds(t *testing.T) {
	reg := prometheus.NewRegistry()
	a := startNode(t, "a", func(o *Options) { o.Registerer = reg })
	b := startNode(t, "b", seededBy(a))
	c := startNode(t, "c", seededBy(a))
	all := []string{"a", "b", "c"}
	waitAlive(t, all, a, b, c)

	for _, n := range []*node{a, b, c} {
		members := n.Members()
		if len(members) != 3 {
			t.Fatalf("%s sees %d members: %+v", n.LocalNode(), len(members), members)
		}
		for _, m := range members {
			peer := map[string]*node{"a": a, "b": b, "c": c}[m.Name]
			if m.State != StateAlive || m.Self != (m.Name == n.LocalNode()) || m.Addr != peer.LocalAddr() {
				t.Errorf("%s sees %+v; want alive at %s, self only for itself", n.LocalNode(), m, peer.LocalAddr())
			}
			if want := `{"api":"http://` + m.Name + `.test"}`; string(m.Meta) != want {
				t.Errorf("%s sees %s's metadata %q, want %q", n.LocalNode(), m.Name, m.Meta, want)
			}
		}
		// OnChange fired, and could read the membership from inside.
		testkit.Eventually(t, 5*time.Second, n.LocalNode()+"'s OnChange sees all three", func() bool {
			return slices.Equal(n.rec.lastChange(), all)
		})
	}
	if got := testutil.ToFloat64(a.metrics.members.WithLabelValues("alive")); got != 3 {
		t.Errorf("relay_gossip_members{state=alive} = %v, want 3", got)
	}
	if n, err := testutil.GatherAndCount(reg, "relay_gossip_members", "relay_gossip_join_failures_total"); err != nil || n != 4 {
		t.Errorf("registered series: %d, %v; want 3 member states and 1 join failure counter", n, err)
	}
}

// TestDatagramsReachOnDatagram: with OnDatagram set, what a member sends
// best effort arrives there, off OnMessage, and what it sends reliably
// still arrives in OnMessage.
func TestDatagramsReachOnDatagram(t *testing.T) {
	datagrams := &recorder{}
	a := startNode(t, "a", func(o *Options) { o.OnDatagram = datagrams.message })
	b := startNode(t, "b", seededBy(a))
	waitAlive(t, []string{"a", "b"}, a, b)
	testkit.Eventually(t, 5*time.Second, "a receives b's datagram in OnDatagram", func() bool {
		if err := b.SendBestEffort("a", []byte("ping")); err != nil {
			t.Fatal(err)
		}
		return datagrams.hasMessage("b", "ping")
	})
	if err := b.SendReliable("a", []byte("stream")); err != nil {
		t.Fatal(err)
	}
	testkit.Eventually(t, 5*time.Second, "a receives b's reliable message in OnMessage", func() bool {
		return a.rec.hasMessage("b", "stream")
	})
	if a.rec.hasMessage("b", "ping") || datagrams.hasMessage("b", "stream") {
		t.Error("a datagram reached OnMessage, or a reliable message OnDatagram")
	}
}

func TestSendReachesOnMessage(t *testing.T) {
	a := startNode(t, "a", nil)
	b := startNode(t, "b", seededBy(a))
	waitAlive(t, []string{"a", "b"}, a, b)

	if err := a.SendReliable("b", []byte("불이야: 판교 데이터센터")); err != nil {
		t.Fatal(err)
	}
	testkit.Eventually(t, 5*time.Second, "b receives a's reliable message", func() bool {
		return b.rec.hasMessage("a", "불이야: 판교 데이터센터")
	})
	// Best effort is UDP and may be lost; on loopback it arrives, so retry
	// until it does rather than expect the first packet.
	testkit.Eventually(t, 5*time.Second, "a receives b's best-effort message", func() bool {
		if err := b.SendBestEffort("a", []byte("ping")); err != nil {
			t.Fatal(err)
		}
		return a.rec.hasMessage("b", "ping")
	})
	if got := testutil.ToFloat64(a.metrics.sent.WithLabelValues(modeReliable)); got != 1 {
		t.Errorf("reliable messages sent = %v, want 1", got)
	}
	if got := testutil.ToFloat64(b.metrics.received); got < 1 {
		t.Errorf("messages received = %v, want at least 1", got)
	}

	for _, tc := range []struct{ to, want string }{
		{"nobody", `"nobody" is not a known member`},
		{"a", `"a" is this node`},
	} {
		err := a.SendReliable(tc.to, []byte("x"))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("SendReliable(%q) = %v, want %q", tc.to, err, tc.want)
		}
	}
}

func TestStateExchangedWithSenderName(t *testing.T) {
	a := startNode(t, "a", func(o *Options) { o.Config.PushPullInterval = 100 * time.Millisecond })
	b := startNode(t, "b", seededBy(a))

	// The joiner merges the seed's state before Start returns; the seed
	// merges the joiner's state in its own goroutine.
	if !b.rec.hasState(received{from: "a", payload: "state of a", join: true}) {
		t.Errorf("b did not merge a's state on join: %+v", b.rec.states)
	}
	testkit.Eventually(t, 5*time.Second, "a merges b's state on join", func() bool {
		return a.rec.hasState(received{from: "b", payload: "state of b", join: true})
	})
	// Periodic anti-entropy: a starts a push/pull with b every 100 ms.
	testkit.Eventually(t, 5*time.Second, "b merges a's state in a periodic push/pull", func() bool {
		return b.rec.hasState(received{from: "a", payload: "state of a", join: false})
	})
}

func TestDeadAndLeftMembers(t *testing.T) {
	a := startNode(t, "a", nil)
	b := startNode(t, "b", seededBy(a))
	c := startNode(t, "c", seededBy(a))
	waitAlive(t, []string{"a", "b", "c"}, a, b, c)

	// Shut down without leaving: the others must find out by themselves.
	if err := c.Shutdown(); err != nil {
		t.Fatal(err)
	}
	for _, n := range []*node{a, b} {
		testkit.Eventually(t, 5*time.Second, n.LocalNode()+" declares c dead", func() bool {
			m, ok := memberOf(n, "c")
			return ok && m.State == StateDead
		})
	}
	waitAlive(t, []string{"a", "b"}, a, b)
	if err := c.SendReliable("a", []byte("x")); err == nil {
		t.Error("a shut down node sent a message")
	}
	if err := a.SendReliable("c", []byte("x")); err == nil || !strings.Contains(err.Error(), `member "c" is dead`) {
		t.Errorf("SendReliable to a dead member = %v", err)
	}

	if err := b.Leave(2 * time.Second); err != nil {
		t.Fatal(err)
	}
	if err := b.Shutdown(); err != nil {
		t.Fatal(err)
	}
	testkit.Eventually(t, 5*time.Second, "a sees b left", func() bool {
		m, ok := memberOf(a, "b")
		return ok && m.State == StateLeft
	})
	if got := a.Alive(); !slices.Equal(got, []string{"a"}) {
		t.Errorf("a sees %v alive, want only itself", got)
	}
}

func TestStartAloneWhenNoSeedAnswers(t *testing.T) {
	port := testkit.FreePort(t, "127.0.0.1")
	a := startNode(t, "a", func(o *Options) {
		o.Config.Seeds = []string{"127.0.0.1:" + strconv.Itoa(port)}
	})
	if got := a.Alive(); !slices.Equal(got, []string{"a"}) {
		t.Errorf("alive = %v, want only a", got)
	}
	if got := testutil.ToFloat64(a.metrics.joinFailure); got < 1 {
		t.Errorf("join failures = %v, want at least 1", got)
	}
	// It keeps trying: a node that appears at the seed address is joined.
	b := startNode(t, "b", func(o *Options) { o.Config.Bind = "127.0.0.1:" + strconv.Itoa(port) })
	waitAlive(t, []string{"a", "b"}, a, b)
}

func TestNewRefusesBadOptions(t *testing.T) {
	for _, tc := range []struct {
		name   string
		mutate func(*Options)
		want   string
	}{
		{"no name", func(o *Options) { o.Name = "" }, "a node name is required"},
		{"long meta", func(o *Options) { o.Meta = make([]byte, 513) }, "metadata is 513 bytes long"},
		{"no keys outside dev", func(o *Options) { o.Config.Keys = nil }, "keys: is required"},
		{"no label outside dev", func(o *Options) { o.Config.Label = "" }, "label: is required"},
		{"unresolved keys", func(o *Options) { o.Config.Keys, o.Config.KeysEnv = nil, "RELAY_GOSSIP_KEYS" },
			"call ResolveSecrets before New"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := newNode("a", tc.mutate)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("New = %v, want %q", err, tc.want)
			}
		})
	}
	n, err := newNode("a", func(o *Options) { o.Dev, o.Config.Keys, o.Config.Label = true, nil, "" })
	if err != nil {
		t.Errorf("dev mode without keys and label: %v", err)
	} else {
		_ = n.Shutdown()
	}
}

func TestRegistererConflict(t *testing.T) {
	reg := prometheus.NewRegistry()
	startNode(t, "a", func(o *Options) { o.Registerer = reg })
	if _, err := newNode("b", func(o *Options) { o.Registerer = reg }); err == nil ||
		!strings.Contains(err.Error(), "register metrics") {
		t.Errorf("second node on one registry: %v", err)
	}
}
