package gossip

import (
	"fmt"
	"net"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/memberlist"

	"github.com/oob-relay/relay/internal/testkit"
	"github.com/oob-relay/relay/relay/secret"
)

// nodeAt is the memberlist address of n, for sending around Membership's
// checks as an intruder would.
func nodeAt(t *testing.T, n *node) *memberlist.Node {
	t.Helper()
	host, port, err := splitHostPort(n.LocalAddr())
	if err != nil {
		t.Fatal(err)
	}
	return &memberlist.Node{Name: n.LocalNode(), Addr: net.ParseIP(host), Port: uint16(port)}
}

// waitRejection runs act and waits until target's memberlist has refused
// another packet or stream.
func waitRejection(t *testing.T, target *node, what string, act func()) {
	t.Helper()
	before := target.logs.rejections()
	act()
	testkit.Eventually(t, 5*time.Second, target.LocalNode()+" refuses "+what, func() bool {
		return target.logs.rejections() > before
	})
}

func TestOutsidersCannotJoinOrInject(t *testing.T) {
	for _, tc := range []struct {
		name   string
		mutate func(*Options)
	}{
		{"wrong key", func(o *Options) { o.Config.Keys = []secret.String{secret.New(otherKey)} }},
		{"wrong label", func(o *Options) { o.Config.Label = "relay-staging" }},
		{"no key", func(o *Options) { o.Dev, o.Config.Keys = true, nil }},
		{"no key and no label", func(o *Options) { o.Dev, o.Config.Keys, o.Config.Label = true, nil, "" }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := startNode(t, "a", nil)
			b := startNode(t, "b", seededBy(a))
			waitAlive(t, []string{"a", "b"}, a, b)

			var x *node
			waitRejection(t, a, "the outsider's join", func() {
				x = startNode(t, "x", func(o *Options) {
					tc.mutate(o)
					o.Config.Seeds = []string{a.LocalAddr()}
				})
			})
			if got := x.Alive(); !slices.Equal(got, []string{"x"}) {
				t.Errorf("the outsider sees %v alive", got)
			}
			waitAlive(t, []string{"a", "b"}, a, b)

			// Forge messages in b's name, reliable and best-effort, straight
			// to a's address.
			waitRejection(t, a, "a forged reliable message", func() {
				_ = x.list.SendReliable(nodeAt(t, a), frame(kindMessage, "b", []byte("forged over TCP")))
			})
			waitRejection(t, a, "a forged packet", func() {
				_ = x.list.SendBestEffort(nodeAt(t, a), frame(kindMessage, "b", []byte("forged over UDP")))
			})
			// A genuine message still arrives, so the channel works.
			if err := b.SendReliable("a", []byte("genuine")); err != nil {
				t.Fatal(err)
			}
			testkit.Eventually(t, 5*time.Second, "a receives b's genuine message", func() bool {
				return a.rec.hasMessage("b", "genuine")
			})
			if got := a.rec.messagesContaining("forged"); len(got) > 0 {
				t.Errorf("a took in forged messages: %+v", got)
			}
			assertNoKeys(t, a.logs.String()+b.logs.String()+x.logs.String())
		})
	}
}

func TestKeyRotationKeepsMembersTalking(t *testing.T) {
	a := startNode(t, "a", nil)
	b := startNode(t, "b", seededBy(a))
	c := startNode(t, "c", seededBy(a))
	nodes := []*node{a, b, c}
	waitAlive(t, []string{"a", "b", "c"}, nodes...)

	round := 0
	talk := func(step string) {
		t.Helper()
		round++
		for i, from := range nodes {
			to := nodes[(i+1)%len(nodes)]
			payload := fmt.Sprintf("%s %d", step, round)
			if err := from.SendReliable(to.LocalNode(), []byte(payload)); err != nil {
				t.Fatalf("%s: %s to %s: %v", step, from.LocalNode(), to.LocalNode(), err)
			}
			testkit.Eventually(t, 5*time.Second, step+": "+to.LocalNode()+" receives", func() bool {
				return to.rec.hasMessage(from.LocalNode(), payload)
			})
		}
		waitAlive(t, []string{"a", "b", "c"}, nodes...)
	}
	for _, step := range []struct {
		name string
		op   func(*node) error
	}{
		{"add", func(n *node) error { return n.AddKey(newKey) }},
		{"use", func(n *node) error { return n.UseKey(newKey) }},
		{"remove", func(n *node) error { return n.RemoveKey(testKey) }},
	} {
		for _, n := range nodes {
			if err := step.op(n); err != nil {
				t.Fatalf("%s on %s: %v", step.name, n.LocalNode(), err)
			}
			talk(step.name + " on " + n.LocalNode())
		}
	}

	// The old key no longer gets in; the new one does.
	waitRejection(t, a, "a node with the old key", func() {
		startNode(t, "old", seededBy(a))
	})
	startNode(t, "new", func(o *Options) {
		o.Config.Keys = []secret.String{secret.New(newKey)}
		o.Config.Seeds = []string{a.LocalAddr()}
	})
	waitAlive(t, []string{"a", "b", "c", "new"}, a)
}

func TestKeyOperationErrors(t *testing.T) {
	a := startNode(t, "a", nil)
	for _, tc := range []struct {
		name string
		op   func() error
		want string
	}{
		{"use a key not added", func() error { return a.UseKey(newKey) }, "use key: requested key is not in the keyring"},
		{"remove the key in use", func() error { return a.RemoveKey(testKey) }, "remove key: removing the primary key is not allowed"},
		{"not base64", func() error { return a.AddKey("not a key!" + rawKey) }, "add key: the key is not valid base64"},
		{"wrong length", func() error { return a.AddKey("c2hvcnQ=") }, "add key: the key decodes to 5 bytes"},
	} {
		err := tc.op()
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want %q", tc.name, err, tc.want)
			continue
		}
		assertNoKeys(t, err.Error())
	}
	dev := startNode(t, "dev", func(o *Options) { o.Dev, o.Config.Keys, o.Config.Label = true, nil, "" })
	if err := dev.AddKey(testKey); err == nil || !strings.Contains(err.Error(), "encryption is off") {
		t.Errorf("AddKey without encryption: %v", err)
	}
	assertNoKeys(t, a.logs.String()+dev.logs.String())
}

func TestKeysNeverInLogsOrErrors(t *testing.T) {
	// A wrong key and a bad key in every place that reports or logs.
	a := startNode(t, "a", nil)
	x := startNode(t, "x", func(o *Options) {
		o.Config.Keys = []secret.String{secret.New(otherKey), secret.New(testKey)}
		o.Config.Seeds = []string{a.LocalAddr()}
	})
	_ = x.UseKey(testKey)
	_ = x.RemoveKey(otherKey)
	_ = x.Leave(time.Second)
	var texts []string
	_, err := New(Options{Name: "y", Config: Config{Keys: []secret.String{secret.New(rawKey)}, Label: "l"}})
	texts = append(texts, fmt.Sprint(err))
	c := testConfig()
	c.Keys = append(c.Keys, secret.New(rawOtherKey), secret.New(otherKey+"=="))
	texts = append(texts, fmt.Sprint(c.Validate()), fmt.Sprintf("%v %+v %#v", c, c, c))
	texts = append(texts, a.logs.String(), x.logs.String())
	for _, s := range texts {
		assertNoKeys(t, s)
	}
	if !strings.Contains(texts[0], "keys[0]: is not valid base64") {
		t.Errorf("New did not report the unencoded key: %s", texts[0])
	}
	if !strings.Contains(texts[1], "keys[1]: is not valid base64") || !strings.Contains(texts[1], "keys[2]: is not valid base64") {
		t.Errorf("Validate did not report the bad keys: %s", texts[1])
	}
}

// assertNoKeys fails if text shows any test key, raw or encoded.
func assertNoKeys(t *testing.T, text string) {
	t.Helper()
	for _, k := range []string{rawKey, rawOtherKey, rawNewKey, testKey, otherKey, newKey} {
		if strings.Contains(text, k) {
			t.Errorf("a key shows in:\n%s", text)
			return
		}
	}
}

// TestInsiderRawSendArrives is the control for the test above: the same
// raw send from a node holding the key and label does arrive.
func TestInsiderRawSendArrives(t *testing.T) {
	a := startNode(t, "a", nil)
	x := startNode(t, "x", nil)
	if err := x.list.SendReliable(nodeAt(t, a), frame(kindMessage, "x", []byte("raw"))); err != nil {
		t.Fatal(err)
	}
	testkit.Eventually(t, 5*time.Second, "a receives x's raw message", func() bool {
		return a.rec.hasMessage("x", "raw")
	})
}
