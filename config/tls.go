package config

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"net"
	"net/mail"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
)

// TLS defaults, each with the reason it was chosen.
const (
	// DefaultACMEDirectory is Let's Encrypt's production directory, the CA
	// most nodes on the internet use.
	DefaultACMEDirectory = "https://acme-v02.api.letsencrypt.org/directory"
	// DefaultTLSMinVersion keeps every client of the last decade while
	// refusing TLS 1.0 and 1.1, which current browsers and Go refuse too.
	DefaultTLSMinVersion = "1.2"
)

// TLS makes the node serve its API and webhooks over HTTPS on
// http.listen. The certificate comes from files (CertFile and KeyFile,
// read again when they change) or from an ACME CA (ACME); set one.
type TLS struct {
	// CertFile is the certificate chain in PEM, the node's own first;
	// KeyFile is its private key in PEM. Relative paths resolve against
	// the config file's folder. The node checks both files for changes
	// once a second, on a connection, and serves a new pair from the next
	// handshake on; a new pair that does not load leaves the old one in
	// place and is logged once.
	CertFile string `yaml:"cert_file"`
	KeyFile  string `yaml:"key_file"`
	// ACME has the certificate issued and renewed by an ACME CA such as
	// Let's Encrypt, for a node that the CA reaches on the internet.
	ACME *ACME `yaml:"acme"`
	// MinVersion is the oldest TLS version accepted: 1.2 or 1.3.
	// Default DefaultTLSMinVersion.
	MinVersion string `yaml:"min_version"`
	// RedirectListen, when set, is a host:port where plain HTTP is
	// answered: GET and HEAD are redirected to HTTPS, other requests
	// refused, and with ACME the CA's HTTP-01 challenges answered. The CA
	// asks on port 80.
	RedirectListen string `yaml:"redirect_listen"`
}

// ACME configures certificates from an ACME CA (RFC 8555). The CA proves
// the node answers for each domain with the TLS-ALPN-01 challenge on
// http.listen (the CA connects to port 443), or, when
// http.tls.redirect_listen is set, also with HTTP-01 there (port 80).
type ACME struct {
	// Domains are the names the node answers at, which the certificate
	// covers; a connection naming another gets no certificate. At least
	// one is required; no wildcards.
	Domains []string `yaml:"domains"`
	// Email is given to the CA for notices about the certificates.
	// Optional.
	Email string `yaml:"email"`
	// DirectoryURL is the CA's ACME directory. Default
	// DefaultACMEDirectory.
	DirectoryURL string `yaml:"directory_url"`
	// CacheDir keeps the account key and the certificates across
	// restarts, so that a restart does not ask the CA again. Default
	// <node.data_dir>/acme.
	CacheDir string `yaml:"cache_dir"`
	// CAFile is a PEM bundle trusted for the directory's HTTPS instead of
	// the system's roots, for a private ACME CA.
	CAFile string `yaml:"ca_file"`
}

// domainPattern matches a DNS name of at least two labels in lower case.
var domainPattern = regexp.MustCompile(`^[a-z0-9](?:[a-z0-9-]*[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]*[a-z0-9])?)+$`)

// TLSVersion returns the crypto/tls version of a valid MinVersion.
func (t *TLS) TLSVersion() uint16 {
	if t.MinVersion == "1.3" {
		return tls.VersionTLS13
	}
	return tls.VersionTLS12
}

func (t *TLS) setDefaults(dataDir string) {
	if t.MinVersion == "" {
		t.MinVersion = DefaultTLSMinVersion
	}
	if a := t.ACME; a != nil {
		if a.DirectoryURL == "" {
			a.DirectoryURL = DefaultACMEDirectory
		}
		if a.CacheDir == "" && dataDir != "" {
			a.CacheDir = filepath.Join(dataDir, "acme")
		}
	}
}

func (t *TLS) validate(listen string, bad func(key, format string, args ...any)) {
	files := t.CertFile != "" || t.KeyFile != ""
	switch {
	case t.ACME == nil && !files:
		bad("http.tls", "set cert_file and key_file, or acme")
	case t.ACME != nil && files:
		bad("http.tls.acme", "cannot be combined with cert_file and key_file; the certificate comes from one or the other")
	case t.CertFile == "" && t.KeyFile != "":
		bad("http.tls.cert_file", "is required with key_file (the certificate chain in PEM)")
	case t.CertFile != "" && t.KeyFile == "":
		bad("http.tls.key_file", "is required with cert_file (the certificate's private key in PEM)")
	}
	if t.MinVersion != "1.2" && t.MinVersion != "1.3" {
		bad("http.tls.min_version", "%q must be 1.2 or 1.3", t.MinVersion)
	}
	if t.RedirectListen != "" {
		if _, port, err := net.SplitHostPort(t.RedirectListen); err != nil {
			bad("http.tls.redirect_listen", "%q must be host:port, such as :80", t.RedirectListen)
		} else if n, err := strconv.Atoi(port); err != nil || n < 0 || n > 65535 {
			bad("http.tls.redirect_listen", "%q has port %q; a port is a number from 0 to 65535", t.RedirectListen, port)
		} else if t.RedirectListen == listen {
			bad("http.tls.redirect_listen", "%q is http.listen too; plain HTTP needs a port of its own, such as :80", t.RedirectListen)
		}
	}
	if t.ACME != nil {
		t.ACME.validate(bad)
	}
}

func (a *ACME) validate(bad func(key, format string, args ...any)) {
	if len(a.Domains) == 0 {
		bad("http.tls.acme.domains", "at least one is required: the names this node answers at, such as relay-seoul-1.example.com")
	}
	seen := map[string]int{}
	for i, d := range a.Domains {
		key := fmt.Sprintf("http.tls.acme.domains[%d]", i)
		switch {
		case net.ParseIP(d) != nil:
			bad(key, "%q is an IP address; ACME certificates here are for names, such as relay-seoul-1.example.com", d)
		case !domainPattern.MatchString(d):
			bad(key, "%q must be a lower-case domain name without wildcards, such as relay-seoul-1.example.com", d)
		default:
			if j, dup := seen[d]; dup {
				bad(key, "%q is also http.tls.acme.domains[%d]", d, j)
			}
			seen[d] = i
		}
	}
	if a.Email != "" {
		if m, err := mail.ParseAddress(a.Email); err != nil || m.Name != "" || m.Address != a.Email {
			bad("http.tls.acme.email", "%q must be an address such as ops@example.com", a.Email)
		}
	}
	if u, err := url.Parse(a.DirectoryURL); err != nil || u.Scheme != "https" || u.Host == "" || u.User != nil {
		bad("http.tls.acme.directory_url", "%q must be an https URL such as %s", a.DirectoryURL, DefaultACMEDirectory)
	}
	if a.CacheDir == "" {
		bad("http.tls.acme.cache_dir", "is required (a folder for the account key and certificates; default node.data_dir/acme)")
	}
}

// resolve makes the TLS paths absolute and reads the certificate and key
// files, and the ACME CA file, so that a bad file is found before the
// node starts. Errors name the key and never hold key material.
func (t *TLS) resolve(path func(string) string) []error {
	var errs []error
	if t.CertFile != "" && t.KeyFile != "" {
		t.CertFile, t.KeyFile = path(t.CertFile), path(t.KeyFile)
		if _, err := loadKeyPair(t.CertFile, t.KeyFile); err != nil {
			errs = append(errs, err)
		}
	}
	if a := t.ACME; a != nil {
		a.CacheDir = path(a.CacheDir)
		if a.CAFile != "" {
			a.CAFile = path(a.CAFile)
			if _, err := loadCAFile(a.CAFile); err != nil {
				errs = append(errs, fmt.Errorf("http.tls.acme.ca_file: %w", err))
			}
		}
	}
	return errs
}

// loadKeyPair reads a certificate chain and its private key from PEM
// files. Its errors start with the key at fault, http.tls.cert_file or
// http.tls.key_file, and never hold key material.
func loadKeyPair(certFile, keyFile string) (*tls.Certificate, error) {
	certPEM, err := os.ReadFile(certFile)
	if err != nil {
		return nil, fmt.Errorf("http.tls.cert_file: %w", pathError(err))
	}
	if !hasCertificate(certPEM) {
		return nil, fmt.Errorf("http.tls.cert_file: %s holds no PEM certificate", certFile)
	}
	keyPEM, err := os.ReadFile(keyFile)
	if err != nil {
		return nil, fmt.Errorf("http.tls.key_file: %w", pathError(err))
	}
	pair, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		return nil, fmt.Errorf("http.tls.key_file: %s with the certificate of %s: %v", keyFile, certFile, err)
	}
	return &pair, nil
}

// loadCAFile reads a PEM bundle of certificates into a pool.
func loadCAFile(path string) (*x509.CertPool, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, pathError(err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(data) {
		return nil, fmt.Errorf("%s holds no PEM certificate", path)
	}
	return pool, nil
}

// hasCertificate reports whether data holds a PEM certificate that
// parses.
func hasCertificate(data []byte) bool {
	for {
		var b *pem.Block
		b, data = pem.Decode(data)
		if b == nil {
			return false
		}
		if b.Type == "CERTIFICATE" {
			if _, err := x509.ParseCertificate(b.Bytes); err == nil {
				return true
			}
		}
	}
}

// pathError says what went wrong with a file in the words of its
// operation: "cannot read /etc/relay/tls.pem: no such file or directory".
func pathError(err error) error {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return fmt.Errorf("cannot read %s: %v", pe.Path, pe.Err)
	}
	return err
}
