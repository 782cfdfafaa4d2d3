// Package httptls gives a relay node's HTTP listener its TLS: a
// certificate read from files and read again when they change, or
// certificates issued and renewed by an ACME CA (with
// golang.org/x/crypto/acme/autocert); and the handler of the plain-HTTP
// port, which redirects to HTTPS and answers the CA's HTTP-01 challenges.
package httptls

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/crypto/acme"
	"golang.org/x/crypto/acme/autocert"
)

// DefaultCheckEvery is how often, at most, the certificate files are
// looked at for a change: on a handshake, never more than once a second,
// so that a renewed certificate is served within a second of being
// written and a busy node does not stat its files on every connection.
const DefaultCheckEvery = time.Second

// cipherSuites are the TLS 1.2 suites taken, those of Mozilla's
// intermediate configuration: ECDHE for forward secrecy, and AEADs only,
// no CBC. TLS 1.3's suites are all so and are not configurable.
func cipherSuites() []uint16 {
	return []uint16{
		tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
		tls.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
		tls.TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
		tls.TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
		tls.TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
		tls.TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
	}
}

// Options say where a node's certificate comes from: CertFile and
// KeyFile, or ACME.
type Options struct {
	// CertFile is a certificate chain in PEM, the node's own first, and
	// KeyFile its private key in PEM.
	CertFile, KeyFile string
	// ACME, when set, has certificates issued by an ACME CA instead.
	ACME *ACME
	// MinVersion is the oldest TLS version accepted; zero means TLS 1.2.
	MinVersion uint16
	// CheckEvery bounds how often the files are looked at for a change.
	// Zero means DefaultCheckEvery.
	CheckEvery time.Duration
	Logger     *slog.Logger
	Registerer prometheus.Registerer
}

// ACME configures certificates from an ACME CA.
type ACME struct {
	// Domains are the only names certificates are requested for; a
	// handshake naming another is refused.
	Domains []string
	// Email is given to the CA for its notices; optional.
	Email string
	// DirectoryURL is the CA's directory.
	DirectoryURL string
	// CacheDir keeps the account key and certificates across restarts.
	CacheDir string
	// RootCAs, when set, is trusted for the CA's HTTPS instead of the
	// system's roots.
	RootCAs *x509.CertPool
}

// TLS is a node's server TLS.
type TLS struct {
	config  *tls.Config
	manager *autocert.Manager // nil unless ACME
	domains []string
	expiry  prometheus.Gauge
}

// New reads the certificate files, or prepares the ACME client, and
// returns the TLS that serves them. Requests to the ACME CA start with the
// first handshake that names one of the domains; autocert renews a
// certificate 30 days before it expires.
func New(opts Options) (*TLS, error) {
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	reg := opts.Registerer
	if reg == nil {
		reg = prometheus.NewRegistry()
	}
	t := &TLS{expiry: prometheus.NewGauge(prometheus.GaugeOpts{
		Namespace: "relay", Subsystem: "http_tls", Name: "certificate_expiry_timestamp_seconds",
		Help: "When the certificate last served on the HTTPS listener expires, in seconds since 1970.",
	})}
	reloads := prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: "relay", Subsystem: "http_tls", Name: "certificate_reloads_total",
		Help: "Changes of the certificate files: loaded and served, or failed to load and left the old certificate in place.",
	}, []string{"result"})
	for _, r := range []string{"loaded", "failed"} {
		reloads.WithLabelValues(r)
	}
	if err := errors.Join(reg.Register(t.expiry), reg.Register(reloads)); err != nil {
		return nil, err
	}
	t.config = &tls.Config{MinVersion: opts.MinVersion, CipherSuites: cipherSuites()}
	if t.config.MinVersion == 0 {
		t.config.MinVersion = tls.VersionTLS12
	}
	var get func(*tls.ClientHelloInfo) (*tls.Certificate, error)
	switch {
	case opts.ACME != nil:
		t.manager = newManager(opts.ACME)
		t.domains = opts.ACME.Domains
		get = t.manager.GetCertificate
		// TLS-ALPN-01: the CA connects with only this protocol and gets
		// the challenge's certificate.
		t.config.NextProtos = []string{"h2", "http/1.1", acme.ALPNProto}
	default:
		every := opts.CheckEvery
		if every <= 0 {
			every = DefaultCheckEvery
		}
		f, err := loadFiles(opts.CertFile, opts.KeyFile, every, log, reloads)
		if err != nil {
			return nil, err
		}
		t.expiry.Set(float64(f.current().Leaf.NotAfter.Unix()))
		if left := time.Until(f.current().Leaf.NotAfter); left < 7*24*time.Hour {
			log.Warn("the HTTPS certificate expires soon or has expired", "file", opts.CertFile, "not_after", f.current().Leaf.NotAfter)
		}
		get = f.getCertificate
	}
	t.config.GetCertificate = func(hello *tls.ClientHelloInfo) (*tls.Certificate, error) {
		c, err := get(hello)
		if err == nil && c.Leaf != nil && !challenge(hello) {
			t.expiry.Set(float64(c.Leaf.NotAfter.Unix()))
		}
		return c, err
	}
	return t, nil
}

// Config returns the TLS configuration of the HTTPS listener, for
// http.Server.TLSConfig.
func (t *TLS) Config() *tls.Config { return t.config }

// challenge reports whether a handshake is an ACME CA's TLS-ALPN-01
// validation, whose certificate is the challenge's, not the node's.
func challenge(hello *tls.ClientHelloInfo) bool {
	return len(hello.SupportedProtos) == 1 && hello.SupportedProtos[0] == acme.ALPNProto
}

// newManager makes the autocert manager of a, agreeing to the CA's terms
// of service as Caddy and certbot --agree-tos do.
func newManager(a *ACME) *autocert.Manager {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.TLSClientConfig = &tls.Config{MinVersion: tls.VersionTLS12, RootCAs: a.RootCAs}
	tr.DialContext = (&net.Dialer{Timeout: 10 * time.Second}).DialContext
	tr.TLSHandshakeTimeout = 10 * time.Second
	return &autocert.Manager{
		Prompt:     autocert.AcceptTOS,
		Cache:      autocert.DirCache(a.CacheDir),
		HostPolicy: autocert.HostWhitelist(a.Domains...),
		Email:      a.Email,
		Client: &acme.Client{
			DirectoryURL: a.DirectoryURL,
			UserAgent:    "relay",
			HTTPClient:   &http.Client{Transport: tr, Timeout: time.Minute},
		},
	}
}
