package nats

import (
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/oob-relay/relay/relay"
	"github.com/oob-relay/relay/relay/problem"
	"github.com/oob-relay/relay/relay/secret"
)

// Defaults, each with the reason it was chosen.
const (
	// DefaultURL is a NATS server on the same host, the usual sidecar.
	DefaultURL = "nats://127.0.0.1:4222"
	// DefaultSubjectPrefix starts every subject relay publishes on.
	DefaultSubjectPrefix = "relay"
	// DefaultName tells a server's monitoring which clients are relay nodes.
	DefaultName = "relay"
	// DefaultConnectTimeout covers a dial and a TLS handshake across
	// regions, where relay nodes and their NATS servers often are.
	DefaultConnectTimeout = 5 * time.Second
	// DefaultReconnectWait is the first pause after every server of the list
	// failed: short, so a restarted server is back in use within a second.
	DefaultReconnectWait = 250 * time.Millisecond
	// DefaultReconnectWaitMax caps the doubling pause, so relay notices a
	// server that comes back within seconds even after a long outage.
	DefaultReconnectWaitMax = 5 * time.Second
	// DefaultReconnectBufferBytes is nats.go's own default (8 MiB). Send
	// does not publish while reconnecting, so the buffer only holds what
	// raced a disconnect.
	DefaultReconnectBufferBytes = 8 << 20
)

// Config configures one NATS provider. The zero value plus SetDefaults is a
// core NATS publisher to a local server without credentials.
type Config struct {
	// URLs lists the servers to connect to, tried in random order. Schemes:
	// nats, tls, ws, wss. Credentials do not belong in URLs.
	URLs []string `yaml:"urls"`
	// SubjectPrefix starts every subject: <prefix>.incident.<id>.message.
	SubjectPrefix string `yaml:"subject_prefix"`
	// Name is the connection name the servers show.
	Name string `yaml:"name"`

	// At most one kind of credentials: user and password, token, a creds
	// file (JWT and seed) or an nkey seed file.
	User         string        `yaml:"user"`
	Password     secret.String `yaml:"password"`
	PasswordEnv  string        `yaml:"password_env"`
	PasswordFile string        `yaml:"password_file"`
	Token        secret.String `yaml:"token"`
	TokenEnv     string        `yaml:"token_env"`
	TokenFile    string        `yaml:"token_file"`
	CredsFile    string        `yaml:"creds_file"`
	NKeySeedFile string        `yaml:"nkey_seed_file"`

	// TLS requires TLS even for nats:// URLs. CAFile names a PEM file of
	// the authorities to trust instead of the system's; it implies TLS.
	TLS    bool   `yaml:"tls"`
	CAFile string `yaml:"ca_file"`
	// InsecurePasswordWithoutTLS allows a password or token over nats://
	// or ws:// to a server that is not loopback without tls, which sends
	// it in clear text. For labs only.
	InsecurePasswordWithoutTLS bool `yaml:"insecure_password_without_tls"`

	// ConnectTimeout bounds one dial and handshake.
	ConnectTimeout time.Duration `yaml:"connect_timeout"`
	// ReconnectWait is the first pause after every server failed; each
	// further round doubles it up to ReconnectWaitMax.
	ReconnectWait    time.Duration `yaml:"reconnect_wait"`
	ReconnectWaitMax time.Duration `yaml:"reconnect_wait_max"`
	// ReconnectBufferBytes bounds what the connection holds while it
	// reconnects (nats.go ReconnectBufSize); -1 holds nothing.
	ReconnectBufferBytes int `yaml:"reconnect_buffer_bytes"`

	// JetStream, when its stream is set, publishes through that stream.
	JetStream JetStreamConfig `yaml:"jetstream"`
	// Ingest takes posts and acknowledgements from bots on this connection.
	Ingest IngestConfig `yaml:"ingest"`
}

// JetStreamConfig selects JetStream publishing.
type JetStreamConfig struct {
	// Stream is the stream that must store the events. The stream is
	// created by the NATS operator, not by relay; its subjects must cover
	// the prefix, and its duplicate window bounds how late a retry is still
	// recognised as a duplicate.
	Stream string `yaml:"stream"`
}

// SetDefaults fills every unset field with its default.
func (c *Config) SetDefaults() {
	if len(c.URLs) == 0 {
		c.URLs = []string{DefaultURL}
	}
	if c.SubjectPrefix == "" {
		c.SubjectPrefix = DefaultSubjectPrefix
	}
	c.Ingest.SetDefaultsUnder(c.SubjectPrefix)
	if c.Name == "" {
		c.Name = DefaultName
	}
	if c.ConnectTimeout == 0 {
		c.ConnectTimeout = DefaultConnectTimeout
	}
	if c.ReconnectWait == 0 {
		c.ReconnectWait = DefaultReconnectWait
	}
	if c.ReconnectWaitMax == 0 {
		c.ReconnectWaitMax = max(DefaultReconnectWaitMax, c.ReconnectWait)
	}
	if c.ReconnectBufferBytes == 0 {
		c.ReconnectBufferBytes = DefaultReconnectBufferBytes
	}
}

var urlSchemes = map[string]bool{"nats": true, "tls": true, "ws": true, "wss": true}

// Validate checks the configuration after SetDefaults and returns every
// problem at once, joined with errors.Join, each starting with its key.
func (c *Config) Validate() error {
	var errs []error
	bad := func(key, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s: %s", key, fmt.Sprintf(format, args...)))
	}
	if len(c.URLs) == 0 {
		bad("urls", "is empty: name at least one server such as %s", DefaultURL)
	}
	websocket := map[bool]bool{}
	secret := c.sendsSecret()
	for i, raw := range c.URLs {
		if msg := checkURL(raw); msg != "" {
			bad(fmt.Sprintf("urls[%d]", i), "%s", msg)
			continue
		}
		u, _ := url.Parse(raw)
		websocket[u.Scheme == "ws" || u.Scheme == "wss"] = true
		if secret != "" && (u.Scheme == "nats" || u.Scheme == "ws") && !c.TLS && c.CAFile == "" &&
			!c.InsecurePasswordWithoutTLS && !relay.LoopbackHost(u.Hostname()) {
			bad(fmt.Sprintf("urls[%d]", i), "%q would carry the %s in clear text; use tls:// or wss://, or set tls: true, "+
				"or set insecure_password_without_tls: true in a lab", raw, secret)
		}
	}
	if len(websocket) > 1 {
		bad("urls", "mixes websocket (ws, wss) and plain (nats, tls) servers; the client uses one kind")
	}
	if err := ValidSubjectPrefix(c.SubjectPrefix); err != nil {
		bad("subject_prefix", "%v", err)
	}
	if strings.ContainsFunc(c.Name, isControl) {
		bad("name", "must not contain control characters")
	}
	errs = append(errs, c.validateCredentials()...)
	if c.ConnectTimeout <= 0 {
		bad("connect_timeout", "must be positive, such as 5s")
	}
	if c.ReconnectWait <= 0 {
		bad("reconnect_wait", "must be positive, such as 250ms")
	}
	if c.ReconnectWaitMax < c.ReconnectWait {
		bad("reconnect_wait_max", "%s must not be shorter than reconnect_wait (%s)", c.ReconnectWaitMax, c.ReconnectWait)
	}
	if c.ReconnectBufferBytes < -1 {
		bad("reconnect_buffer_bytes", "%d must be a size in bytes, or -1 to buffer nothing while reconnecting", c.ReconnectBufferBytes)
	}
	if s := c.JetStream.Stream; s != "" && !validStreamName(s) {
		bad("jetstream.stream", "%q must be a stream name without spaces, '.', '*', '>', '/' or '\\'", s)
	}
	if c.Ingest.Enabled {
		for _, e := range problem.Flatten(c.Ingest.Validate()) {
			errs = append(errs, fmt.Errorf("ingest.%w", e))
		}
	}
	return errors.Join(errs...)
}

// sendsSecret names the credential the client sends as it is, password
// or token, or is empty: an nkey or a creds file signs a challenge.
func (c *Config) sendsSecret() string {
	switch {
	case !c.Password.IsZero() || c.PasswordEnv != "" || c.PasswordFile != "":
		return "password"
	case !c.Token.IsZero() || c.TokenEnv != "" || c.TokenFile != "":
		return "token"
	}
	return ""
}

// validateCredentials reports mixed or incomplete credentials.
func (c *Config) validateCredentials() []error {
	var errs []error
	bad := func(key, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s: %s", key, fmt.Sprintf(format, args...)))
	}
	password := sources("password", !c.Password.IsZero(), c.PasswordEnv, c.PasswordFile)
	token := sources("token", !c.Token.IsZero(), c.TokenEnv, c.TokenFile)
	for _, s := range [][]string{password, token} {
		if len(s) > 1 {
			bad(s[0], "set only one of %s", strings.Join(s, ", "))
		}
	}
	var kinds []string
	if c.User != "" || len(password) > 0 {
		kinds = append(kinds, "user")
		switch {
		case c.User == "":
			bad("user", "is required with %s", password[0])
		case len(password) == 0:
			bad("password", "is required with user (or password_env, password_file)")
		}
	}
	if len(token) > 0 {
		kinds = append(kinds, token[0])
	}
	if c.CredsFile != "" {
		kinds = append(kinds, "creds_file")
	}
	if c.NKeySeedFile != "" {
		kinds = append(kinds, "nkey_seed_file")
	}
	if len(kinds) > 1 {
		bad(kinds[1], "cannot be combined with %s: use one of user and password, token, creds_file or nkey_seed_file", kinds[0])
	}
	return errs
}

// sources lists which of a secret's keys are set.
func sources(key string, literal bool, env, file string) []string {
	var set []string
	if literal {
		set = append(set, key)
	}
	if env != "" {
		set = append(set, key+"_env")
	}
	if file != "" {
		set = append(set, key+"_file")
	}
	return set
}

// ResolveSecrets reads the password and token from their environment
// variable or file, replacing the literal and clearing the _env and _file
// keys, so resolving twice is harmless. Relative paths (password_file,
// token_file, creds_file, nkey_seed_file, ca_file) resolve against dir, the
// config file's folder; creds_file, nkey_seed_file and ca_file must be
// readable. Errors name the key and never contain a secret.
func (c *Config) ResolveSecrets(dir string, getenv func(string) string) error {
	var errs []error
	pw, err := secret.Source{Key: "password", Literal: c.Password, Env: c.PasswordEnv, File: c.PasswordFile}.Resolve(dir, getenv)
	if err != nil {
		errs = append(errs, err)
	} else {
		c.Password, c.PasswordEnv, c.PasswordFile = pw, "", ""
	}
	tok, err := secret.Source{Key: "token", Literal: c.Token, Env: c.TokenEnv, File: c.TokenFile}.Resolve(dir, getenv)
	if err != nil {
		errs = append(errs, err)
	} else {
		c.Token, c.TokenEnv, c.TokenFile = tok, "", ""
	}
	for _, f := range []struct {
		key  string
		path *string
	}{{"creds_file", &c.CredsFile}, {"nkey_seed_file", &c.NKeySeedFile}, {"ca_file", &c.CAFile}} {
		if *f.path == "" {
			continue
		}
		if !filepath.IsAbs(*f.path) && dir != "" {
			*f.path = filepath.Join(dir, *f.path)
		}
		fh, err := os.Open(*f.path)
		if err != nil {
			var pe *os.PathError
			if errors.As(err, &pe) {
				err = pe.Err
			}
			errs = append(errs, fmt.Errorf("%s: cannot read %s: %v", f.key, *f.path, err))
			continue
		}
		fh.Close()
	}
	return errors.Join(errs...)
}

// checkURL returns what is wrong with a server URL, or "".
func checkURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return fmt.Sprintf("%q is not a server URL such as %s", raw, DefaultURL)
	}
	if !urlSchemes[u.Scheme] {
		return fmt.Sprintf("%q must use the nats, tls, ws or wss scheme", u.Redacted())
	}
	if u.User != nil {
		return fmt.Sprintf("%q must not carry credentials: use user and password, or token", u.Redacted())
	}
	if u.Port() == "" && (u.Scheme == "nats" || u.Scheme == "tls") {
		return fmt.Sprintf("%q must name a port, such as :4222", raw)
	}
	return ""
}

// ValidSubjectPrefix reports why prefix cannot start a subject: it must
// be one or more dot-separated tokens without wildcards or spaces.
func ValidSubjectPrefix(prefix string) error {
	if prefix == "" {
		return errors.New("is empty")
	}
	for tok := range strings.SplitSeq(prefix, ".") {
		if tok == "" || tok == "*" || tok == ">" || strings.ContainsAny(tok, "*> \t\r\n") || strings.ContainsFunc(tok, isControl) {
			return fmt.Errorf("%q must be dot-separated tokens without wildcards (* or >), spaces or empty tokens, such as %q", prefix, DefaultSubjectPrefix)
		}
	}
	return nil
}

// validStreamName follows the server's rules for stream names.
func validStreamName(s string) bool {
	return len(s) <= 255 && !strings.ContainsAny(s, " \t\r\n.*>/\\") && !strings.ContainsFunc(s, isControl)
}

func isControl(r rune) bool { return r < 0x20 || r == 0x7f }
