package inbound

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/oob-relay/relay/channels/email"
	"github.com/oob-relay/relay/relay"
	"github.com/oob-relay/relay/relay/secret"
)

// DefaultListen is where the server listens when listen is empty: the
// SMTP port on every interface, as a domain's MX host must.
const DefaultListen = ":25"

var domainPattern = regexp.MustCompile(`^[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)+$`)

// Config is the inbound email section of a node's configuration
// (inbound.email).
type Config struct {
	// Listen is the address to listen on, host:port.
	Listen string `yaml:"listen"`
	// Domain is the mail domain whose MX records point at the relay
	// nodes.
	Domain string `yaml:"domain"`
	// ReplyKeys sign and verify reply addresses, the signing key first;
	// every node needs the same list. Each is at least 32 bytes. From
	// reply_keys_env or reply_keys_file they are separated by white space
	// (one a line in a file).
	ReplyKeys     []secret.String `yaml:"reply_keys"`
	ReplyKeysEnv  string          `yaml:"reply_keys_env"`
	ReplyKeysFile string          `yaml:"reply_keys_file"`
	// MaxBytes bounds one mail; DefaultMaxBytes when zero.
	MaxBytes int64 `yaml:"max_bytes"`
	// Auth lists bot logins for AUTH PLAIN.
	Auth []AuthUser `yaml:"auth"`
	// TLSCertFile and TLSKeyFile, PEM files, enable STARTTLS. Relative
	// paths resolve against the folder given to ResolveSecrets.
	TLSCertFile string `yaml:"tls_cert_file"`
	TLSKeyFile  string `yaml:"tls_key_file"`
	// IncidentAddresses takes mail from people to "<incident>@<domain>"
	// (true, the default) when its From domain is authenticated; false
	// leaves people only their signed reply addresses. Bots post to
	// incident addresses either way.
	IncidentAddresses *bool `yaml:"incident_addresses"`
	// Resolver is the DNS server (host:port, an IP address) asked for
	// DKIM keys and SPF and DMARC records; empty asks the system's.
	Resolver string `yaml:"resolver"`
	// TrustedUpstream is a mail gateway in front of the relay whose
	// Authentication-Results are believed.
	TrustedUpstream *TrustedUpstream `yaml:"trusted_upstream"`
	// MaxConnections, MaxConnectionsPerIP and MessagesPerMinutePerIP
	// bound the connections overall and per client, and the mails a
	// client may send a minute; the defaults of Limits when zero.
	MaxConnections         int `yaml:"max_connections"`
	MaxConnectionsPerIP    int `yaml:"max_connections_per_ip"`
	MessagesPerMinutePerIP int `yaml:"messages_per_minute_per_ip"`
}

// TrustedUpstream is the trusted_upstream section: see Upstream.
type TrustedUpstream struct {
	// AuthservID is the name the gateway puts first in its
	// Authentication-Results fields.
	AuthservID string `yaml:"authserv_id"`
	// Networks are the addresses it connects from, as CIDR prefixes or
	// single addresses.
	Networks []string `yaml:"networks"`
}

// AuthUser is one bot login and the identity its mail posts as.
type AuthUser struct {
	Username     string        `yaml:"username"`
	Password     secret.String `yaml:"password"`
	PasswordEnv  string        `yaml:"password_env"`
	PasswordFile string        `yaml:"password_file"`
	// Bot is the author of the bot's posts; the username when empty.
	Bot string `yaml:"bot"`
	// To is the audience of a post that opens an incident (one without
	// messages yet); without it the bot posts only to incidents that
	// exist.
	To []string `yaml:"to"`
	// Severity of the bot's posts: critical, warning (the default) or
	// info.
	Severity string `yaml:"severity"`
}

// SetDefaults fills in what was left empty: listen DefaultListen,
// max_bytes DefaultMaxBytes, incident_addresses true and the limits of
// Limits.
func (c *Config) SetDefaults() {
	if c.Listen == "" {
		c.Listen = DefaultListen
	}
	if c.MaxBytes == 0 {
		c.MaxBytes = DefaultMaxBytes
	}
	if c.IncidentAddresses == nil {
		on := true
		c.IncidentAddresses = &on
	}
	if c.MaxConnections == 0 {
		c.MaxConnections = DefaultMaxConnections
	}
	if c.MaxConnectionsPerIP == 0 {
		c.MaxConnectionsPerIP = DefaultMaxConnectionsPerIP
	}
	if c.MessagesPerMinutePerIP == 0 {
		c.MessagesPerMinutePerIP = DefaultMessagesPerMinute
	}
}

// Validate reports every problem in c, each starting with its key, joined
// with errors.Join. Fields SetDefaults fills may be empty.
func (c *Config) Validate() error {
	var errs []error
	bad := func(key, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s: %s", key, fmt.Sprintf(format, args...)))
	}
	if c.Listen != "" {
		if err := checkListen(c.Listen); err != nil {
			bad("listen", "%q %v", c.Listen, err)
		}
	}
	if c.Domain == "" {
		bad("domain", "is required (the mail domain replies go to, such as relay.example.com)")
	} else if !domainPattern.MatchString(c.Domain) {
		bad("domain", "%q is not a domain name such as relay.example.com", c.Domain)
	}
	for i, k := range c.ReplyKeys {
		if n := len(k.Reveal()); n < email.MinReplyKeyBytes {
			bad(fmt.Sprintf("reply_keys[%d]", i), "is %d bytes; at least %d are needed (such as the output of: openssl rand -base64 48)",
				n, email.MinReplyKeyBytes)
		}
	}
	if c.MaxBytes < 0 {
		bad("max_bytes", "%d must not be negative", c.MaxBytes)
	}
	for _, f := range []struct {
		key string
		n   int
	}{{"max_connections", c.MaxConnections}, {"max_connections_per_ip", c.MaxConnectionsPerIP},
		{"messages_per_minute_per_ip", c.MessagesPerMinutePerIP}} {
		if f.n < 0 {
			bad(f.key, "%d must not be negative", f.n)
		}
	}
	if c.MaxConnections > 0 && c.MaxConnectionsPerIP > c.MaxConnections {
		bad("max_connections_per_ip", "%d is more than max_connections, %d", c.MaxConnectionsPerIP, c.MaxConnections)
	}
	if c.Resolver != "" {
		if err := checkResolver(c.Resolver); err != nil {
			bad("resolver", "%q %v", c.Resolver, err)
		}
	}
	if u := c.TrustedUpstream; u != nil {
		if u.AuthservID == "" || strings.ContainsAny(u.AuthservID, " \t\r\n;()\"") {
			bad("trusted_upstream.authserv_id", "is required: the name the gateway puts first in its Authentication-Results, such as mx.example.com")
		}
		if len(u.Networks) == 0 {
			bad("trusted_upstream.networks", "is required: the addresses the gateway connects from, such as 192.0.2.0/28")
		}
		for i, n := range u.Networks {
			if _, err := parseNetwork(n); err != nil {
				bad(fmt.Sprintf("trusted_upstream.networks[%d]", i), "%q is not an address or a CIDR prefix such as 192.0.2.0/28", n)
			}
		}
	}
	seen := map[string]bool{}
	for i, u := range c.Auth {
		key := fmt.Sprintf("auth[%d]", i)
		switch {
		case u.Username == "":
			bad(key+".username", "is required")
		case strings.ContainsAny(u.Username, "\x00\r\n"):
			bad(key+".username", "must not contain NUL, CR or LF")
		case seen[u.Username]:
			bad(key+".username", "%q is listed twice", u.Username)
		}
		seen[u.Username] = true
		if u.Password.IsZero() && u.PasswordEnv == "" && u.PasswordFile == "" {
			bad(key+".password", "is required (or password_env or password_file)")
		}
		if u.Bot != "" && (!utf8.ValidString(u.Bot) || strings.ContainsFunc(u.Bot, unicode.IsControl) || len(u.Bot) > 64) {
			bad(key+".bot", "must be at most 64 bytes of text without control characters")
		}
		for j, t := range u.To {
			if msg := relay.CheckTarget(t); msg != "" {
				bad(fmt.Sprintf("%s.to[%d]", key, j), "%q %s", t, msg)
			}
		}
		if u.Severity != "" && !relay.Severity(u.Severity).Valid() {
			bad(key+".severity", "%q must be one of critical, warning and info", u.Severity)
		}
	}
	if (c.TLSCertFile == "") != (c.TLSKeyFile == "") {
		bad("tls_cert_file", "and tls_key_file must be set together")
	}
	if len(c.Auth) > 0 && c.TLSCertFile == "" && !loopbackListen(c.Listen) {
		bad("auth", "needs tls_cert_file and tls_key_file: AUTH PLAIN is offered only after STARTTLS or on loopback, and listen is not loopback")
	}
	return errors.Join(errs...)
}

func checkListen(addr string) error {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return errors.New("must be host:port, such as :25 or 192.0.2.10:25")
	}
	if n, err := strconv.Atoi(port); err != nil || n < 0 || n > 65535 {
		return fmt.Errorf("has port %q, which is not a port number", port)
	}
	if host != "" && net.ParseIP(host) == nil && host != "localhost" {
		return fmt.Errorf("has host %q, which is not an IP address", host)
	}
	return nil
}

// checkResolver checks the address of a DNS server.
func checkResolver(addr string) error {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return errors.New("must be host:port, such as 127.0.0.1:53")
	}
	if n, err := strconv.Atoi(port); err != nil || n <= 0 || n > 65535 {
		return fmt.Errorf("has port %q, which is not a port number", port)
	}
	if _, err := netip.ParseAddr(host); err != nil {
		return fmt.Errorf("has host %q, which is not an IP address", host)
	}
	return nil
}

// parseNetwork reads a CIDR prefix or a single address.
func parseNetwork(s string) (netip.Prefix, error) {
	if p, err := netip.ParsePrefix(s); err == nil {
		return p.Masked(), nil
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Prefix{}, err
	}
	return netip.PrefixFrom(a, a.BitLen()), nil
}

func loopbackListen(addr string) bool {
	if addr == "" {
		addr = DefaultListen
	}
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	ip := net.ParseIP(host)
	return host == "localhost" || (ip != nil && ip.IsLoopback())
}

// ResolveSecrets reads the reply keys from reply_keys, reply_keys_env or
// reply_keys_file and each bot password from password, password_env or
// password_file (relative files against dir) into ReplyKeys and Password,
// clearing the _env and _file fields so calling it twice is harmless. It
// also makes relative TLS file paths absolute against dir. A nil getenv
// means os.Getenv. Errors name the key and never contain a secret.
func (c *Config) ResolveSecrets(dir string, getenv func(string) string) error {
	if getenv == nil {
		getenv = os.Getenv
	}
	var errs []error
	if c.ReplyKeysEnv != "" || c.ReplyKeysFile != "" {
		src := secret.Source{Key: "reply_keys", Env: c.ReplyKeysEnv, File: c.ReplyKeysFile}
		switch v, err := src.Resolve(dir, getenv); {
		case len(c.ReplyKeys) > 0:
			errs = append(errs, errors.New("reply_keys: set only one of reply_keys, reply_keys_env and reply_keys_file"))
		case err != nil:
			errs = append(errs, err)
		default:
			c.ReplyKeys = nil
			for _, k := range strings.Fields(v.Reveal()) {
				c.ReplyKeys = append(c.ReplyKeys, secret.New(k))
			}
			c.ReplyKeysEnv, c.ReplyKeysFile = "", ""
		}
	}
	for i := range c.Auth {
		u := &c.Auth[i]
		src := secret.Source{Key: "password", Literal: u.Password, Env: u.PasswordEnv, File: u.PasswordFile}
		pw, err := src.Resolve(dir, getenv)
		if err != nil {
			errs = append(errs, fmt.Errorf("auth[%d].%w", i, err))
			continue
		}
		u.Password, u.PasswordEnv, u.PasswordFile = pw, "", ""
	}
	for _, p := range []*string{&c.TLSCertFile, &c.TLSKeyFile} {
		if *p != "" && dir != "" && !filepath.IsAbs(*p) {
			*p = filepath.Join(dir, *p)
		}
	}
	return errors.Join(errs...)
}

// dnsServer is a resolver that asks only the DNS server at addr.
func dnsServer(addr string) *net.Resolver {
	return &net.Resolver{PreferGo: true, Dial: func(ctx context.Context, network, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, network, addr)
	}}
}

// Options returns the server options c describes: Addr, Domain, Keys,
// MaxBytes, Auth, TLS, IncidentAddressesOff, Resolver, Upstream and
// Limits. The caller adds Receiver, Lookup, Incident, Post, Logger and
// Registerer. Call SetDefaults, Validate and ResolveSecrets first.
func (c *Config) Options() (Options, error) {
	o := Options{Addr: c.Listen, Domain: c.Domain, MaxBytes: c.MaxBytes,
		IncidentAddressesOff: c.IncidentAddresses != nil && !*c.IncidentAddresses,
		Limits: Limits{MaxConnections: c.MaxConnections, MaxConnectionsPerIP: c.MaxConnectionsPerIP,
			MessagesPerMinute: c.MessagesPerMinutePerIP}}
	if c.Resolver != "" {
		if err := checkResolver(c.Resolver); err != nil {
			return o, fmt.Errorf("resolver: %q %v", c.Resolver, err)
		}
		o.Resolver = dnsServer(c.Resolver)
	}
	if u := c.TrustedUpstream; u != nil {
		o.Upstream.AuthservID = u.AuthservID
		for i, n := range u.Networks {
			p, err := parseNetwork(n)
			if err != nil {
				return o, fmt.Errorf("trusted_upstream.networks[%d]: %q is not an address or a CIDR prefix", i, n)
			}
			o.Upstream.Networks = append(o.Upstream.Networks, p)
		}
	}
	if c.ReplyKeysEnv != "" || c.ReplyKeysFile != "" {
		return o, errors.New("reply_keys: reply_keys_env and reply_keys_file must be resolved (Config.ResolveSecrets) first")
	}
	if len(c.ReplyKeys) > 0 {
		k, err := email.NewReplyKey(c.ReplyKeys...)
		if err != nil {
			return o, fmt.Errorf("reply_keys: %w", err)
		}
		o.Keys = k
	}
	if len(c.Auth) > 0 {
		o.Auth = make(map[string]Bot, len(c.Auth))
		for i, u := range c.Auth {
			if u.PasswordEnv != "" || u.PasswordFile != "" {
				return o, fmt.Errorf("auth[%d].password: password_env and password_file must be resolved (Config.ResolveSecrets) first", i)
			}
			o.Auth[u.Username] = Bot{Password: u.Password, Name: u.Bot, To: slices.Clone(u.To), Severity: relay.Severity(u.Severity)}
		}
	}
	if c.TLSCertFile != "" {
		cert, err := tls.LoadX509KeyPair(c.TLSCertFile, c.TLSKeyFile)
		if err != nil {
			return o, fmt.Errorf("tls_cert_file: cannot load the certificate and key: %v", err)
		}
		o.TLS = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	}
	return o, nil
}
