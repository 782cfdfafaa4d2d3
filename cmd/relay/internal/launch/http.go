package launch

import (
	"crypto/x509"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/oob-relay/relay/cmd/relay/internal/httptls"
	"github.com/oob-relay/relay/config"
)

// newHTTPServer bounds what one client can hold: slow headers, bodies
// and readers, idle connections and large headers.
func newHTTPServer(h http.Handler, log *slog.Logger) *http.Server {
	return &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
}

// serve serves s.http on ln, in HTTPS when http.tls is set, and the
// plain-HTTP port beside it when http.tls.redirect_listen is set. It sets
// s.URL and the API URL the node publishes to its peers.
func (s *Server) serve(cfg *config.Config, ln net.Listener, log *slog.Logger, reg prometheus.Registerer) error {
	t := cfg.HTTP.TLS
	if t == nil {
		s.URL = "http://" + ln.Addr().String()
		s.api = s.URL
		if !loopbackListener(ln) {
			log.Warn("the API is served in plain HTTP on an address that is not loopback: tokens and messages cross the network "+
				"in clear text unless a TLS proxy is in front (http.tls serves HTTPS)", "listen", ln.Addr().String())
		}
		go func() { s.served <- s.http.Serve(ln) }()
		return nil
	}
	opts := httptls.Options{CertFile: t.CertFile, KeyFile: t.KeyFile, MinVersion: t.TLSVersion(), Logger: log, Registerer: reg}
	if a := t.ACME; a != nil {
		opts.ACME = &httptls.ACME{Domains: a.Domains, Email: a.Email, DirectoryURL: a.DirectoryURL, CacheDir: a.CacheDir}
		if a.CAFile != "" {
			pool, err := caPool(a.CAFile)
			if err != nil {
				return fmt.Errorf("http.tls.acme.ca_file: %w", err)
			}
			opts.ACME.RootCAs = pool
		}
	}
	tl, err := httptls.New(opts)
	if err != nil {
		return fmt.Errorf("http.tls: %w", err)
	}
	s.http.TLSConfig = tl.Config()
	s.URL = "https://" + ln.Addr().String()
	s.api = s.URL
	if u, err := url.Parse(cfg.HTTP.PublicURL); err == nil && u.Scheme == "https" {
		// Certificates name the public host, not the listener's address.
		s.api = cfg.HTTP.PublicURL
	}
	if t.RedirectListen != "" {
		pln, err := net.Listen("tcp", t.RedirectListen)
		if err != nil {
			return fmt.Errorf("http.tls.redirect_listen: %w", err)
		}
		_, port, _ := net.SplitHostPort(ln.Addr().String())
		s.plain = newHTTPServer(tl.PlainHandler(cfg.HTTP.PublicURL, port), log)
		go func() { s.served <- s.plain.Serve(pln) }()
		log.Info("plain HTTP redirects to HTTPS", "listen", pln.Addr().String())
	}
	go func() { s.served <- s.http.ServeTLS(ln, "", "") }()
	return nil
}

// loopbackListener reports whether ln takes connections from this
// machine only.
func loopbackListener(ln net.Listener) bool {
	a, ok := ln.Addr().(*net.TCPAddr)
	return !ok || a.IP.IsLoopback()
}

// caPool reads a PEM bundle of certificates.
func caPool(path string) (*x509.CertPool, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(data) {
		return nil, fmt.Errorf("%s holds no PEM certificate", path)
	}
	return pool, nil
}
