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
	n := startACMENode(t, false)
	p, url, hc, ca, addr, dir, domain := n.proc, n.url, n.hc, n.ca, n.addr, n.dir, n.domain
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
	bin, err := exec.LookPath("relay")
	if err != nil {
		t.Fatal(err)
	}
	serveClient(t, bin, n.cfg, url, hc)
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

// acmeNode is a relay serve process with http.tls.acme, and its CA.
type acmeNode struct {
	proc                                   *proc
	url, addr, plainAddr, dir, domain, cfg string
	hc                                     *http.Client
	ca                                     *acmetest.CA
}

// startACMENode starts Pebble and relay serve with http.tls.acme against
// it, and waits until the node answers over HTTPS, which has its
// certificate issued. With plain, the node also has a plain-HTTP port
// (http.tls.redirect_listen) where the CA validates HTTP-01, and the CA
// finds no TLS-ALPN-01 listener: it tries a port where nothing listens.
func startACMENode(t *testing.T, plain bool) *acmeNode {
	t.Helper()
	n := &acmeNode{domain: "relay-1.acme.test", addr: freeAddr(t), dir: t.TempDir()}
	_, portStr, _ := net.SplitHostPort(n.addr)
	tlsPort, _ := strconv.Atoi(portStr)
	opts := acmetest.Options{TLSPort: tlsPort}
	redirect := ""
	if plain {
		n.plainAddr = freeAddr(t)
		_, p, _ := net.SplitHostPort(n.plainAddr)
		opts.HTTPPort, _ = strconv.Atoi(p)
		_, closed, _ := net.SplitHostPort(freeAddr(t))
		opts.TLSPort, _ = strconv.Atoi(closed)
		redirect = "\n    redirect_listen: " + n.plainAddr
	}
	n.ca = acmetest.Start(t, opts)
	n.ca.DNS.IP(n.domain, net.ParseIP("127.0.0.1"))
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("pebble log:\n%s", n.ca.Log.String())
		}
	})
	if err := os.WriteFile(filepath.Join(n.dir, "acme-ca.pem"), n.ca.DirectoryCAPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	n.url = "https://" + net.JoinHostPort(n.domain, portStr)
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
      ca_file: acme-ca.pem%s
api:
  tokens:
    - name: ops-bot
      role: bot
      token_env: TEST_RELAY_TOKEN
`, n.addr, n.url, n.domain, n.ca.DirectoryURL, redirect)
	n.cfg = filepath.Join(n.dir, "relay.yaml")
	if err := os.WriteFile(n.cfg, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	// The client finds the domain at the node's address, as DNS would
	// tell it, and trusts only the ACME CA's root.
	dial := func(ctx context.Context, network, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, network, n.addr)
	}
	n.hc = &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{
		DialContext: dial, TLSClientConfig: &tls.Config{RootCAs: n.ca.Roots},
	}}
	bin, err := exec.LookPath("relay")
	if err != nil {
		t.Fatal(err)
	}
	n.proc = serveClient(t, bin, n.cfg, n.url, n.hc)
	return n
}

// TestServeHTTPSFromACMEOverHTTP01 has the certificate issued with the
// HTTP-01 challenge answered on the plain-HTTP port, when the CA cannot
// validate TLS-ALPN-01; the plain port redirects to the HTTPS URL.
func TestServeHTTPSFromACMEOverHTTP01(t *testing.T) {
	n := startACMENode(t, true)
	resp, err := n.hc.Get(n.url + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if names := resp.TLS.PeerCertificates[0].DNSNames; len(names) != 1 || names[0] != n.domain {
		t.Fatalf("served certificate for %v", names)
	}
	// The first order failed on TLS-ALPN-01, the second passed on HTTP-01.
	if o := n.ca.Orders(); o != 2 {
		t.Errorf("%d orders, want 2", o)
	}
	noFollow := &http.Client{Timeout: 10 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err = noFollow.Get("http://" + n.plainAddr + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusPermanentRedirect || resp.Header.Get("Location") != n.url+"/healthz" {
		t.Errorf("GET on the plain port: %s to %q", resp.Status, resp.Header.Get("Location"))
	}
}
