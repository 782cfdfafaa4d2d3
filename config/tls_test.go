package config

import (
	"crypto/tls"
	"path/filepath"
	"strings"
	"testing"

	"github.com/oob-relay/relay/internal/testkit"
)

func TestValidateTLS(t *testing.T) {
	files := func(c *Config) { c.HTTP.TLS = &TLS{CertFile: "tls/relay.pem", KeyFile: "tls/relay-key.pem"} }
	acme := func(c *Config) { c.HTTP.TLS = &TLS{ACME: &ACME{Domains: []string{"relay-1.example.com"}}} }
	tests := []struct {
		name   string
		mutate func(*Config)
		want   string // the whole error text; empty means valid
	}{
		{"certificate files", files, ""},
		{"acme", acme, ""},
		{"acme with everything", func(c *Config) {
			acme(c)
			c.HTTP.TLS.ACME.Domains = append(c.HTTP.TLS.ACME.Domains, "relay.example.com")
			c.HTTP.TLS.ACME.Email, c.HTTP.TLS.ACME.DirectoryURL = "ops@example.com", "https://127.0.0.1:14000/dir"
			c.HTTP.TLS.ACME.CacheDir, c.HTTP.TLS.ACME.CAFile = "/var/cache/relay-acme", "pebble.pem"
			c.HTTP.TLS.MinVersion, c.HTTP.TLS.RedirectListen = "1.3", ":80"
		}, ""},
		{"https public url from a node on http", func(c *Config) { c.HTTP.PublicURL = "https://relay-1.example.com" }, ""},

		{"empty", func(c *Config) { c.HTTP.TLS = &TLS{} }, "http.tls: set cert_file and key_file, or acme"},
		{"no key", func(c *Config) { files(c); c.HTTP.TLS.KeyFile = "" },
			"http.tls.key_file: is required with cert_file (the certificate's private key in PEM)"},
		{"no certificate", func(c *Config) { files(c); c.HTTP.TLS.CertFile = "" },
			"http.tls.cert_file: is required with key_file (the certificate chain in PEM)"},
		{"files and acme", func(c *Config) { acme(c); c.HTTP.TLS.CertFile, c.HTTP.TLS.KeyFile = "a.pem", "b.pem" },
			"http.tls.acme: cannot be combined with cert_file and key_file; the certificate comes from one or the other"},
		{"tls 1.1", func(c *Config) { files(c); c.HTTP.TLS.MinVersion = "1.1" }, `http.tls.min_version: "1.1" must be 1.2 or 1.3`},
		{"redirect without port", func(c *Config) { files(c); c.HTTP.TLS.RedirectListen = "0.0.0.0" },
			`http.tls.redirect_listen: "0.0.0.0" must be host:port, such as :80`},
		{"redirect port", func(c *Config) { files(c); c.HTTP.TLS.RedirectListen = ":80000" },
			`http.tls.redirect_listen: ":80000" has port "80000"; a port is a number from 0 to 65535`},
		{"redirect on the https port", func(c *Config) { files(c); c.HTTP.Listen, c.HTTP.TLS.RedirectListen = ":443", ":443" },
			`http.tls.redirect_listen: ":443" is http.listen too; plain HTTP needs a port of its own, such as :80`},
		{"acme without domains", func(c *Config) { acme(c); c.HTTP.TLS.ACME.Domains = nil },
			"http.tls.acme.domains: at least one is required: the names this node answers at, such as relay-seoul-1.example.com"},
		{"acme for an address", func(c *Config) { acme(c); c.HTTP.TLS.ACME.Domains[0] = "203.0.113.7" },
			`http.tls.acme.domains[0]: "203.0.113.7" is an IP address; ACME certificates here are for names, such as relay-seoul-1.example.com`},
		{"acme wildcard", func(c *Config) { acme(c); c.HTTP.TLS.ACME.Domains[0] = "*.example.com" },
			`http.tls.acme.domains[0]: "*.example.com" must be a lower-case domain name without wildcards, such as relay-seoul-1.example.com`},
		{"acme upper case", func(c *Config) { acme(c); c.HTTP.TLS.ACME.Domains[0] = "Relay.example.com" },
			`http.tls.acme.domains[0]: "Relay.example.com" must be a lower-case domain name without wildcards, such as relay-seoul-1.example.com`},
		{"acme single label", func(c *Config) { acme(c); c.HTTP.TLS.ACME.Domains[0] = "relay" },
			`http.tls.acme.domains[0]: "relay" must be a lower-case domain name without wildcards, such as relay-seoul-1.example.com`},
		{"acme twice the same domain", func(c *Config) {
			acme(c)
			c.HTTP.TLS.ACME.Domains = append(c.HTTP.TLS.ACME.Domains, "relay-1.example.com")
		}, `http.tls.acme.domains[1]: "relay-1.example.com" is also http.tls.acme.domains[0]`},
		{"acme email", func(c *Config) { acme(c); c.HTTP.TLS.ACME.Email = "Ops <ops@example.com>" },
			`http.tls.acme.email: "Ops <ops@example.com>" must be an address such as ops@example.com`},
		{"acme directory over http", func(c *Config) { acme(c); c.HTTP.TLS.ACME.DirectoryURL = "http://acme.example.com/dir" },
			`http.tls.acme.directory_url: "http://acme.example.com/dir" must be an https URL such as https://acme-v02.api.letsencrypt.org/directory`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := validBase(t)
			tt.mutate(c)
			c.SetDefaults()
			got := ""
			if err := c.Validate(); err != nil {
				got = err.Error()
			}
			if got != tt.want {
				t.Errorf("Validate() =\n%s\nwant\n%s", got, tt.want)
			}
		})
	}
}

func TestTLSDefaults(t *testing.T) {
	c := validBase(t)
	c.HTTP.TLS = &TLS{ACME: &ACME{Domains: []string{"relay-1.example.com"}}}
	c.SetDefaults()
	a := c.HTTP.TLS.ACME
	if c.HTTP.TLS.MinVersion != "1.2" || c.HTTP.TLS.TLSVersion() != tls.VersionTLS12 ||
		a.DirectoryURL != DefaultACMEDirectory || a.CacheDir != filepath.Join("data", "acme") {
		t.Errorf("defaults: %+v, acme %+v", c.HTTP.TLS, a)
	}
	c.HTTP.TLS.MinVersion = "1.3"
	if c.HTTP.TLS.TLSVersion() != tls.VersionTLS13 {
		t.Error("min_version 1.3 is not TLS 1.3")
	}
}

// TestLoadTLS reads the certificate files as the node would, and names
// the key of each file that cannot serve.
func TestLoadTLS(t *testing.T) {
	ca := testkit.NewCA(t, "config test CA")
	certPEM, keyPEM := ca.Issue(t, "127.0.0.1")
	_, otherKey := ca.Issue(t, "127.0.0.1")
	base := "node: {name: n1, data_dir: data}\napi: {tokens: [{name: a, role: admin, token: admin-token-0123456789}]}\n"
	tests := []struct {
		name  string
		files map[string]string
		want  string // $DIR stands for the config's folder; empty means it loads
	}{
		{"good pair", map[string]string{"relay.yaml": base + "http: {tls: {cert_file: tls/c.pem, key_file: tls/k.pem}}",
			"tls/c.pem": string(certPEM), "tls/k.pem": string(keyPEM)}, ""},
		{"no certificate file", map[string]string{"relay.yaml": base + "http: {tls: {cert_file: tls/c.pem, key_file: tls/k.pem}}",
			"tls/k.pem": string(keyPEM)},
			"http.tls.cert_file: cannot read $DIR/tls/c.pem: no such file or directory"},
		{"not a certificate", map[string]string{"relay.yaml": base + "http: {tls: {cert_file: tls/c.pem, key_file: tls/k.pem}}",
			"tls/c.pem": string(keyPEM), "tls/k.pem": string(keyPEM)},
			"http.tls.cert_file: $DIR/tls/c.pem holds no PEM certificate"},
		{"no key file", map[string]string{"relay.yaml": base + "http: {tls: {cert_file: tls/c.pem, key_file: tls/k.pem}}",
			"tls/c.pem": string(certPEM)},
			"http.tls.key_file: cannot read $DIR/tls/k.pem: no such file or directory"},
		{"key of another certificate", map[string]string{"relay.yaml": base + "http: {tls: {cert_file: tls/c.pem, key_file: tls/k.pem}}",
			"tls/c.pem": string(certPEM), "tls/k.pem": string(otherKey)},
			"http.tls.key_file: $DIR/tls/k.pem with the certificate of $DIR/tls/c.pem: tls: private key does not match public key"},
		{"certificate as the key", map[string]string{"relay.yaml": base + "http: {tls: {cert_file: tls/c.pem, key_file: tls/k.pem}}",
			"tls/c.pem": string(certPEM), "tls/k.pem": string(certPEM)},
			"http.tls.key_file: $DIR/tls/k.pem with the certificate of $DIR/tls/c.pem: tls: found a certificate rather than a key in the PEM for the private key"},
		{"acme ca file", map[string]string{"relay.yaml": base + "http: {tls: {acme: {domains: [relay.example.com], ca_file: ca.pem}}}",
			"ca.pem": string(ca.PEM)}, ""},
		{"acme ca file without certificates", map[string]string{"relay.yaml": base + "http: {tls: {acme: {domains: [relay.example.com], ca_file: ca.pem}}}",
			"ca.pem": "not PEM"},
			"http.tls.acme.ca_file: $DIR/ca.pem holds no PEM certificate"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := writeFiles(t, tt.files)
			c, err := Load(filepath.Join(dir, "relay.yaml"), envOf(nil))
			want := strings.ReplaceAll(tt.want, "$DIR", dir)
			got := ""
			if err != nil {
				got = err.Error()
			}
			if got != want {
				t.Fatalf("Load error:\n%s\nwant:\n%s", got, want)
			}
			if err != nil {
				if strings.Contains(got, "PRIVATE KEY") || strings.Contains(got, string(keyPEM[30:60])) {
					t.Errorf("the error shows key material: %s", got)
				}
				return
			}
			if tl := c.HTTP.TLS; tl.CertFile != "" && (tl.CertFile != filepath.Join(dir, "tls/c.pem") || tl.KeyFile != filepath.Join(dir, "tls/k.pem")) {
				t.Errorf("paths not resolved: %+v", tl)
			}
			if a := c.HTTP.TLS.ACME; a != nil && (a.CacheDir != filepath.Join(dir, "data", "acme") || a.CAFile != filepath.Join(dir, "ca.pem")) {
				t.Errorf("acme paths not resolved: %+v", a)
			}
		})
	}
}
