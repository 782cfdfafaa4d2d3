package relay

import (
	"net/netip"
	"strings"
)

// LoopbackHost reports whether host, a name or an IP address without a
// port (an IPv6 address may keep its brackets), is this machine's
// loopback interface: localhost, an address in 127.0.0.0/8, or ::1.
// Configuration allows credentials and webhooks in clear text only to
// such hosts, where they never cross a network.
func LoopbackHost(host string) bool {
	host = strings.TrimSuffix(strings.TrimPrefix(host, "["), "]")
	if strings.EqualFold(strings.TrimSuffix(host, "."), "localhost") {
		return true
	}
	ip, err := netip.ParseAddr(host)
	return err == nil && ip.Zone() == "" && ip.Unmap().IsLoopback()
}
