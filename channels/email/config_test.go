package email

import (
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/oob-relay/relay/relay/secret"
)

func validConfig() Config {
	return Config{
		Address:  "smtp.example.com:587",
		Username: "relay",
		Password: secret.New("pw"),
		From:     fromAddr,
	}
}

func TestValidate(t *testing.T) {
	cases := []struct {
		name    string
		mutate  func(*Config)
		wantErr string // the whole joined message; empty means valid
	}{
		{"valid", func(*Config) {}, ""},
		{"defaults applied", func(c *Config) { c.SetDefaults() }, ""},
		{"no address", func(c *Config) { c.Address = "" }, "address: is required (host:port of the smarthost, such as smtp.example.com:587)"},
		{"no port", func(c *Config) { c.Address = "smtp.example.com" }, `address: "smtp.example.com" must be host:port, such as smtp.example.com:587`},
		{"bad port", func(c *Config) { c.Address = "smtp.example.com:70000" }, `address: "smtp.example.com:70000" has port "70000"; must be host:port, such as smtp.example.com:587`},
		{"bad host", func(c *Config) { c.Address = "smtp_example:25" }, `address: "smtp_example:25" has host "smtp_example", which is not a host name or IP address`},
		{"IPv6 host", func(c *Config) { c.Address = "[::1]:25" }, ""},
		{"unknown tls", func(c *Config) { c.TLS = "ssl" }, `tls: unknown mode "ssl" (known: starttls, opportunistic, implicit, none)`},
		{"tls none with ca_file", func(c *Config) { c.TLS, c.CAFile, c.Address = TLSNone, "ca.pem", "127.0.0.1:25" }, "ca_file: has no effect with tls: none"},
		{"password in clear text to a remote host", func(c *Config) { c.TLS = TLSNone },
			"tls: none would send the password to smtp.example.com:587 in clear text; use starttls or implicit, " +
				"or set insecure_password_without_tls: true in a lab"},
		{"password from a file in clear text to a remote address", func(c *Config) {
			c.TLS, c.Address, c.Password, c.PasswordFile = TLSNone, "192.0.2.25:25", secret.String{}, "smtp-password"
		},
			"tls: none would send the password to 192.0.2.25:25 in clear text; use starttls or implicit, " +
				"or set insecure_password_without_tls: true in a lab"},
		{"password in clear text in a lab", func(c *Config) { c.TLS, c.InsecurePasswordWithoutTLS = TLSNone, true }, ""},
		{"password in clear text to loopback", func(c *Config) { c.TLS, c.Address = TLSNone, "127.0.0.1:2525" }, ""},
		{"password in clear text to localhost", func(c *Config) { c.TLS, c.Address = TLSNone, "localhost:25" }, ""},
		{"no password in clear text to a remote host", func(c *Config) { c.TLS, c.Username, c.Password = TLSNone, "", secret.String{} }, ""},
		{"opportunistic never sends the password in clear text", func(c *Config) { c.TLS = TLSOpportunistic }, ""},
		{"skip verify with ca_file", func(c *Config) { c.InsecureSkipVerify, c.CAFile = true, "ca.pem" },
			"insecure_skip_verify: cannot be combined with ca_file: a verified bundle and no verification contradict"},
		{"bad server name", func(c *Config) { c.TLSServerName = "mail example" }, `tls_server_name: "mail example" is not a host name`},
		{"username without password", func(c *Config) { c.Password = secret.String{} },
			"username: is set but none of password, password_env and password_file is"},
		{"password from env", func(c *Config) { c.Password, c.PasswordEnv = secret.String{}, "SMTP_PASSWORD" }, ""},
		{"password without username", func(c *Config) { c.Username = "" }, "username: is required when a password is set"},
		{"no from", func(c *Config) { c.From = "" }, `from: is required (an address such as "relay 알림 <relay@example.com>")`},
		{"unparsable from", func(c *Config) { c.From = "relay at example" },
			`from: "relay at example" is not an address such as "relay 알림 <relay@example.com>"`},
		{"non-ASCII mailbox", func(c *Config) { c.From = "릴레이@example.com" },
			`from: "릴레이@example.com" has non-ASCII or control characters in its address; internationalized mailboxes and domains are not supported`},
		{"bad hello", func(c *Config) { c.Hello = "relay host" }, `hello: "relay host" is not a host name or address literal such as relay.example.com or [192.0.2.1]`},
		{"address literal hello", func(c *Config) { c.Hello = "[192.0.2.1]" }, ""},
		{"negative timeout", func(c *Config) { c.Timeout = -time.Second }, "timeout: -1s must not be negative"},
		{"several problems", func(c *Config) { c.Address, c.TLS = "", "tls1.3" },
			"address: is required (host:port of the smarthost, such as smtp.example.com:587)\n" +
				`tls: unknown mode "tls1.3" (known: starttls, opportunistic, implicit, none)`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			cfg := validConfig()
			c.mutate(&cfg)
			err := cfg.Validate()
			got := ""
			if err != nil {
				got = err.Error()
			}
			if got != c.wantErr {
				t.Errorf("Validate() = %q\nwant         %q", got, c.wantErr)
			}
		})
	}
}

func TestSetDefaults(t *testing.T) {
	cfg := validConfig()
	cfg.SetDefaults()
	if cfg.TLS != TLSStartTLS || cfg.Timeout != DefaultTimeout || cfg.Hello != "example.com" {
		t.Errorf("defaults = tls %q, timeout %s, hello %q", cfg.TLS, cfg.Timeout, cfg.Hello)
	}
	kept := Config{TLS: TLSImplicit, Timeout: time.Second, Hello: "relay-1.example.net", From: fromAddr}
	kept.SetDefaults()
	if kept.TLS != TLSImplicit || kept.Timeout != time.Second || kept.Hello != "relay-1.example.net" {
		t.Errorf("SetDefaults overwrote settings: %+v", kept)
	}
	bad := Config{From: "not an address"}
	bad.SetDefaults()
	if bad.Hello != DefaultHello {
		t.Errorf("hello for an unparsable from = %q, want %q", bad.Hello, DefaultHello)
	}
}

func TestConfigYAML(t *testing.T) {
	src := `
address: smtp.example.com:465
tls: implicit
ca_file: certs/ca.pem
username: relay
password_file: secrets/smtp
from: "relay 알림 <relay@example.com>"
timeout: 15s
`
	dec := yaml.NewDecoder(strings.NewReader(src))
	dec.KnownFields(true)
	var cfg Config
	if err := dec.Decode(&cfg); err != nil {
		t.Fatal(err)
	}
	if cfg.TLS != TLSImplicit || cfg.Timeout != 15*time.Second || cfg.PasswordFile != "secrets/smtp" || cfg.From != fromAddr {
		t.Errorf("decoded %+v", cfg)
	}
	dec = yaml.NewDecoder(strings.NewReader("adress: x:25\n"))
	dec.KnownFields(true)
	if err := dec.Decode(&Config{}); err == nil || !strings.Contains(err.Error(), "adress") {
		t.Errorf("unknown key decoded without error: %v", err)
	}
}

func TestResolveSecrets(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "smtp-password"), []byte("from-file\n"))
	env := map[string]string{"SMTP_PASSWORD": "from-env"}
	getenv := func(k string) string { return env[k] }

	cfg := validConfig()
	cfg.Password, cfg.PasswordFile, cfg.CAFile = secret.String{}, "smtp-password", "ca.pem"
	if err := cfg.ResolveSecrets(dir, getenv); err != nil {
		t.Fatal(err)
	}
	if cfg.Password.Reveal() != "from-file" || cfg.PasswordFile != "" || cfg.CAFile != filepath.Join(dir, "ca.pem") {
		t.Errorf("after ResolveSecrets: password %q, password_file %q, ca_file %q", cfg.Password.Reveal(), cfg.PasswordFile, cfg.CAFile)
	}
	if err := cfg.ResolveSecrets(dir, getenv); err != nil || cfg.Password.Reveal() != "from-file" || cfg.CAFile != filepath.Join(dir, "ca.pem") {
		t.Errorf("second ResolveSecrets changed the config: %v, %q, %q", err, cfg.Password.Reveal(), cfg.CAFile)
	}

	cfg = validConfig()
	cfg.Password, cfg.PasswordEnv = secret.String{}, "SMTP_PASSWORD"
	if err := cfg.ResolveSecrets(dir, getenv); err != nil || cfg.Password.Reveal() != "from-env" {
		t.Errorf("password_env: %v, %q", err, cfg.Password.Reveal())
	}

	cfg = validConfig()
	cfg.PasswordEnv = "SMTP_PASSWORD"
	err := cfg.ResolveSecrets(dir, getenv)
	if err == nil || err.Error() != "password: set only one of password, password_env and password_file" {
		t.Errorf("two sources: %v", err)
	}

	cfg = validConfig()
	cfg.Password, cfg.PasswordEnv = secret.String{}, "UNSET"
	if err := cfg.ResolveSecrets(dir, getenv); err == nil || err.Error() != "password_env: environment variable UNSET is not set" {
		t.Errorf("unset env: %v", err)
	}
}

func TestNewRefuses(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "not-pem"), []byte("hello"))
	cases := []struct {
		name    string
		mutate  func(*Config)
		wantErr string
	}{
		{"invalid", func(c *Config) { c.From = "" }, "from: is required"},
		{"missing ca_file", func(c *Config) { c.CAFile = filepath.Join(dir, "nope.pem") },
			"ca_file: cannot read " + filepath.Join(dir, "nope.pem") + ": no such file or directory"},
		{"ca_file without PEM", func(c *Config) { c.CAFile = filepath.Join(dir, "not-pem") },
			"ca_file: " + filepath.Join(dir, "not-pem") + " holds no PEM certificate"},
		{"unresolved password_file", func(c *Config) { c.Password, c.PasswordFile = secret.String{}, "pw" },
			"password: password_env and password_file must be resolved"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			cfg := validConfig()
			c.mutate(&cfg)
			_, err := New(cfg, Options{})
			if err == nil || !strings.HasPrefix(err.Error(), c.wantErr) {
				t.Errorf("New() error = %v, want it to start with %q", err, c.wantErr)
			}
		})
	}
}
