// Package acmetest runs an ACME CA inside a test: Pebble, Let's Encrypt's
// ACME test server, with its directory served over HTTPS on 127.0.0.1 and
// a DNS server of the test's own that tells Pebble's validation where each
// name lives, so that HTTP-01 and TLS-ALPN-01 challenges are really
// fetched from the server under test. It is a package of its own so that
// only the tests that run a CA build Pebble.
package acmetest

import (
	"crypto/tls"
	"crypto/x509"
	"log"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/letsencrypt/pebble/v2/ca"
	"github.com/letsencrypt/pebble/v2/db"
	"github.com/letsencrypt/pebble/v2/va"
	"github.com/letsencrypt/pebble/v2/wfe"

	"github.com/oob-relay/relay/internal/testkit"
)

// Options configure a CA.
type Options struct {
	// HTTPPort and TLSPort are where the CA connects to validate HTTP-01
	// and TLS-ALPN-01 challenges (80 and 443 on the internet).
	HTTPPort, TLSPort int
}

// CA is a running Pebble.
type CA struct {
	// DirectoryURL is the ACME directory.
	DirectoryURL string
	// DirectoryCAPEM is the certificate of the CA that signed the
	// directory's HTTPS certificate, for an ACME client's trust.
	DirectoryCAPEM []byte
	// Roots holds the root that the certificates Pebble issues chain to.
	Roots *x509.CertPool
	// DNS is the only resolver the CA asks when it validates a challenge:
	// set the address of each name with DNS.IP. Other names do not
	// resolve.
	DNS *testkit.DNS
	// Log holds Pebble's log.
	Log testkit.LogBuffer

	mu     sync.Mutex
	orders int
}

// Start runs a CA until the test ends. It sets Pebble's environment for
// the test: no random wait before a validation and no nonce refused on
// purpose, no authorization reused, so issuance takes well under a
// second and counts the same on every run. Tests that use it cannot
// run in parallel.
func Start(t *testing.T, opts Options) *CA {
	t.Helper()
	t.Setenv("PEBBLE_VA_NOSLEEP", "1")
	t.Setenv("PEBBLE_WFE_NONCEREJECT", "0")
	t.Setenv("PEBBLE_VA_ALWAYS_VALID", "0")
	t.Setenv("PEBBLE_AUTHZREUSE", "0")
	c := &CA{Roots: x509.NewCertPool(), DNS: testkit.StartDNS(t)}
	logger := log.New(&c.Log, "pebble ", log.Lmicroseconds)
	store := db.NewMemoryStore()
	authority := ca.New(logger, store, "", "ecdsa", 0, 1, map[string]ca.Profile{
		"default": {Description: "The default profile"},
	})
	validator := va.New(logger, opts.HTTPPort, opts.TLSPort, false, c.DNS.Addr(), store)
	front := wfe.New(logger, store, validator, authority, []string{"pebble.letsencrypt.org"}, false, false, 0, 0)

	c.Roots.AddCert(authority.GetRootCert(0).Cert)

	site := testkit.NewCA(t, "ACME directory test CA")
	certPEM, keyPEM := site.Issue(t, "127.0.0.1")
	pair, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	h := front.Handler()
	srv := &http.Server{
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.Method == http.MethodPost && strings.HasSuffix(r.URL.Path, "/order-plz") {
				c.mu.Lock()
				c.orders++
				c.mu.Unlock()
			}
			h.ServeHTTP(w, r)
		}),
		TLSConfig:         &tls.Config{Certificates: []tls.Certificate{pair}, MinVersion: tls.VersionTLS12},
		ReadHeaderTimeout: 10 * time.Second,
		ErrorLog:          logger,
	}
	served := make(chan struct{})
	go func() {
		defer close(served)
		srv.ServeTLS(ln, "", "")
	}()
	t.Cleanup(func() {
		srv.Close()
		<-served
	})
	c.DirectoryURL = "https://" + ln.Addr().String() + wfe.DirectoryPath
	c.DirectoryCAPEM = site.PEM
	return c
}

// Orders counts the new orders the CA has taken.
func (c *CA) Orders() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.orders
}
