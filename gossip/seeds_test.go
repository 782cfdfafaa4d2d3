package gossip

import (
	"context"
	"fmt"
	"net"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/oob-relay/relay/internal/testkit"
)

// fakeDNS answers host lookups from a table the test changes.
type fakeDNS struct {
	mu      sync.Mutex
	hosts   map[string][]string
	lookups int
}

func (d *fakeDNS) LookupHost(ctx context.Context, host string) ([]string, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.lookups++
	if addrs, ok := d.hosts[host]; ok {
		return slices.Clone(addrs), nil
	}
	return nil, &net.DNSError{Err: "no such host", Name: host, IsNotFound: true}
}

func (d *fakeDNS) set(host string, addrs ...string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.hosts[host] = addrs
}

func (d *fakeDNS) count() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.lookups
}

// on binds a node to ip at port.
func on(ip string, port int) func(*Options) {
	return func(o *Options) { o.Config.Bind = net.JoinHostPort(ip, strconv.Itoa(port)) }
}

func TestDNSSeedJoinsEveryAddress(t *testing.T) {
	// Three nodes on three loopback addresses and one port, as three hosts
	// behind one DNS name would be; they do not know each other.
	a := startNode(t, "a", on("127.0.0.1", 0))
	_, port, err := splitHostPort(a.LocalAddr())
	if err != nil {
		t.Fatal(err)
	}
	b := startNode(t, "b", on("127.0.0.2", port))
	c := startNode(t, "c", on("127.0.0.3", port))

	dns := &fakeDNS{hosts: map[string][]string{"relay.test": {"127.0.0.1", "127.0.0.2", "127.0.0.3"}}}
	d := startNode(t, "d", func(o *Options) {
		o.Resolver = dns
		o.Config.Seeds = []string{fmt.Sprintf("relay.test:%d", port)}
	})
	// Each of a, b and c was joined directly, not through gossip.
	for _, n := range []*node{a, b, c} {
		testkit.Eventually(t, 5*time.Second, n.LocalNode()+" was joined by d", func() bool {
			return n.rec.hasState(received{from: "d", payload: "state of d", join: true})
		})
	}
	waitAlive(t, []string{"a", "b", "c", "d"}, a, b, c, d)
	if dns.count() < 1 {
		t.Error("the resolver was not asked")
	}
}

func TestSeedsResolvedAgainUntilTheyAnswer(t *testing.T) {
	port := testkit.FreePort(t, "127.0.0.1")
	dns := &fakeDNS{hosts: map[string][]string{}} // relay.test does not resolve yet
	a := startNode(t, "a", func(o *Options) {
		on("127.0.0.1", port)(o)
		o.Resolver = dns
		o.Config.Seeds = []string{fmt.Sprintf("relay.test:%d", port)}
	})
	if got := a.Alive(); !slices.Equal(got, []string{"a"}) {
		t.Fatalf("alive = %v before any seed resolves", got)
	}
	testkit.Eventually(t, 5*time.Second, "a looks the seed up again", func() bool { return dns.count() >= 3 })

	// The seed appears, with its name in DNS: a finds it on its own.
	b := startNode(t, "b", on("127.0.0.2", port))
	dns.set("relay.test", "127.0.0.1", "127.0.0.2")
	waitAlive(t, []string{"a", "b"}, a, b)

	// The name also resolves to a itself, which does not count: a has
	// every seed and stops looking.
	if a.seedsMissing() {
		t.Errorf("a still misses seeds with b alive")
	}
}

func TestSeedsMissing(t *testing.T) {
	m := &Membership{
		name:    "a",
		cfg:     Config{Seeds: []string{"relay.test:7946", "10.0.0.9:7946"}},
		members: map[string]Member{"a": {Name: "a", Addr: "10.0.0.1:7946", State: StateAlive, Self: true}},
	}
	if !m.seedsMissing() {
		t.Error("a lone node with unresolved seeds misses none")
	}
	m.seeds = seedSet{"relay.test:7946": {"10.0.0.1:7946", "10.0.0.2:7946"}, "10.0.0.9:7946": {"10.0.0.9:7946"}}
	m.members["b"] = Member{Name: "b", Addr: "10.0.0.2:7946", State: StateAlive}
	if !m.seedsMissing() {
		t.Error("one other member of two other seed addresses misses none")
	}
	m.members["c"] = Member{Name: "c", Addr: "10.0.0.3:7946", State: StateDead}
	if !m.seedsMissing() {
		t.Error("a dead member counted as present")
	}
	m.members["c"] = Member{Name: "c", Addr: "10.0.0.9:7946", State: StateAlive}
	if m.seedsMissing() {
		t.Error("two other members for two other seed addresses still miss some")
	}
}
