package nats

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/oob-relay/relay/relay/secret"
)

func secretOf(s string) secret.String { return secret.New(s) }

func noEnv(string) string { return "" }

func validConfig() Config {
	c := Config{User: "relay", Password: secretOf("pw")}
	c.SetDefaults()
	return c
}

func TestSetDefaults(t *testing.T) {
	var c Config
	c.SetDefaults()
	if err := c.Validate(); err != nil {
		t.Fatalf("defaults do not validate: %v", err)
	}
	if len(c.URLs) != 1 || c.URLs[0] != "nats://127.0.0.1:4222" || c.SubjectPrefix != "relay" || c.Name != "relay" ||
		c.ConnectTimeout != 5*time.Second || c.ReconnectWait != 250*time.Millisecond ||
		c.ReconnectWaitMax != 5*time.Second || c.ReconnectBufferBytes != 8<<20 || c.JetStream.Stream != "" {
		t.Errorf("defaults = %+v", c)
	}
	c = Config{ReconnectWait: 10 * time.Second}
	c.SetDefaults()
	if c.ReconnectWaitMax != 10*time.Second {
		t.Errorf("reconnect_wait_max = %s, want it raised to reconnect_wait", c.ReconnectWaitMax)
	}
	c = Config{SubjectPrefix: "corp.relay"}
	c.SetDefaults()
	if c.Ingest.PostSubject != "corp.relay.post" || c.Ingest.AckSubject != "corp.relay.ack" || c.Ingest.QueueGroup != "relay" || c.Ingest.Enabled {
		t.Errorf("ingest defaults = %+v, want subjects under the prefix and ingest off", c.Ingest)
	}
}

func TestValidate(t *testing.T) {
	for _, tc := range []struct {
		name   string
		mutate func(*Config)
		want   string
	}{
		{"no urls", func(c *Config) { c.URLs = []string{} }, `urls: is empty: name at least one server such as nats://127.0.0.1:4222`},
		{"http url", func(c *Config) { c.URLs = []string{"tls://a:4222", "http://b:80"} }, `urls[1]: "http://b:80" must use the nats, tls, ws or wss scheme`},
		{"not a url", func(c *Config) { c.URLs = []string{"127.0.0.1:4222"} }, `urls[0]: "127.0.0.1:4222" is not a server URL such as nats://127.0.0.1:4222`},
		{"mixed websocket", func(c *Config) { c.URLs = []string{"tls://a:4222", "wss://b"} }, `urls: mixes websocket (ws, wss) and plain (nats, tls) servers; the client uses one kind`},
		{"no port", func(c *Config) { c.URLs = []string{"nats://nats.example.com"} }, `urls[0]: "nats://nats.example.com" must name a port, such as :4222`},
		{"credentials in url", func(c *Config) { c.URLs = []string{"nats://relay:hunter2@h:4222"} }, `urls[0]: "nats://relay:xxxxx@h:4222" must not carry credentials: use user and password, or token`},
		{"wildcard prefix", func(c *Config) { c.SubjectPrefix = "relay.*" }, `subject_prefix: "relay.*" must be dot-separated tokens without wildcards (* or >), spaces or empty tokens, such as "relay"`},
		{"tail wildcard prefix", func(c *Config) { c.SubjectPrefix = "relay>" }, `subject_prefix: "relay>" must be dot-separated tokens`},
		{"empty token prefix", func(c *Config) { c.SubjectPrefix = "relay..prod" }, `subject_prefix: "relay..prod" must be dot-separated tokens`},
		{"trailing dot prefix", func(c *Config) { c.SubjectPrefix = "relay." }, `subject_prefix: "relay." must be dot-separated tokens`},
		{"space prefix", func(c *Config) { c.SubjectPrefix = "re lay" }, `subject_prefix: "re lay" must be dot-separated tokens`},
		{"name control", func(c *Config) { c.Name = "relay\n" }, `name: must not contain control characters`},
		{"user without password", func(c *Config) { c.Password = secret.String{} }, `password: is required with user (or password_env, password_file)`},
		{"password without user", func(c *Config) { c.User = "" }, `user: is required with password`},
		{"two password sources", func(c *Config) { c.PasswordEnv = "NATS_PW" }, `password: set only one of password, password_env`},
		{"two token sources", func(c *Config) { c.User, c.Password, c.TokenEnv, c.TokenFile = "", secret.String{}, "T", "t" }, `token_env: set only one of token_env, token_file`},
		{"user and token", func(c *Config) { c.Token = secretOf("t") }, `token: cannot be combined with user: use one of user and password, token, creds_file or nkey_seed_file`},
		{"token_file and creds", func(c *Config) {
			c.User, c.Password, c.TokenFile, c.CredsFile = "", secret.String{}, "tok", "relay.creds"
		}, `creds_file: cannot be combined with token_file`},
		{"creds and nkey", func(c *Config) {
			c.User, c.Password, c.CredsFile, c.NKeySeedFile = "", secret.String{}, "relay.creds", "relay.nk"
		}, `nkey_seed_file: cannot be combined with creds_file`},
		{"connect timeout", func(c *Config) { c.ConnectTimeout = -time.Second }, `connect_timeout: must be positive, such as 5s`},
		{"reconnect wait", func(c *Config) { c.ReconnectWait = -1 }, `reconnect_wait: must be positive, such as 250ms`},
		{"reconnect wait max", func(c *Config) { c.ReconnectWaitMax = 100 * time.Millisecond }, `reconnect_wait_max: 100ms must not be shorter than reconnect_wait (250ms)`},
		{"buffer", func(c *Config) { c.ReconnectBufferBytes = -2 }, `reconnect_buffer_bytes: -2 must be a size in bytes, or -1 to buffer nothing while reconnecting`},
		{"stream with dot", func(c *Config) { c.JetStream.Stream = "relay.events" }, `jetstream.stream: "relay.events" must be a stream name without spaces, '.', '*', '>', '/' or '\'`},
		{"ingest queue group", func(c *Config) { c.Ingest.Enabled, c.Ingest.QueueGroup = true, "relay nodes" }, `ingest.queue_group: "relay nodes" must be a name without spaces, such as "relay"`},
		{"ingest subjects", func(c *Config) { c.Ingest.Enabled, c.Ingest.AckSubject = true, "relay.post" }, `ingest.ack_subject: "relay.post" is also post_subject; the two must differ`},
		{"password in clear text", func(c *Config) { c.URLs = []string{"tls://a:4222", "nats://nats.example.com:4222"} },
			`urls[1]: "nats://nats.example.com:4222" would carry the password in clear text; use tls:// or wss://, or set tls: true, ` +
				`or set insecure_password_without_tls: true in a lab`},
		{"token in clear text over websocket", func(c *Config) {
			c.User, c.Password, c.TokenEnv, c.URLs = "", secret.String{}, "NATS_TOKEN", []string{"ws://10.1.2.3:8080"}
		}, `urls[0]: "ws://10.1.2.3:8080" would carry the token in clear text; use tls:// or wss://, or set tls: true, ` +
			`or set insecure_password_without_tls: true in a lab`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := validConfig()
			tc.mutate(&c)
			err := c.Validate()
			if err == nil {
				t.Fatalf("Validate accepted it, want %q", tc.want)
			}
			if !strings.HasPrefix(err.Error(), tc.want) {
				t.Errorf("Validate:\n got %q\nwant %q", err, tc.want)
			}
		})
	}
}

func TestValidateAcceptsVariants(t *testing.T) {
	for name, mutate := range map[string]func(*Config){
		"several schemes": func(c *Config) {
			c.URLs, c.TLS = []string{"nats://a:4222", "tls://b:4443"}, true
		},
		"websocket":             func(c *Config) { c.URLs = []string{"wss://c", "wss://d:443/nats"} },
		"password over tls://":  func(c *Config) { c.URLs = []string{"tls://nats.example.com:4222"} },
		"password with ca_file": func(c *Config) { c.URLs, c.CAFile = []string{"nats://nats.example.com:4222"}, "ca.pem" },
		"password to loopback": func(c *Config) {
			c.URLs = []string{"nats://127.0.0.1:4222", "nats://localhost:4223", "nats://[::1]:4224"}
		},
		"websocket to loopback":       func(c *Config) { c.URLs = []string{"ws://127.0.0.1:8080"} },
		"password in clear, in a lab": func(c *Config) { c.URLs, c.InsecurePasswordWithoutTLS = []string{"nats://nats.example.com:4222"}, true },
		"no password in clear text": func(c *Config) {
			c.URLs, c.User, c.Password = []string{"nats://nats.example.com:4222"}, "", secret.String{}
		},
		"creds file in clear text": func(c *Config) {
			c.URLs, c.User, c.Password, c.CredsFile = []string{"nats://nats.example.com:4222"}, "", secret.String{}, "relay.creds"
		},
		"dotted prefix":   func(c *Config) { c.SubjectPrefix = "corp.relay-prod" },
		"token only":      func(c *Config) { c.User, c.Password, c.TokenFile = "", secret.String{}, "tok" },
		"no credentials":  func(c *Config) { c.User, c.Password = "", secret.String{} },
		"no buffer":       func(c *Config) { c.ReconnectBufferBytes = -1 },
		"jetstream":       func(c *Config) { c.JetStream.Stream = "RELAY_EVENTS" },
		"password by env": func(c *Config) { c.Password, c.PasswordEnv = secret.String{}, "NATS_PW" },
		"ingest": func(c *Config) {
			c.Ingest.Enabled, c.Ingest.Bots = true, []Bot{{Name: "oncall-bot", Allow: []string{"post"}, Rate: 1, Burst: 1}}
		},
		"ingest disabled": func(c *Config) { c.Ingest.QueueGroup = "not checked while disabled" },
	} {
		c := validConfig()
		mutate(&c)
		if err := c.Validate(); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
}

func TestValidateReportsEverything(t *testing.T) {
	c := validConfig()
	c.URLs = []string{"http://x:1"}
	c.SubjectPrefix = ">"
	c.ConnectTimeout = -1
	c.Ingest.Enabled, c.Ingest.Author, c.Ingest.Concurrency = true, "Bot", 0
	err := c.Validate()
	for _, key := range []string{"urls[0]: ", "subject_prefix: ", "connect_timeout: ", "ingest.author: ", "ingest.concurrency: "} {
		if err == nil || !strings.Contains(err.Error(), key) {
			t.Errorf("Validate = %v, want a problem for %s", err, key)
		}
	}
}

const sampleYAML = `
urls: [nats://10.0.0.1:4222, tls://nats.example.com:4443]
subject_prefix: corp.relay
name: relay-seoul-1
user: relay
password_file: nats-password
ca_file: ca.pem
connect_timeout: 3s
reconnect_wait: 100ms
reconnect_wait_max: 2s
reconnect_buffer_bytes: -1
jetstream:
  stream: RELAY
ingest:
  enabled: true
  queue_group: relay-kr
  concurrency: 4
  bots:
    - name: oncall-bot
`

func TestDecodeYAML(t *testing.T) {
	dec := yaml.NewDecoder(strings.NewReader(sampleYAML))
	dec.KnownFields(true)
	var c Config
	if err := dec.Decode(&c); err != nil {
		t.Fatal(err)
	}
	c.SetDefaults()
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	if c.ConnectTimeout != 3*time.Second || c.ReconnectWaitMax != 2*time.Second || c.ReconnectBufferBytes != -1 ||
		c.JetStream.Stream != "RELAY" || c.PasswordFile != "nats-password" || len(c.URLs) != 2 {
		t.Errorf("decoded %+v", c)
	}
	if want := (IngestConfig{Enabled: true, QueueGroup: "relay-kr", PostSubject: "corp.relay.post", AckSubject: "corp.relay.ack",
		Timeout: DefaultIngestTimeout, Concurrency: 4, MaxInFlight: DefaultIngestMaxInFlight, MaxRequestBytes: MaxRequestBytes,
		Rate: DefaultBotRate, Burst: DefaultBotBurst, Bots: []Bot{{Name: "oncall-bot", Allow: []string{ActionPost}, Rate: DefaultBotRate, Burst: DefaultBotBurst}},
	}); !reflect.DeepEqual(c.Ingest, want) {
		t.Errorf("ingest = %+v, want %+v", c.Ingest, want)
	}

	dec = yaml.NewDecoder(strings.NewReader("urls: [nats://a:1]\npasword: x\n"))
	dec.KnownFields(true)
	if err := dec.Decode(&Config{}); err == nil || !strings.Contains(err.Error(), "pasword") {
		t.Errorf("a misspelt key decoded without error: %v", err)
	}
}

func TestResolveSecrets(t *testing.T) {
	dir := t.TempDir()
	for name, body := range map[string]string{"nats-password": "pw-from-file\n", "relay.creds": "creds", "ca.pem": "pem"} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	c := validConfig()
	c.Password, c.PasswordFile = secret.String{}, "nats-password"
	c.CAFile = "ca.pem"
	if err := c.ResolveSecrets(dir, noEnv); err != nil {
		t.Fatal(err)
	}
	if c.Password.Reveal() != "pw-from-file" || c.PasswordFile != "" {
		t.Errorf("password = %q, password_file = %q", c.Password.Reveal(), c.PasswordFile)
	}
	if c.CAFile != filepath.Join(dir, "ca.pem") {
		t.Errorf("ca_file = %q, want it resolved against the config folder", c.CAFile)
	}
	if err := c.ResolveSecrets(dir, noEnv); err != nil || c.Password.Reveal() != "pw-from-file" {
		t.Errorf("second ResolveSecrets: %v, password %q", err, c.Password.Reveal())
	}

	c = Config{TokenEnv: "RELAY_NATS_TOKEN", CredsFile: "relay.creds"}
	getenv := func(k string) string {
		if k == "RELAY_NATS_TOKEN" {
			return "tok-from-env"
		}
		return ""
	}
	if err := c.ResolveSecrets(dir, getenv); err != nil {
		t.Fatal(err)
	}
	if c.Token.Reveal() != "tok-from-env" || c.TokenEnv != "" || c.CredsFile != filepath.Join(dir, "relay.creds") {
		t.Errorf("resolved %+v", c)
	}
}

func TestResolveSecretsErrors(t *testing.T) {
	dir := t.TempDir()
	c := Config{PasswordEnv: "MISSING_PW", TokenFile: "absent-token", NKeySeedFile: "absent.nk"}
	err := c.ResolveSecrets(dir, noEnv)
	for _, want := range []string{
		"password_env: environment variable MISSING_PW is not set",
		"token_file: cannot read " + filepath.Join(dir, "absent-token") + ": no such file or directory",
		"nkey_seed_file: cannot read " + filepath.Join(dir, "absent.nk") + ": no such file or directory",
	} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("ResolveSecrets = %v, want %q", err, want)
		}
	}
}

func TestConnectNeedsResolvedSecrets(t *testing.T) {
	c := validConfig()
	c.Password, c.PasswordEnv = secret.String{}, "NATS_PW"
	if _, err := New(c, Options{}); err == nil || !strings.Contains(err.Error(), "ResolveSecrets") {
		t.Errorf("New with an unresolved password = %v", err)
	}
	c = validConfig()
	c.SubjectPrefix = "a.*"
	if _, err := New(c, Options{}); err == nil || !strings.HasPrefix(err.Error(), "subject_prefix: ") {
		t.Errorf("New with an invalid config = %v", err)
	}
	c = validConfig()
	c.User, c.Password, c.NKeySeedFile = "", secret.String{}, filepath.Join(t.TempDir(), "absent.nk")
	if _, err := New(c, Options{}); err == nil || !strings.HasPrefix(err.Error(), "nkey_seed_file: ") {
		t.Errorf("New with a missing seed = %v", err)
	}
}

func TestBackoff(t *testing.T) {
	top := func(n int64) int64 { return n - 1 }
	bottom := func(int64) int64 { return 0 }
	base, limit := 100*time.Millisecond, time.Second
	for _, tc := range []struct {
		round    int
		lo, high time.Duration
	}{
		{0, 50 * time.Millisecond, 100 * time.Millisecond},
		{1, 50 * time.Millisecond, 100 * time.Millisecond},
		{2, 100 * time.Millisecond, 200 * time.Millisecond},
		{4, 400 * time.Millisecond, 800 * time.Millisecond},
		{5, 500 * time.Millisecond, time.Second},
		{1000, 500 * time.Millisecond, time.Second},
	} {
		if got := backoff(tc.round, base, limit, bottom); got != tc.lo {
			t.Errorf("round %d low = %s, want %s", tc.round, got, tc.lo)
		}
		if got := backoff(tc.round, base, limit, top); got != tc.high {
			t.Errorf("round %d high = %s, want %s", tc.round, got, tc.high)
		}
	}
	if got := backoff(3, time.Nanosecond, time.Nanosecond, top); got != time.Nanosecond {
		t.Errorf("tiny backoff = %s", got)
	}
}

func TestErrorChange(t *testing.T) {
	var e errorChange
	a, b := errors.New("refused"), errors.New("refused")
	if !e.changed(a) || e.changed(b) || !e.changed(errors.New("timeout")) {
		t.Error("errorChange should report only a different text")
	}
	e.reset()
	if !e.changed(a) {
		t.Error("errorChange should report again after a reset")
	}
}
