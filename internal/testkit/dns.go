package testkit

import (
	"context"
	"net"
	"strings"
	"sync"
	"testing"

	"github.com/miekg/dns"
)

// DNS is a DNS server on 127.0.0.1 (UDP and TCP) that answers from
// records a test sets: TXT for DKIM keys, SPF and DMARC policies, A and
// AAAA for SPF's a and mx mechanisms, MX. A name it has no record for is
// NXDOMAIN; a name set with Fail is SERVFAIL, as a resolver answers when
// a domain's servers cannot be reached. Its methods are safe for
// concurrent use; Cleanup stops it.
type DNS struct {
	mu      sync.Mutex
	records map[string][]dns.RR // by lower-case FQDN
	fail    map[string]bool
	queries map[string]int
	udp     *dns.Server
	tcp     *dns.Server
	addr    string
}

// StartDNS starts a DNS server for the test.
func StartDNS(tb testing.TB) *DNS {
	tb.Helper()
	d := &DNS{records: map[string][]dns.RR{}, fail: map[string]bool{}, queries: map[string]int{}}
	pc, l := listenBoth(tb)
	d.addr = pc.LocalAddr().String()
	udpUp, tcpUp := make(chan struct{}), make(chan struct{})
	d.udp = &dns.Server{PacketConn: pc, Handler: d, NotifyStartedFunc: func() { close(udpUp) }}
	d.tcp = &dns.Server{Listener: l, Handler: d, NotifyStartedFunc: func() { close(tcpUp) }}
	udpDone, tcpDone := make(chan struct{}), make(chan struct{})
	go func() { defer close(udpDone); d.udp.ActivateAndServe() }()
	go func() { defer close(tcpDone); d.tcp.ActivateAndServe() }()
	<-udpUp
	<-tcpUp
	tb.Cleanup(func() {
		d.udp.Shutdown()
		d.tcp.Shutdown()
		<-udpDone
		<-tcpDone
	})
	return d
}

// listenBoth listens on one port of 127.0.0.1 for UDP and TCP.
func listenBoth(tb testing.TB) (net.PacketConn, net.Listener) {
	tb.Helper()
	for range 20 {
		pc, err := net.ListenPacket("udp", "127.0.0.1:0")
		if err != nil {
			tb.Fatal(err)
		}
		l, err := net.Listen("tcp", pc.LocalAddr().String())
		if err == nil {
			return pc, l
		}
		pc.Close() // the TCP port is taken: try another
	}
	tb.Fatal("no port of 127.0.0.1 free for both UDP and TCP")
	return nil, nil
}

// Addr is the server's address, host:port, on both UDP and TCP.
func (d *DNS) Addr() string { return d.addr }

// Resolver returns a resolver that asks only this server.
func (d *DNS) Resolver() *net.Resolver {
	return &net.Resolver{PreferGo: true, Dial: func(ctx context.Context, network, _ string) (net.Conn, error) {
		var dl net.Dialer
		return dl.DialContext(ctx, network, d.addr)
	}}
}

// TXT sets the TXT records of name, replacing any; each value is one
// record (split into strings of 255 bytes as DNS requires).
func (d *DNS) TXT(name string, values ...string) {
	var rrs []dns.RR
	for _, v := range values {
		var parts []string
		for len(v) > 255 {
			parts, v = append(parts, v[:255]), v[255:]
		}
		rrs = append(rrs, &dns.TXT{Hdr: d.hdr(name, dns.TypeTXT), Txt: append(parts, v)})
	}
	d.set(name, dns.TypeTXT, rrs)
}

// IP sets the A or AAAA records of name, replacing those of the same
// family.
func (d *DNS) IP(name string, ips ...net.IP) {
	var a, aaaa []dns.RR
	for _, ip := range ips {
		if v4 := ip.To4(); v4 != nil {
			a = append(a, &dns.A{Hdr: d.hdr(name, dns.TypeA), A: v4})
		} else {
			aaaa = append(aaaa, &dns.AAAA{Hdr: d.hdr(name, dns.TypeAAAA), AAAA: ip})
		}
	}
	if len(a) > 0 {
		d.set(name, dns.TypeA, a)
	}
	if len(aaaa) > 0 {
		d.set(name, dns.TypeAAAA, aaaa)
	}
}

// Fail makes every question about name a SERVFAIL (fail true) or
// answers it again (false).
func (d *DNS) Fail(name string, fail bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.fail[dns.CanonicalName(name)] = fail
}

// Queries counts the questions about name so far, of any type.
func (d *DNS) Queries(name string) int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.queries[dns.CanonicalName(name)]
}

func (d *DNS) hdr(name string, t uint16) dns.RR_Header {
	return dns.RR_Header{Name: dns.CanonicalName(name), Rrtype: t, Class: dns.ClassINET, Ttl: 60}
}

func (d *DNS) set(name string, t uint16, rrs []dns.RR) {
	d.mu.Lock()
	defer d.mu.Unlock()
	key := dns.CanonicalName(name)
	kept := d.records[key][:0:0]
	for _, rr := range d.records[key] {
		if rr.Header().Rrtype != t {
			kept = append(kept, rr)
		}
	}
	d.records[key] = append(kept, rrs...)
}

// ServeDNS answers one query.
func (d *DNS) ServeDNS(w dns.ResponseWriter, q *dns.Msg) {
	m := new(dns.Msg)
	m.SetReply(q)
	m.Authoritative = true
	if len(q.Question) == 1 {
		question := q.Question[0]
		name := strings.ToLower(question.Name)
		d.mu.Lock()
		d.queries[name]++
		rrs, known := d.records[name]
		fail := d.fail[name]
		d.mu.Unlock()
		switch {
		case fail:
			m.Rcode = dns.RcodeServerFailure
		case !known:
			m.Rcode = dns.RcodeNameError
		}
		if !fail {
			for _, rr := range rrs {
				if rr.Header().Rrtype == question.Qtype {
					m.Answer = append(m.Answer, dns.Copy(rr))
				}
			}
		}
	}
	w.WriteMsg(m)
}
