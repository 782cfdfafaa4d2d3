package testkit_test

import (
	"context"
	"errors"
	"net"
	"slices"
	"strings"
	"testing"

	"github.com/emersion/go-msgauth/dkim"

	"github.com/oob-relay/relay/internal/testkit"
)

func TestDNS(t *testing.T) {
	d := testkit.StartDNS(t)
	r := d.Resolver()
	ctx := context.Background()
	long := "v=spf1 " + strings.Repeat("ip4:192.0.2.1 ", 30) + "-all" // over 255 bytes: several strings
	d.TXT("example.com", long, "other")
	d.IP("mx.example.com", net.ParseIP("192.0.2.25"), net.ParseIP("2001:db8::25"))
	txt, err := r.LookupTXT(ctx, "Example.COM")
	if err != nil || !slices.Equal(txt, []string{long, "other"}) {
		t.Fatalf("TXT example.com = %q, %v", txt, err)
	}
	ips, err := r.LookupIPAddr(ctx, "mx.example.com")
	if err != nil || len(ips) != 2 {
		t.Fatalf("mx.example.com = %v, %v", ips, err)
	}
	var dnsErr *net.DNSError
	if _, err := r.LookupTXT(ctx, "nothing.example.com"); !errors.As(err, &dnsErr) || !dnsErr.IsNotFound {
		t.Fatalf("unknown name: %v, want not found", err)
	}
	d.Fail("example.com", true)
	if _, err := r.LookupTXT(ctx, "example.com"); !errors.As(err, &dnsErr) || !dnsErr.Temporary() {
		t.Fatalf("failing name: %v, want a temporary error", err)
	}
	if n := d.Queries("example.com"); n < 2 {
		t.Errorf("Queries(example.com) = %d, want at least 2", n)
	}
}

func TestDKIMKey(t *testing.T) {
	d := testkit.StartDNS(t)
	k := testkit.NewDKIMKey(t, d, "example.com", "s1")
	raw := k.Sign(t, []byte("From: kim@example.com\r\nSubject: hi\r\n\r\nbody\r\n"))
	lookup := func(name string) ([]string, error) { return d.Resolver().LookupTXT(context.Background(), name) }
	vs, err := dkim.VerifyWithOptions(strings.NewReader(string(raw)), &dkim.VerifyOptions{LookupTXT: lookup})
	if err != nil || len(vs) != 1 || vs[0].Err != nil || vs[0].Domain != "example.com" {
		t.Fatalf("verifications %+v, %v", vs, err)
	}
}
