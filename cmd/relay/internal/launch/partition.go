package launch

import (
	"errors"
	"net"
	"os"
	"time"

	"github.com/hashicorp/memberlist"
)

// PartitionFileEnv names an environment variable for tests of a
// cluster: a file that, while it exists, cuts this node off from the
// others, as a partition of its site's network would: every packet and
// connection it sends to a peer is lost. The test makes and removes the
// file; nothing else is affected.
const PartitionFileEnv = "RELAY_TEST_PARTITION_FILE"

// partitionWrap returns a transport wrapper for PartitionFileEnv, or nil
// when it is not set.
func partitionWrap() func(memberlist.NodeAwareTransport) memberlist.NodeAwareTransport {
	path := os.Getenv(PartitionFileEnv)
	if path == "" {
		return nil
	}
	return func(inner memberlist.NodeAwareTransport) memberlist.NodeAwareTransport {
		return &cutTransport{NodeAwareTransport: inner, path: path}
	}
}

type cutTransport struct {
	memberlist.NodeAwareTransport
	path string
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
