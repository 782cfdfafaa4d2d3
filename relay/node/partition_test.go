package node_test

import (
	"errors"
	"net"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/memberlist"

	"github.com/oob-relay/relay/internal/testkit"
	"github.com/oob-relay/relay/relay"
	"github.com/oob-relay/relay/relay/node"
)

// network cuts gossip between groups of members: a member's packets and
// connections to a member on another side are lost, as in a partition.
type network struct {
	mu   sync.Mutex
	side map[string]int // gossip address -> side; missing means side 0
}

func (nw *network) cut(addr string, side int) {
	nw.mu.Lock()
	defer nw.mu.Unlock()
	nw.side[addr] = side
}

func (nw *network) heal() {
	nw.mu.Lock()
	defer nw.mu.Unlock()
	clear(nw.side)
}

func (nw *network) blocked(from, to string) bool {
	nw.mu.Lock()
	defer nw.mu.Unlock()
	return nw.side[from] != nw.side[to]
}

// wrap puts a member's transport behind the network. The member
// listens on loopback.
func (nw *network) wrap(inner memberlist.NodeAwareTransport) memberlist.NodeAwareTransport {
	self := net.JoinHostPort("127.0.0.1", strconv.Itoa(inner.(*memberlist.NetTransport).GetAutoBindPort()))
	return &cutTransport{NodeAwareTransport: inner, nw: nw, self: self}
}

// cutTransport drops what its member sends across a cut. Each member
// drops its own side's sends, so both directions are cut.
type cutTransport struct {
	memberlist.NodeAwareTransport
	nw   *network
	self string // this member's gossip address
}

var errCut = errors.New("network partition: no route to host")

func (c *cutTransport) WriteTo(b []byte, addr string) (time.Time, error) {
	if c.nw.blocked(c.self, addr) {
		return time.Now(), nil // lost on the way
	}
	return c.NodeAwareTransport.WriteTo(b, addr)
}

func (c *cutTransport) WriteToAddress(b []byte, addr memberlist.Address) (time.Time, error) {
	if c.nw.blocked(c.self, addr.Addr) {
		return time.Now(), nil
	}
	return c.NodeAwareTransport.WriteToAddress(b, addr)
}

func (c *cutTransport) DialTimeout(addr string, timeout time.Duration) (net.Conn, error) {
	if c.nw.blocked(c.self, addr) {
		return nil, errCut
	}
	return c.NodeAwareTransport.DialTimeout(addr, timeout)
}

func (c *cutTransport) DialAddressTimeout(addr memberlist.Address, timeout time.Duration) (net.Conn, error) {
	if c.nw.blocked(c.self, addr.Addr) {
		return nil, errCut
	}
	return c.NodeAwareTransport.DialAddressTimeout(addr, timeout)
}

// TestPartitionHeals cuts node C off from A and B. Each side keeps
// accepting and delivering: A's message reaches everyone through A and
// B, C's through C alone. After the cut heals, the three logs merge into
// one, and nothing either side recorded as sent is sent again, including
// by the new owners once ownership is shared by three again.
func TestPartitionHeals(t *testing.T) {
	counts := newDeliveryCounts()
	roster := people(200)
	nw := &network{side: map[string]int{}}
	a := startMemberOn(t, "node-a", "", counts, roster, nw.wrap)
	b := startMemberOn(t, "node-b", a.ms.LocalAddr(), counts, roster, nw.wrap)
	c := startMemberOn(t, "node-c", a.ms.LocalAddr(), counts, roster, nw.wrap)
	settleMembership(t, a, b, c)

	nw.cut(c.ms.LocalAddr(), 1)
	testkit.Eventually(t, 10*time.Second, "each side sees the other as gone", func() bool {
		return len(a.ms.Alive()) == 2 && len(b.ms.Alive()) == 2 && len(c.ms.Alive()) == 1
	})

	post := func(m *member, text string) *node.Accepted {
		t.Helper()
		acc, err := m.n.Post(t.Context(), &relay.Post{Incident: "split", Text: text, To: []string{"everyone"},
			Severity: relay.SeverityCritical}, node.Author{Name: "bot"}, "")
		if err != nil {
			t.Fatal(err)
		}
		return acc
	}
	onAB := post(a, "A와 B 쪽: 판교 전환 중")
	onC := post(c, "C 쪽: 서울 IDC 연결 끊김")
	if onAB.OnlyCopy || !onC.OnlyCopy {
		t.Errorf("copies: A's post only copy %v (B holds it), C's %v (C is alone): want false, true", onAB.OnlyCopy, onC.OnlyCopy)
	}
	settled(t, "A's message on A", a, onAB.Message.ID)
	settled(t, "C's message on C", c, onC.Message.ID)
	if _, err := c.n.Store().Message(onAB.Message.ID); !errors.Is(err, relay.ErrNotFound) {
		t.Fatalf("C holds A's message during the partition (err %v): the cut leaks", err)
	}
	sent, by := counts.snapshot()
	for _, p := range roster.People {
		ab, cs := relay.DeliveryID(onAB.Message.ID, relay.ChannelSMS, p.ID), relay.DeliveryID(onC.Message.ID, relay.ChannelSMS, p.ID)
		if sent[ab] != 1 || by[ab] == "node-c" {
			t.Fatalf("during the partition A's delivery to %s was sent by %v; want once by A or B", p.ID, counts.senders(ab))
		}
		if sent[cs] != 1 || by[cs] != "node-c" {
			t.Fatalf("during the partition C's delivery to %s was sent by %v; want once by C", p.ID, counts.senders(cs))
		}
	}

	nw.heal()
	settleMembership(t, a, b, c)
	for _, m := range []*member{a, b, c} {
		settled(t, "A's message on "+m.n.Name()+" after healing", m, onAB.Message.ID)
		settled(t, "C's message on "+m.n.Name()+" after healing", m, onC.Message.ID)
	}
	// A message after healing is shared by all three again, and its
	// delivery proves every node rebalanced after the change.
	after := post(b, "복구: 세 노드 모두 연결됨")
	for _, m := range []*member{a, b, c} {
		settled(t, "the message after healing on "+m.n.Name(), m, after.Message.ID)
	}

	sent, by = counts.snapshot()
	senders := map[string]int{}
	for _, msg := range []string{onAB.Message.ID, onC.Message.ID, after.Message.ID} {
		for _, p := range roster.People {
			id := relay.DeliveryID(msg, relay.ChannelSMS, p.ID)
			if sent[id] != 1 {
				t.Errorf("delivery %s was sent by %v, want once", id, counts.senders(id))
			}
			if msg == after.Message.ID {
				senders[by[id]]++
			}
		}
	}
	if len(senders) != 3 {
		t.Errorf("after healing, the new message was sent by %v; want all three nodes", senders)
	}
	for _, m := range []*member{a, b, c} {
		for _, msg := range []string{onAB.Message.ID, onC.Message.ID} {
			ds, err := m.n.Store().Deliveries(msg)
			if err != nil {
				t.Fatal(err)
			}
			for _, d := range ds {
				if d.Status != relay.StatusSent || d.Attempts != 1 {
					t.Fatalf("%s holds %s as %s after %d attempts, want sent after 1", m.n.Name(), d.ID, d.Status, d.Attempts)
				}
			}
		}
	}
}

// settled waits until m holds message id with every delivery settled.
func settled(t *testing.T, what string, m *member, id string) {
	t.Helper()
	testkit.Eventually(t, 15*time.Second, what+" settled", func() bool {
		ds, err := m.n.Store().Deliveries(id)
		if err != nil || len(ds) == 0 {
			return false
		}
		for _, d := range ds {
			if !d.Status.Settled() {
				return false
			}
		}
		return true
	})
}
