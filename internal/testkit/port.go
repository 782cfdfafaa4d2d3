package testkit

import (
	"net"
	"strconv"
	"testing"
)

// FreePort returns a port on host that nothing listens on right now,
// over TCP or UDP, as memberlist needs for gossip. Another process may
// take it before the test does; tests that can bind port 0 should.
func FreePort(tb testing.TB, host string) int {
	tb.Helper()
	for range 20 {
		l, err := net.Listen("tcp", net.JoinHostPort(host, "0"))
		if err != nil {
			tb.Fatal(err)
		}
		port := l.Addr().(*net.TCPAddr).Port
		u, err := net.ListenPacket("udp", net.JoinHostPort(host, strconv.Itoa(port)))
		l.Close()
		if err == nil {
			u.Close()
			return port
		}
	}
	tb.Fatalf("no port free for both TCP and UDP on %s", host)
	return 0
}
