package main

import (
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/oob-relay/relay/internal/testkit/acmetest"
)

// TestServeHTTPSFromACME runs relay serve with http.tls.acme against
// Pebble: the first handshake naming the domain has a certificate
// issued, the CA validating TLS-ALPN-01 on the node's own listener; a
// name outside the domains gets no certificate and no order; and a
// restarted node serves the certificate from its cache without asking
// the CA again.
func TestServeHTTPSFromACME(t *testing.T) {
	const domain = "relay-1.acme.test"
	addr := freeAddr(t)
	_, portStr, _ := net.SplitHostPort(addr)
	port, _ := strconv.Atoi(portStr)
	ca := acmetest.Start(t, acmetest.Options{TLSPort: port})
	ca.DNS.IP(domain, net.ParseIP("127.0.0.1"))
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("pebble log:\n%s", ca.Log.String())
		}
	})

	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "acme-ca.pem"), ca.DirectoryCAPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	url := "https://" + net.JoinHostPort(domain, portStr)
	cfg := fmt.Sprintf(`node:
  name: acme-1
  data_dir: data
http:
  listen: %s
  public_url: %s
  tls:
    acme:
      domains: [%s]
      email: ops@example.com
      directory_url: %s
      ca_file: acme-ca.pem
api:
  tokens:
    - name: ops-bot
      role: bot
      token_env: TEST_RELAY_TOKEN
`, addr, url, domain, ca.DirectoryURL)
	path := filepath.Join(dir, "relay.yaml")
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	// The client finds the domain at the node's address, as DNS would
	// tell it, and trusts only the ACME CA's root.
	dial := func(ctx context.Context, network, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, network, addr)
	}
	hc := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{
		DialContext: dial, TLSClientConfig: &tls.Config{RootCAs: ca.Roots},
	}}
	bin, err := exec.LookPath("relay")
	if err != nil {
		t.Fatal(err)
	}

	p := serveClient(t, bin, path, url, hc)
	resp, err := hc.Get(url + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	leaf := resp.TLS.PeerCertificates[0]
	if len(leaf.DNSNames) != 1 || leaf.DNSNames[0] != domain || resp.TLS.VerifiedChains == nil {
		t.Fatalf("served certificate for %v, verified chains %d", leaf.DNSNames, len(resp.TLS.VerifiedChains))
	}
	if n := ca.Orders(); n != 1 {
		t.Errorf("%d orders for one domain, want 1", n)
	}
	if _, err := os.Stat(filepath.Join(dir, "data", "acme", domain)); err != nil {
		t.Errorf("the certificate is not in the cache: %v", err)
	}

	// A name outside http.tls.acme.domains gets no certificate.
	c, err := tls.DialWithDialer(&net.Dialer{Timeout: 10 * time.Second}, "tcp", addr,
		&tls.Config{ServerName: "evil.acme.test", InsecureSkipVerify: true})
	if err == nil {
		c.Close()
		t.Error("a handshake for a name outside the domains succeeded")
	}
	if n := ca.Orders(); n != 1 {
		t.Errorf("%d orders after a handshake for another name, want 1", n)
	}

	// A restart serves the cached certificate.
	p.stop(t)
	serveClient(t, bin, path, url, hc)
	resp, err = hc.Get(url + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if got := resp.TLS.PeerCertificates[0].SerialNumber; got.Cmp(leaf.SerialNumber) != 0 {
		t.Errorf("after a restart: certificate %s, want the cached %s", got, leaf.SerialNumber)
	}
	if n := ca.Orders(); n != 1 {
		t.Errorf("%d orders after a restart, want 1", n)
	}
}
