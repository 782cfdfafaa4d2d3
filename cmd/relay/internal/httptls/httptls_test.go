package httptls

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"io"
	"log"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/oob-relay/relay/internal/testkit"
	"github.com/oob-relay/relay/relay/problem"
)

// pair is a certificate and key written where a node reads them.
type pair struct {
	dir, cert, key string
}

func newPair(t *testing.T) pair {
	dir := t.TempDir()
	return pair{dir: dir, cert: filepath.Join(dir, "relay.pem"), key: filepath.Join(dir, "relay-key.pem")}
}

// replace writes the files as certbot and cert-manager do: each to a
// temporary file renamed over the old one.
func (p pair) replace(t *testing.T, certPEM, keyPEM []byte) {
	t.Helper()
	for _, f := range []struct {
		path string
		data []byte
	}{{p.cert, certPEM}, {p.key, keyPEM}} {
		tmp := f.path + ".new"
		if err := os.WriteFile(tmp, f.data, 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(tmp, f.path); err != nil {
			t.Fatal(err)
		}
	}
}

// serve runs an HTTPS server with tl's configuration, as the node does.
func serve(tb testing.TB, tl *TLS) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	srv := &http.Server{
		Handler:   http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("ok")) }),
		TLSConfig: tl.Config(),
		ErrorLog:  log.New(io.Discard, "", 0),
	}
	done := make(chan struct{})
	go func() { defer close(done); srv.ServeTLS(ln, "", "") }()
	tb.Cleanup(func() { srv.Close(); <-done })
	return ln.Addr().String()
}

// served returns the serial number of the certificate a new handshake
// with addr gets, verified against roots.
func served(t *testing.T, addr string, roots *x509.CertPool) string {
	t.Helper()
	c, err := tls.Dial("tcp", addr, &tls.Config{RootCAs: roots, ServerName: "127.0.0.1"})
	if err != nil {
		t.Fatalf("handshake: %v", err)
	}
	defer c.Close()
	return c.ConnectionState().PeerCertificates[0].SerialNumber.String()
}

func serial(t *testing.T, certPEM []byte) string {
	t.Helper()
	b, _ := pem.Decode(certPEM)
	c, err := x509.ParseCertificate(b.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	return c.SerialNumber.String()
}

func TestCertificateFilesReload(t *testing.T) {
	ca := testkit.NewCA(t, "httptls test CA")
	p := newPair(t)
	cert1, key1 := ca.Issue(t, "127.0.0.1")
	p.replace(t, cert1, key1)
	var logs testkit.LogBuffer
	reg := prometheus.NewRegistry()
	tl, err := New(Options{CertFile: p.cert, KeyFile: p.key, CheckEvery: time.Nanosecond,
		Logger: slog.New(slog.NewTextHandler(&logs, nil)), Registerer: reg})
	if err != nil {
		t.Fatal(err)
	}
	addr := serve(t, tl)
	if got := served(t, addr, ca.Pool); got != serial(t, cert1) {
		t.Fatalf("served %s, want the first certificate %s", got, serial(t, cert1))
	}

	// Renewed: the next handshake gets the new certificate.
	cert2, key2 := ca.Issue(t, "127.0.0.1")
	p.replace(t, cert2, key2)
	if got := served(t, addr, ca.Pool); got != serial(t, cert2) {
		t.Fatalf("served %s after the files were replaced, want %s", got, serial(t, cert2))
	}
	if !strings.Contains(logs.String(), "HTTPS certificate loaded again") {
		t.Errorf("no log line of the reload:\n%s", logs.String())
	}

	// A bad pair (a new certificate with the old key): the certificate in
	// force stays, and the error is logged once however many handshakes
	// come.
	cert3, key3 := ca.Issue(t, "127.0.0.1")
	p.replace(t, cert3, key2)
	for range 5 {
		if got := served(t, addr, ca.Pool); got != serial(t, cert2) {
			t.Fatalf("served %s with a bad pair on disk, want the one in force %s", got, serial(t, cert2))
		}
	}
	if n := strings.Count(logs.String(), "do not load"); n != 1 {
		t.Errorf("the bad pair was logged %d times, want once:\n%s", n, logs.String())
	}
	if strings.Contains(logs.String(), "PRIVATE KEY") || strings.Contains(logs.String(), string(key3[40:80])) {
		t.Errorf("the log shows key material:\n%s", logs.String())
	}

	// A file gone for a while: the same, said once.
	if err := os.Remove(p.key); err != nil {
		t.Fatal(err)
	}
	for range 3 {
		served(t, addr, ca.Pool)
	}
	if n := strings.Count(logs.String(), "do not load"); n != 2 {
		t.Errorf("a missing key file was logged %d times, want once:\n%s", n-1, logs.String())
	}

	// The key arrives: the pair loads.
	p.replace(t, cert3, key3)
	if got := served(t, addr, ca.Pool); got != serial(t, cert3) {
		t.Fatalf("served %s once the pair was whole, want %s", got, serial(t, cert3))
	}

	// Written in place (cp over the old file), a second later.
	cert4, key4 := ca.Issue(t, "127.0.0.1")
	for _, f := range []struct {
		path string
		data []byte
	}{{p.cert, cert4}, {p.key, key4}} {
		if err := os.WriteFile(f.path, f.data, 0o600); err != nil {
			t.Fatal(err)
		}
		later := time.Now().Add(time.Second)
		if err := os.Chtimes(f.path, later, later); err != nil {
			t.Fatal(err)
		}
	}
	if got := served(t, addr, ca.Pool); got != serial(t, cert4) {
		t.Fatalf("served %s after the files were written in place, want %s", got, serial(t, cert4))
	}
	if v := testkit.Metric(t, reg, "relay_http_tls_certificate_reloads_total", "result", "loaded"); v != 3 {
		t.Errorf("reloads loaded = %v, want 3", v)
	}
	if v := testkit.Metric(t, reg, "relay_http_tls_certificate_reloads_total", "result", "failed"); v != 2 {
		t.Errorf("reloads failed = %v, want 2", v)
	}
	if v := testkit.Metric(t, reg, "relay_http_tls_certificate_expiry_timestamp_seconds"); v < float64(time.Now().Add(23*time.Hour).Unix()) {
		t.Errorf("expiry = %v, want the certificate's, a day from now", v)
	}
}

// TestCertificateFilesCheckedAtMostOnceAnInterval: between two looks at
// the files, handshakes get the certificate in force without reading
// them.
func TestCertificateFilesCheckedAtMostOnceAnInterval(t *testing.T) {
	ca := testkit.NewCA(t, "httptls test CA")
	p := newPair(t)
	cert1, key1 := ca.Issue(t, "127.0.0.1")
	p.replace(t, cert1, key1)
	tl, err := New(Options{CertFile: p.cert, KeyFile: p.key, CheckEvery: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	addr := serve(t, tl)
	cert2, key2 := ca.Issue(t, "127.0.0.1")
	p.replace(t, cert2, key2)
	if got := served(t, addr, ca.Pool); got != serial(t, cert1) {
		t.Fatalf("served %s within the interval, want the certificate in force %s", got, serial(t, cert1))
	}
}

func TestNewRefusesBadFiles(t *testing.T) {
	ca := testkit.NewCA(t, "httptls test CA")
	p := newPair(t)
	cert1, _ := ca.Issue(t, "127.0.0.1")
	_, key2 := ca.Issue(t, "127.0.0.1")
	p.replace(t, cert1, key2)
	_, err := New(Options{CertFile: p.cert, KeyFile: p.key})
	if err == nil || !strings.Contains(err.Error(), "private key does not match public key") {
		t.Fatalf("New with a mismatched pair: %v", err)
	}
	if strings.Contains(err.Error(), string(key2[40:80])) {
		t.Errorf("the error shows key material: %v", err)
	}
}

func TestMinVersion(t *testing.T) {
	ca := testkit.NewCA(t, "httptls test CA")
	p := newPair(t)
	certPEM, keyPEM := ca.Issue(t, "127.0.0.1")
	p.replace(t, certPEM, keyPEM)
	for _, tt := range []struct {
		min, client uint16
		ok          bool
	}{
		{0, tls.VersionTLS11, false},
		{0, tls.VersionTLS12, true},
		{tls.VersionTLS13, tls.VersionTLS12, false},
		{tls.VersionTLS13, tls.VersionTLS13, true},
	} {
		tl, err := New(Options{CertFile: p.cert, KeyFile: p.key, MinVersion: tt.min})
		if err != nil {
			t.Fatal(err)
		}
		addr := serve(t, tl)
		c, err := tls.Dial("tcp", addr, &tls.Config{RootCAs: ca.Pool, ServerName: "127.0.0.1", MinVersion: tt.client, MaxVersion: tt.client})
		if err == nil {
			c.Close()
		}
		if (err == nil) != tt.ok {
			t.Errorf("server min %x, client %x: handshake error %v, want success %v", tt.min, tt.client, err, tt.ok)
		}
	}
}

func TestPlainHandler(t *testing.T) {
	ca := testkit.NewCA(t, "httptls test CA")
	p := newPair(t)
	certPEM, keyPEM := ca.Issue(t, "127.0.0.1")
	p.replace(t, certPEM, keyPEM)
	tl, err := New(Options{CertFile: p.cert, KeyFile: p.key})
	if err != nil {
		t.Fatal(err)
	}
	noFollow := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	for _, tt := range []struct {
		name, publicURL, port, method, host, path, auth string
		status                                          int
		location, message                               string
	}{
		{"get to the https port", "", "8443", "GET", "relay.example.com", "/v1/incidents?limit=3", "", 308,
			"https://relay.example.com:8443/v1/incidents?limit=3", ""},
		{"port 443 needs no port", "", "443", "HEAD", "relay.example.com:80", "/readyz", "", 308, "https://relay.example.com/readyz", ""},
		{"IPv6 address", "", "443", "GET", "[2001:db8::7]", "/", "", 308, "https://[2001:db8::7]/", ""},
		{"to the public url", "https://relay-1.example.com:9443/base", "8443", "GET", "10.0.0.7", "/healthz", "", 308,
			"https://relay-1.example.com:9443/healthz", ""},
		{"post refused", "", "443", "POST", "relay.example.com", "/v1/messages", "", 403, "",
			"this port only redirects to HTTPS: send requests to https://relay.example.com"},
		{"post with a token refused", "", "443", "POST", "relay.example.com", "/v1/messages", "Bearer abc", 403, "",
			"this port only redirects to HTTPS: send requests to https://relay.example.com; the credentials of this request crossed the network in clear text: replace them"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			srv := httptest.NewServer(tl.PlainHandler(tt.publicURL, tt.port))
			defer srv.Close()
			req, _ := http.NewRequest(tt.method, srv.URL+tt.path, strings.NewReader(`{"text":"x"}`))
			req.Host = tt.host
			if tt.auth != "" {
				req.Header.Set("Authorization", tt.auth)
			}
			resp, err := noFollow.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			if resp.StatusCode != tt.status || resp.Header.Get("Location") != tt.location {
				t.Fatalf("%s %s: %d to %q, want %d to %q", tt.method, tt.path, resp.StatusCode, resp.Header.Get("Location"), tt.status, tt.location)
			}
			if tt.message != "" {
				var env problem.Envelope
				if err := json.NewDecoder(resp.Body).Decode(&env); err != nil {
					t.Fatal(err)
				}
				if env.Error.Code != problem.CodeForbidden || env.Error.Message != tt.message {
					t.Errorf("problem = %+v, want %q", env.Error, tt.message)
				}
			}
		})
	}
}

func TestPlainHandlerRedirectsOnlyToDomains(t *testing.T) {
	tl, err := New(Options{ACME: &ACME{Domains: []string{"relay-1.example.com", "relay.example.com"},
		DirectoryURL: "https://127.0.0.1:1/dir", CacheDir: t.TempDir()}})
	if err != nil {
		t.Fatal(err)
	}
	for host, want := range map[string]string{
		"relay.example.com":   "https://relay.example.com/x",
		"evil.example.net":    "https://relay-1.example.com/x",
		"RELAY.example.com:8": "https://relay.example.com/x",
	} {
		rec := httptest.NewRecorder()
		req := httptest.NewRequest("GET", "http://"+host+"/x", nil)
		tl.PlainHandler("", "443").ServeHTTP(rec, req)
		if got := rec.Header().Get("Location"); got != want {
			t.Errorf("Host %s: redirected to %q, want %q", host, got, want)
		}
	}
	// The CA's HTTP-01 request for an unknown token is the challenge
	// handler's, not a redirect.
	rec := httptest.NewRecorder()
	tl.PlainHandler("", "443").ServeHTTP(rec, httptest.NewRequest("GET", "http://relay.example.com/.well-known/acme-challenge/abc", nil))
	if rec.Code != http.StatusNotFound {
		t.Errorf("an unknown challenge token answered %d, want 404", rec.Code)
	}
}

// TestACMEHostPolicy: a handshake naming a domain that is not listed is
// refused before anything is asked of the CA; one naming a listed domain
// goes to the CA.
func TestACMEHostPolicy(t *testing.T) {
	var asked atomic.Int32
	ca := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		asked.Add(1)
		http.NotFound(w, r)
	}))
	defer ca.Close()
	roots := x509.NewCertPool()
	roots.AddCert(ca.Certificate())
	tl, err := New(Options{ACME: &ACME{Domains: []string{"relay-1.example.com"},
		DirectoryURL: ca.URL + "/dir", CacheDir: t.TempDir(), RootCAs: roots}})
	if err != nil {
		t.Fatal(err)
	}
	addr := serve(t, tl)
	if c, err := tls.Dial("tcp", addr, &tls.Config{ServerName: "evil.example.com", InsecureSkipVerify: true}); err == nil {
		c.Close()
		t.Fatal("a handshake for a name not listed got a certificate")
	}
	if n := asked.Load(); n != 0 {
		t.Fatalf("the CA was asked %d times for a name not listed", n)
	}
	if c, err := tls.Dial("tcp", addr, &tls.Config{ServerName: "relay-1.example.com", InsecureSkipVerify: true}); err == nil {
		c.Close()
		t.Fatal("a certificate without a CA")
	}
	if asked.Load() == 0 {
		t.Fatal("the CA was not asked for a listed name")
	}
}

// TestCipherSuites: over TLS 1.2 only forward-secret AEAD suites are
// taken; a client offering CBC alone is refused.
func TestCipherSuites(t *testing.T) {
	ca := testkit.NewCA(t, "httptls test CA")
	p := newPair(t)
	certPEM, keyPEM := ca.Issue(t, "127.0.0.1")
	p.replace(t, certPEM, keyPEM)
	tl, err := New(Options{CertFile: p.cert, KeyFile: p.key})
	if err != nil {
		t.Fatal(err)
	}
	addr := serve(t, tl)
	for _, tt := range []struct {
		suite uint16
		ok    bool
	}{
		{tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256, true},
		{tls.TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384, true},
		{tls.TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256, true},
		{tls.TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA, false},
		{tls.TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA, false},
	} {
		c, err := tls.Dial("tcp", addr, &tls.Config{RootCAs: ca.Pool, ServerName: "127.0.0.1",
			MaxVersion: tls.VersionTLS12, CipherSuites: []uint16{tt.suite}})
		if err == nil {
			c.Close()
		}
		if (err == nil) != tt.ok {
			t.Errorf("%s: handshake error %v, want success %v", tls.CipherSuiteName(tt.suite), err, tt.ok)
		}
	}
}
