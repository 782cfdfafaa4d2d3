package testkit

import (
	"math/rand/v2"
	"net"
	"slices"
	"sync"
	"time"

	"github.com/hashicorp/memberlist"
)

// FarNet stands in for the links between regions under memberlist: each
// UDP packet arrives Delay after it is sent, and a share Loss of them is
// lost; a TCP connection takes a round trip (2 × Delay) to open, and each
// write on it arrives Delay later. Wrap puts one member's transport
// behind it (gossip.Options.WrapTransport).
type FarNet struct {
	Delay time.Duration // one way
	Loss  float64
	mu    sync.Mutex
	rng   *rand.Rand
}

// NewFarNet returns links of the given one-way delay and UDP loss, whose
// losses follow seed.
func NewFarNet(delay time.Duration, loss float64, seed uint64) *FarNet {
	return &FarNet{Delay: delay, Loss: loss, rng: rand.New(rand.NewPCG(seed, 7))}
}

func (n *FarNet) lost() bool {
	if n.Loss == 0 {
		return false
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.rng.Float64() < n.Loss
}

// Wrap puts inner behind the far links.
func (n *FarNet) Wrap(inner memberlist.NodeAwareTransport) memberlist.NodeAwareTransport {
	return &farTransport{NodeAwareTransport: inner, net: n}
}

type farTransport struct {
	memberlist.NodeAwareTransport
	net *FarNet
	wg  sync.WaitGroup
}

func (t *farTransport) WriteToAddress(b []byte, addr memberlist.Address) (time.Time, error) {
	now := time.Now()
	if t.net.lost() {
		return now, nil
	}
	b = slices.Clone(b)
	t.wg.Go(func() {
		time.Sleep(t.net.Delay)
		t.NodeAwareTransport.WriteToAddress(b, addr)
	})
	return now, nil
}

func (t *farTransport) WriteTo(b []byte, addr string) (time.Time, error) {
	return t.WriteToAddress(b, memberlist.Address{Addr: addr})
}

func (t *farTransport) DialAddressTimeout(addr memberlist.Address, timeout time.Duration) (net.Conn, error) {
	time.Sleep(2 * t.net.Delay) // the connection's handshake
	c, err := t.NodeAwareTransport.DialAddressTimeout(addr, timeout)
	if err != nil {
		return nil, err
	}
	return farConn{Conn: c, delay: t.net.Delay}, nil
}

func (t *farTransport) DialTimeout(addr string, timeout time.Duration) (net.Conn, error) {
	return t.DialAddressTimeout(memberlist.Address{Addr: addr}, timeout)
}

// Shutdown waits for the packets still on their way.
func (t *farTransport) Shutdown() error {
	err := t.NodeAwareTransport.Shutdown()
	t.wg.Wait()
	return err
}

// farConn delays what is written to a stream.
type farConn struct {
	net.Conn
	delay time.Duration
}

func (c farConn) Write(b []byte) (int, error) {
	time.Sleep(c.delay)
	return c.Conn.Write(b)
}
