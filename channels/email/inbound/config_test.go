package inbound

import (
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/oob-relay/relay/channels/email/mailsink"
	"github.com/oob-relay/relay/relay/secret"
)

func validConfig() Config {
	return Config{
		Listen:    "127.0.0.1:2525",
		Domain:    "relay.example.com",
		ReplyKeys: []secret.String{secret.New(keySecret)},
		Auth:      []AuthUser{{Username: botUser, Password: secret.New(botPassword)}},
	}
}

func TestConfigValidate(t *testing.T) {
	for _, tc := range []struct {
		name    string
		mutate  func(*Config)
		wantErr string
	}{
		{name: "valid", mutate: func(*Config) {}},
		{name: "defaults", mutate: func(c *Config) { c.Listen, c.Auth = "", nil }},
		{name: "listen not host:port", mutate: func(c *Config) { c.Listen, c.Auth = "relay", nil },
			wantErr: `listen: "relay" must be host:port, such as :25 or 192.0.2.10:25`},
		{name: "listen bad port", mutate: func(c *Config) { c.Listen, c.Auth = ":smtp", nil },
			wantErr: `listen: ":smtp" has port "smtp", which is not a port number`},
		{name: "listen host name", mutate: func(c *Config) { c.Listen, c.Auth = "mx.example.com:25", nil },
			wantErr: `listen: "mx.example.com:25" has host "mx.example.com", which is not an IP address`},
		{name: "no domain", mutate: func(c *Config) { c.Domain = "" },
			wantErr: "domain: is required (the mail domain replies go to, such as relay.example.com)"},
		{name: "bad domain", mutate: func(c *Config) { c.Domain = "relay@example.com" },
			wantErr: `domain: "relay@example.com" is not a domain name such as relay.example.com`},
		{name: "short key", mutate: func(c *Config) { c.ReplyKeys = append(c.ReplyKeys, secret.New("too-short")) },
			wantErr: "reply_keys[1]: is 9 bytes; at least 32 are needed (such as the output of: openssl rand -base64 48)"},
		{name: "negative max_bytes", mutate: func(c *Config) { c.MaxBytes = -1 },
			wantErr: "max_bytes: -1 must not be negative"},
		{name: "auth without username", mutate: func(c *Config) { c.Auth[0].Username = "" },
			wantErr: "auth[0].username: is required"},
		{name: "auth twice", mutate: func(c *Config) { c.Auth = append(c.Auth, c.Auth[0]) },
			wantErr: `auth[1].username: "monitor" is listed twice`},
		{name: "auth without password", mutate: func(c *Config) { c.Auth[0].Password = secret.String{} },
			wantErr: "auth[0].password: is required (or password_env or password_file)"},
		{name: "auth off loopback without TLS", mutate: func(c *Config) { c.Listen = ":25" },
			wantErr: "auth: needs tls_cert_file and tls_key_file: AUTH PLAIN is offered only after STARTTLS or on loopback, and listen is not loopback"},
		{name: "auth off loopback with TLS", mutate: func(c *Config) { c.Listen, c.TLSCertFile, c.TLSKeyFile = ":25", "cert.pem", "key.pem" }},
		{name: "cert without key", mutate: func(c *Config) { c.TLSCertFile = "cert.pem" },
			wantErr: "tls_cert_file: and tls_key_file must be set together"},
		{name: "bot with audience and severity", mutate: func(c *Config) {
			c.Auth[0].Bot, c.Auth[0].To, c.Auth[0].Severity = "mail-alerts", []string{"group:oncall", "everyone"}, "critical"
		}},
		{name: "bot audience", mutate: func(c *Config) { c.Auth[0].To = []string{"oncall"} },
			wantErr: `auth[0].to[0]: "oncall" is not an audience: use "person:<id>", "group:<id>", "role:<role>", "schedule:<id>", "escalation:<id>" or "everyone"`},
		{name: "bot severity", mutate: func(c *Config) { c.Auth[0].Severity = "urgent" },
			wantErr: `auth[0].severity: "urgent" must be one of critical, warning and info`},
		{name: "bot name", mutate: func(c *Config) { c.Auth[0].Bot = "mail\nalerts" },
			wantErr: "auth[0].bot: must be at most 64 bytes of text without control characters"},
		{name: "negative limit", mutate: func(c *Config) { c.MessagesPerMinutePerIP = -1 },
			wantErr: "messages_per_minute_per_ip: -1 must not be negative"},
		{name: "share over total", mutate: func(c *Config) { c.MaxConnections, c.MaxConnectionsPerIP = 5, 10 },
			wantErr: "max_connections_per_ip: 10 is more than max_connections, 5"},
		{name: "resolver", mutate: func(c *Config) { c.Resolver = "[::1]:53" }},
		{name: "resolver host name", mutate: func(c *Config) { c.Resolver = "dns.example.com:53" },
			wantErr: `resolver: "dns.example.com:53" has host "dns.example.com", which is not an IP address`},
		{name: "resolver without port", mutate: func(c *Config) { c.Resolver = "127.0.0.1" },
			wantErr: `resolver: "127.0.0.1" must be host:port, such as 127.0.0.1:53`},
		{name: "trusted upstream", mutate: func(c *Config) {
			c.TrustedUpstream = &TrustedUpstream{AuthservID: "mx.example.com", Networks: []string{"192.0.2.0/28", "2001:db8::1"}}
		}},
		{name: "trusted upstream incomplete", mutate: func(c *Config) {
			c.TrustedUpstream = &TrustedUpstream{Networks: []string{"192.0.2.0/33"}}
		}, wantErr: "trusted_upstream.authserv_id: is required: the name the gateway puts first in its Authentication-Results, such as mx.example.com\n" +
			`trusted_upstream.networks[0]: "192.0.2.0/33" is not an address or a CIDR prefix such as 192.0.2.0/28`},
		{name: "trusted upstream without networks", mutate: func(c *Config) { c.TrustedUpstream = &TrustedUpstream{AuthservID: "mx.example.com"} },
			wantErr: "trusted_upstream.networks: is required: the addresses the gateway connects from, such as 192.0.2.0/28"},
		{name: "several problems", mutate: func(c *Config) { c.Domain, c.MaxBytes = "", -5 },
			wantErr: "domain: is required (the mail domain replies go to, such as relay.example.com)\nmax_bytes: -5 must not be negative"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := validConfig()
			tc.mutate(&c)
			err := c.Validate()
			switch {
			case tc.wantErr == "" && err != nil:
				t.Fatalf("Validate: %v", err)
			case tc.wantErr != "" && (err == nil || err.Error() != tc.wantErr):
				t.Fatalf("Validate: %v\nwant: %s", err, tc.wantErr)
			}
		})
	}
}

func TestConfigYAMLAndDefaults(t *testing.T) {
	var c Config
	dec := yaml.NewDecoder(strings.NewReader(`
domain: relay.example.com
reply_keys_env: RELAY_REPLY_KEYS
auth:
  - username: monitor
    password_file: bot.pw
tls_cert_file: tls/cert.pem
tls_key_file: tls/key.pem
`))
	dec.KnownFields(true)
	if err := dec.Decode(&c); err != nil {
		t.Fatal(err)
	}
	c.SetDefaults()
	if c.Listen != DefaultListen || c.MaxBytes != DefaultMaxBytes {
		t.Errorf("defaults: listen %q, max_bytes %d", c.Listen, c.MaxBytes)
	}
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "bot.pw"), []byte(botPassword+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	newKey := strings.Repeat("n", 40)
	env := map[string]string{"RELAY_REPLY_KEYS": newKey + "\n" + keySecret}
	if err := c.ResolveSecrets(dir, func(k string) string { return env[k] }); err != nil {
		t.Fatal(err)
	}
	if len(c.ReplyKeys) != 2 || c.ReplyKeys[0].Reveal() != newKey || c.ReplyKeys[1].Reveal() != keySecret ||
		c.ReplyKeysEnv != "" || c.Auth[0].Password.Reveal() != botPassword || c.Auth[0].PasswordFile != "" {
		t.Fatalf("resolved: %+v", c)
	}
	if c.TLSCertFile != filepath.Join(dir, "tls/cert.pem") || c.TLSKeyFile != filepath.Join(dir, "tls/key.pem") {
		t.Errorf("TLS paths %q %q", c.TLSCertFile, c.TLSKeyFile)
	}
	// Resolving twice changes nothing.
	if err := c.ResolveSecrets(dir, nil); err != nil {
		t.Fatal(err)
	}
	if len(c.ReplyKeys) != 2 {
		t.Errorf("second resolve: %d keys", len(c.ReplyKeys))
	}
}

func TestConfigResolveErrors(t *testing.T) {
	c := validConfig()
	c.ReplyKeysEnv = "RELAY_REPLY_KEYS"
	c.Auth[0].PasswordEnv = "BOT_PW"
	err := c.ResolveSecrets(t.TempDir(), func(string) string { return "" })
	want := "reply_keys: set only one of reply_keys, reply_keys_env and reply_keys_file\n" +
		"auth[0].password: set only one of password, password_env and password_file"
	if err == nil || err.Error() != want {
		t.Fatalf("ResolveSecrets: %v\nwant: %s", err, want)
	}
	c = Config{Domain: domain, ReplyKeysEnv: "RELAY_REPLY_KEYS"}
	err = c.ResolveSecrets("", func(string) string { return "" })
	if err == nil || err.Error() != "reply_keys_env: environment variable RELAY_REPLY_KEYS is not set" {
		t.Fatalf("ResolveSecrets: %v", err)
	}
	if _, err := c.Options(); err == nil {
		t.Error("Options with unresolved keys succeeded")
	}
}

func TestConfigOptions(t *testing.T) {
	cert, err := mailsink.SelfSigned()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	// mailsink hands out the key in memory only; write a PEM pair the
	// way an operator would have it.
	certPEM, keyPEM := pemPair(t, cert)
	for name, data := range map[string][]byte{"cert.pem": certPEM, "key.pem": keyPEM} {
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	c := validConfig()
	c.TLSCertFile, c.TLSKeyFile = "cert.pem", "key.pem"
	c.SetDefaults()
	if err := c.ResolveSecrets(dir, nil); err != nil {
		t.Fatal(err)
	}
	o, err := c.Options()
	if err != nil {
		t.Fatal(err)
	}
	if o.Addr != c.Listen || o.Domain != c.Domain || o.MaxBytes != DefaultMaxBytes || o.TLS == nil ||
		o.Auth[botUser].Password.Reveal() != botPassword || o.Keys.IsZero() {
		t.Fatalf("Options: %+v", o)
	}
	// The defaults: incident addresses on, the system's resolver, the
	// limits of Limits, no upstream.
	if o.IncidentAddressesOff || o.Resolver != nil || o.Upstream.AuthservID != "" ||
		o.Limits != (Limits{DefaultMaxConnections, DefaultMaxConnectionsPerIP, DefaultMessagesPerMinute}) {
		t.Fatalf("Options from defaults: %+v", o)
	}
	off := false
	c.IncidentAddresses, c.Resolver = &off, "127.0.0.1:5353"
	c.TrustedUpstream = &TrustedUpstream{AuthservID: "mx.example.com", Networks: []string{"192.0.2.1", "2001:db8::/48"}}
	c.Auth[0].Bot, c.Auth[0].To, c.Auth[0].Severity = "mail-alerts", []string{"group:oncall"}, "info"
	if o, err = c.Options(); err != nil {
		t.Fatal(err)
	}
	b := o.Auth[botUser]
	if !o.IncidentAddressesOff || o.Resolver == nil || o.Upstream.AuthservID != "mx.example.com" ||
		fmt.Sprint(o.Upstream.Networks) != "[192.0.2.1/32 2001:db8::/48]" ||
		b.Name != "mail-alerts" || b.To[0] != "group:oncall" || b.Severity != "info" {
		t.Fatalf("Options: %+v", o)
	}
	// The key is the one configured: it verifies the test key's addresses.
	if p, i, err := o.Keys.Parse(testKey(t).Address("kim", "db-outage", domain)); err != nil || p != "kim" || i != "db-outage" {
		t.Errorf("Options' key does not verify: %q %q %v", p, i, err)
	}
	c.TLSKeyFile = filepath.Join(dir, "cert.pem")
	if _, err := c.Options(); err == nil || !strings.HasPrefix(err.Error(), "tls_cert_file: cannot load") {
		t.Errorf("a wrong key file: %v", err)
	}
}

// pemPair returns the certificate and private key of cert as PEM files.
func pemPair(t *testing.T, cert *mailsink.Cert) (certPEM, keyPEM []byte) {
	t.Helper()
	der, err := x509.MarshalPKCS8PrivateKey(cert.Server.Certificates[0].PrivateKey)
	if err != nil {
		t.Fatal(err)
	}
	return cert.PEM, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})
}
