package email

import (
	"errors"
	"fmt"
	"net"
	"net/mail"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/oob-relay/relay/relay"
	"github.com/oob-relay/relay/relay/secret"
)

// TLSMode says how a Sender secures its connection to the smarthost.
type TLSMode string

// TLS modes.
const (
	// TLSStartTLS upgrades a plain connection with STARTTLS and fails when
	// the server does not offer it. It is the default.
	TLSStartTLS TLSMode = "starttls"
	// TLSOpportunistic upgrades with STARTTLS when the server offers it and
	// otherwise stays plain. Credentials are never sent on a plain
	// connection in this mode.
	TLSOpportunistic TLSMode = "opportunistic"
	// TLSImplicit speaks TLS from the first byte, usually on port 465.
	TLSImplicit TLSMode = "implicit"
	// TLSNone never encrypts. It is only sensible for a smarthost on the
	// loopback interface.
	TLSNone TLSMode = "none"
)

var tlsModes = []TLSMode{TLSStartTLS, TLSOpportunistic, TLSImplicit, TLSNone}

// Defaults applied by SetDefaults.
const (
	// DefaultTimeout bounds the dial and the whole SMTP session when the
	// caller's context has no deadline. Thirty seconds leaves room for a
	// slow TLS handshake and a greylisting server's delays while still
	// freeing the attempt long before a person would notice.
	DefaultTimeout = 30 * time.Second
	// DefaultHello is the EHLO name used when from has no usable domain.
	DefaultHello = "localhost"
)

// hostnamePattern matches what may follow EHLO: a domain name or an
// address literal.
var hostnamePattern = regexp.MustCompile(`^(?:[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)*|\[[0-9A-Fa-f:.]+\])$`)

// Config is one SMTP smarthost that carries the email channel.
type Config struct {
	// Address is the smarthost as host:port.
	Address string `yaml:"address"`
	// TLS is one of starttls (default), opportunistic, implicit or none.
	TLS TLSMode `yaml:"tls"`
	// TLSServerName is the name the server certificate must carry; the
	// host part of Address when empty.
	TLSServerName string `yaml:"tls_server_name"`
	// CAFile is a PEM bundle trusted instead of the system roots. A
	// relative path resolves against the folder given to ResolveSecrets.
	CAFile string `yaml:"ca_file"`
	// InsecureSkipVerify accepts any server certificate. It defeats TLS
	// and exists only for tests and emergencies.
	InsecureSkipVerify bool `yaml:"insecure_skip_verify"`
	// InsecurePasswordWithoutTLS allows tls: none with a username and
	// password to a smarthost that is not loopback, which sends the
	// password in clear text. For labs only.
	InsecurePasswordWithoutTLS bool `yaml:"insecure_password_without_tls"`
	// Username enables AUTH PLAIN.
	Username     string        `yaml:"username"`
	Password     secret.String `yaml:"password"`
	PasswordEnv  string        `yaml:"password_env"`
	PasswordFile string        `yaml:"password_file"`
	// From is the sender as an RFC 5322 address, optionally with a display
	// name: "relay 알림 <relay@example.com>".
	From string `yaml:"from"`
	// Hello is the EHLO name; the domain of From when empty.
	Hello string `yaml:"hello"`
	// Timeout bounds the dial and the whole SMTP session when the
	// caller's context has no deadline.
	Timeout time.Duration `yaml:"timeout"`
}

// SetDefaults fills in what was left empty: tls starttls, timeout
// DefaultTimeout and hello from the domain of from (or DefaultHello).
func (c *Config) SetDefaults() {
	if c.TLS == "" {
		c.TLS = TLSStartTLS
	}
	if c.Timeout == 0 {
		c.Timeout = DefaultTimeout
	}
	if c.Hello == "" {
		c.Hello = DefaultHello
		if a, err := parseFrom(c.From); err == nil {
			c.Hello = domainOf(a.Address)
		}
	}
}

// Validate reports every problem in c, each starting with its key, joined
// with errors.Join. Fields SetDefaults fills may be empty.
func (c *Config) Validate() error {
	var errs []error
	bad := func(key, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s: %s", key, fmt.Sprintf(format, args...)))
	}

	if c.Address == "" {
		bad("address", "is required (host:port of the smarthost, such as smtp.example.com:587)")
	} else if err := checkHostPort(c.Address); err != nil {
		bad("address", "%q %v", c.Address, err)
	}

	switch {
	case c.TLS == "" || knownTLSMode(c.TLS):
	default:
		bad("tls", "unknown mode %q (known: %s)", c.TLS, joinModes())
	}
	if c.TLS == TLSNone {
		for _, f := range []struct {
			key string
			set bool
		}{
			{"tls_server_name", c.TLSServerName != ""},
			{"ca_file", c.CAFile != ""},
			{"insecure_skip_verify", c.InsecureSkipVerify},
		} {
			if f.set {
				bad(f.key, "has no effect with tls: none")
			}
		}
	}
	if c.InsecureSkipVerify && c.CAFile != "" {
		bad("insecure_skip_verify", "cannot be combined with ca_file: a verified bundle and no verification contradict")
	}
	if c.TLSServerName != "" && !hostnamePattern.MatchString(c.TLSServerName) {
		bad("tls_server_name", "%q is not a host name", c.TLSServerName)
	}

	hasPassword := !c.Password.IsZero() || c.PasswordEnv != "" || c.PasswordFile != ""
	switch {
	case c.Username != "" && !hasPassword:
		bad("username", "is set but none of password, password_env and password_file is")
	case c.Username == "" && hasPassword:
		bad("username", "is required when a password is set")
	case strings.ContainsAny(c.Username, "\x00\r\n"):
		bad("username", "must not contain NUL, CR or LF")
	}
	if c.TLS == TLSNone && hasPassword && !c.InsecurePasswordWithoutTLS && checkHostPort(c.Address) == nil && !loopbackAddress(c.Address) {
		bad("tls", "none would send the password to %s in clear text; use starttls or implicit, "+
			"or set insecure_password_without_tls: true in a lab", c.Address)
	}

	if c.From == "" {
		bad("from", `is required (an address such as "relay 알림 <relay@example.com>")`)
	} else if _, err := parseFrom(c.From); err != nil {
		bad("from", "%q %v", c.From, err)
	}

	if c.Hello != "" && !hostnamePattern.MatchString(c.Hello) {
		bad("hello", "%q is not a host name or address literal such as relay.example.com or [192.0.2.1]", c.Hello)
	}
	if c.Timeout < 0 {
		bad("timeout", "%s must not be negative", c.Timeout)
	}
	return errors.Join(errs...)
}

// ResolveSecrets reads the password from password, password_env or
// password_file (relative to dir) into Password and clears PasswordEnv
// and PasswordFile, so calling it twice is harmless. It also makes a
// relative ca_file absolute against dir. A nil getenv means os.Getenv.
// Errors name the key and never contain the password.
func (c *Config) ResolveSecrets(dir string, getenv func(string) string) error {
	if getenv == nil {
		getenv = os.Getenv
	}
	src := secret.Source{Key: "password", Literal: c.Password, Env: c.PasswordEnv, File: c.PasswordFile}
	pw, err := src.Resolve(dir, getenv)
	if err != nil {
		return err
	}
	c.Password, c.PasswordEnv, c.PasswordFile = pw, "", ""
	if c.CAFile != "" && dir != "" && !filepath.IsAbs(c.CAFile) {
		c.CAFile = filepath.Join(dir, c.CAFile)
	}
	return nil
}

// loopbackAddress reports whether the host of a host:port address is
// loopback.
func loopbackAddress(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	return err == nil && relay.LoopbackHost(host)
}

func knownTLSMode(m TLSMode) bool {
	for _, k := range tlsModes {
		if m == k {
			return true
		}
	}
	return false
}

func joinModes() string {
	s := make([]string, len(tlsModes))
	for i, m := range tlsModes {
		s[i] = string(m)
	}
	return strings.Join(s, ", ")
}

func checkHostPort(addr string) error {
	const want = "must be host:port, such as smtp.example.com:587"
	host, port, err := net.SplitHostPort(addr)
	if err != nil || host == "" {
		return errors.New(want)
	}
	n, err := strconv.Atoi(port)
	if err != nil || n < 1 || n > 65535 {
		return fmt.Errorf("has port %q; %s", port, want)
	}
	if net.ParseIP(host) == nil && !hostnamePattern.MatchString(host) {
		return fmt.Errorf("has host %q, which is not a host name or IP address", host)
	}
	return nil
}

// parseFrom parses a sender address and refuses what the channel does not
// support: non-ASCII mailboxes and domains.
func parseFrom(s string) (*mail.Address, error) {
	a, err := mail.ParseAddress(s)
	if err != nil {
		return nil, errors.New(`is not an address such as "relay 알림 <relay@example.com>"`)
	}
	if err := checkMailbox(a.Address); err != nil {
		return nil, err
	}
	return a, nil
}

// checkMailbox refuses addresses SMTP without SMTPUTF8 cannot carry and
// addresses that could not be named in a header or an SMTP command.
func checkMailbox(addr string) error {
	at := strings.LastIndexByte(addr, '@')
	if at <= 0 || at == len(addr)-1 {
		return errors.New("has no mailbox@domain")
	}
	for i := 0; i < len(addr); i++ {
		if b := addr[i]; b >= 0x80 || b < 0x21 {
			return errors.New("has non-ASCII or control characters in its address; internationalized mailboxes and domains are not supported")
		}
	}
	if !hostnamePattern.MatchString(addr[at+1:]) {
		return fmt.Errorf("has domain %q, which is not a host name", addr[at+1:])
	}
	return nil
}

// domainOf returns the lower-cased domain of a mailbox.
func domainOf(addr string) string {
	return strings.ToLower(addr[strings.LastIndexByte(addr, '@')+1:])
}
