package launch

import (
	"errors"
	"net"
	"os"
	"sync"
	"time"

	"github.com/hashicorp/memberlist"
)

// PartitionFileEnv names an environment variable for tests of a
// cluster: a file that, while it exists, cuts this node off from the
// others, as a partition of its site's network would: every packet and
// connection it sends to a peer, or receives from one, is lost. The test
// makes and removes the file; nothing else is affected.
const PartitionFileEnv = "RELAY_TEST_PARTITION_FILE"

// partitionWrap returns a transport wrapper for PartitionFileEnv, or nil
// when it is not set.
func partitionWrap() func(memberlist.NodeAwareTransport) memberlist.NodeAwareTransport {
	path := os.Getenv(PartitionFileEnv)
	if path == "" {
		return nil
	}
	return func(inner memberlist.NodeAwareTransport) memberlist.NodeAwareTransport {
		c := &cutTransport{NodeAwareTransport: inner, path: path, packets: make(chan *memberlist.Packet),
			streams: make(chan net.Conn), done: make(chan struct{})}
		c.wg.Add(2)
		go c.relayPackets()
		go c.relayStreams()
		return c
	}
}

// cutTransport loses what its node sends while the file exists, and
// what it receives: it passes on the inner transport's packets and
// connections only while the file is absent. Its goroutines stop at
// Shutdown.
type cutTransport struct {
	memberlist.NodeAwareTransport
	path    string
	packets chan *memberlist.Packet
	streams chan net.Conn
	done    chan struct{}
	once    sync.Once
	wg      sync.WaitGroup
}

func (c *cutTransport) PacketCh() <-chan *memberlist.Packet { return c.packets }
func (c *cutTransport) StreamCh() <-chan net.Conn           { return c.streams }

func (c *cutTransport) Shutdown() error {
	err := c.NodeAwareTransport.Shutdown()
	c.once.Do(func() { close(c.done) })
	c.wg.Wait()
	return err
}

func (c *cutTransport) relayPackets() {
	defer c.wg.Done()
	in := c.NodeAwareTransport.PacketCh()
	for {
		select {
		case p, ok := <-in:
			if !ok {
				return
			}
			if c.cut() {
				continue
			}
			select {
			case c.packets <- p:
			case <-c.done:
				return
			}
		case <-c.done:
			return
		}
	}
}

func (c *cutTransport) relayStreams() {
	defer c.wg.Done()
	in := c.NodeAwareTransport.StreamCh()
	for {
		select {
		case conn, ok := <-in:
			if !ok {
				return
			}
			if c.cut() {
				conn.Close()
				continue
			}
			select {
			case c.streams <- conn:
			case <-c.done:
				conn.Close()
				return
			}
		case <-c.done:
			return
		}
	}
}

var errCut = errors.New("network partition: no route to host")

func (c *cutTransport) cut() bool {
	_, err := os.Stat(c.path)
	return err == nil
}

func (c *cutTransport) WriteTo(b []byte, addr string) (time.Time, error) {
	if c.cut() {
		return time.Now(), nil // lost on the way
	}
	return c.NodeAwareTransport.WriteTo(b, addr)
}

func (c *cutTransport) WriteToAddress(b []byte, addr memberlist.Address) (time.Time, error) {
	if c.cut() {
		return time.Now(), nil
	}
	return c.NodeAwareTransport.WriteToAddress(b, addr)
}

func (c *cutTransport) DialTimeout(addr string, timeout time.Duration) (net.Conn, error) {
	if c.cut() {
		return nil, errCut
	}
	return c.NodeAwareTransport.DialTimeout(addr, timeout)
}

func (c *cutTransport) DialAddressTimeout(addr memberlist.Address, timeout time.Duration) (net.Conn, error) {
	if c.cut() {
		return nil, errCut
	}
	return c.NodeAwareTransport.DialAddressTimeout(addr, timeout)
}
