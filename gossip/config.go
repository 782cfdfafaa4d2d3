package gossip

import (
	"encoding/base64"
	"errors"
	"fmt"
	"net"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/hashicorp/memberlist"

	"github.com/oob-relay/relay/relay/secret"
)

// Defaults applied by SetDefaults.
const (
	// DefaultBind listens on every interface at memberlist's usual port.
	DefaultBind = "0.0.0.0:7946"
	// DefaultRejoinInterval retries the seeds twice a minute while some are
	// missing: quick enough to heal a cluster after a full restart, rare
	// enough to cost nothing while the cluster is whole.
	DefaultRejoinInterval = 30 * time.Second
	// DefaultPreset suits nodes on one network; PresetWAN suits nodes in
	// different regions.
	DefaultPreset = PresetLAN
)

// Config is the cluster membership section of a node's configuration.
// Call SetDefaults, then Validate (or ValidateDev), then ResolveSecrets,
// then Validate again to check the keys read.
type Config struct {
	// Bind is the host:port memberlist listens on, for both UDP and TCP.
	// The host must be an IP address; empty or 0.0.0.0 means every
	// interface. Port 0 picks a free port (for tests). Default DefaultBind.
	Bind string `yaml:"bind"`
	// Advertise is the IP:port other nodes reach this node at, when that
	// differs from Bind (NAT, port forwarding, a bind to every interface).
	// Empty means the bind address; when that is 0.0.0.0, memberlist
	// advertises one of the host's private addresses (RFC 6890), and Start
	// fails if the host has none: then set Advertise.
	Advertise string `yaml:"advertise,omitempty"`
	// Seeds are host:port addresses of nodes to join. A host name that
	// resolves to several addresses joins them all. Listing the node itself
	// is fine: it is skipped.
	Seeds []string `yaml:"seeds,omitempty"`
	// RejoinInterval is how often the node resolves the seeds again and
	// joins the ones it is missing, while it sees fewer other members than
	// there are seed addresses other than its own. Default
	// DefaultRejoinInterval.
	RejoinInterval time.Duration `yaml:"rejoin_interval,omitempty"`
	// Keys are base64-encoded AES keys of 16, 24 or 32 bytes. The first
	// encrypts; every key is tried to decrypt. To rotate, add the new key
	// second on every node, then move it first on every node, then remove
	// the old one. Give them here, or as a comma-separated list in the
	// environment variable KeysEnv, or one per line in KeysFile;
	// ResolveSecrets reads them into Keys. Required outside dev mode.
	Keys     []secret.String `yaml:"keys,omitempty"`
	KeysEnv  string          `yaml:"keys_env,omitempty"`
	KeysFile string          `yaml:"keys_file,omitempty"`
	// Label names the cluster; nodes with another label are refused, so
	// that a staging node cannot join production by mistake even if it
	// holds the same key. At most 255 bytes. Required outside dev mode.
	Label string `yaml:"label,omitempty"`
	// Preset is "lan" or "wan" and chooses the failure detector's timers.
	// Default DefaultPreset.
	Preset string `yaml:"preset,omitempty"`
	// The timers below override the preset's; SetDefaults fills unset
	// ones from the preset. See memberlist.Config for their meaning.
	ProbeInterval    time.Duration `yaml:"probe_interval,omitempty"`
	ProbeTimeout     time.Duration `yaml:"probe_timeout,omitempty"`
	SuspicionMult    int           `yaml:"suspicion_mult,omitempty"`
	GossipInterval   time.Duration `yaml:"gossip_interval,omitempty"`
	PushPullInterval time.Duration `yaml:"push_pull_interval,omitempty"`
	TCPTimeout       time.Duration `yaml:"tcp_timeout,omitempty"`
}

// SetDefaults fills in unset fields, the timers from the preset. An
// unknown preset leaves the timers unset for Validate to report.
func (c *Config) SetDefaults() {
	if c.Bind == "" {
		c.Bind = DefaultBind
	}
	if c.RejoinInterval == 0 {
		c.RejoinInterval = DefaultRejoinInterval
	}
	if c.Preset == "" {
		c.Preset = DefaultPreset
	}
	p, ok := presets[c.Preset]
	if !ok {
		return
	}
	setIfZero(&c.ProbeInterval, p.probeInterval)
	setIfZero(&c.ProbeTimeout, p.probeTimeout)
	setIfZero(&c.SuspicionMult, p.suspicionMult)
	setIfZero(&c.GossipInterval, p.gossipInterval)
	setIfZero(&c.PushPullInterval, p.pushPullInterval)
	setIfZero(&c.TCPTimeout, p.tcpTimeout)
}

func setIfZero[T comparable](field *T, v T) {
	var zero T
	if *field == zero {
		*field = v
	}
}

// Validate reports every problem with the configuration, each naming its
// key, joined with errors.Join. Keys and label are required. It never
// includes a key.
func (c *Config) Validate() error { return c.validate(true) }

// ValidateDev is Validate for a development cluster on one machine: keys
// and label may be left out, and then gossip is neither encrypted nor
// labelled.
func (c *Config) ValidateDev() error { return c.validate(false) }

func (c *Config) validate(requireSecrets bool) error {
	var errs []error
	bad := func(key, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s: %s", key, fmt.Sprintf(format, args...)))
	}
	if err := checkHostPort(c.Bind, true, true); err != nil {
		bad("bind", "%q %v", c.Bind, err)
	}
	if c.Advertise != "" {
		if err := checkHostPort(c.Advertise, true, false); err != nil {
			bad("advertise", "%q %v", c.Advertise, err)
		}
	}
	for i, s := range c.Seeds {
		if err := checkHostPort(s, false, false); err != nil {
			bad(fmt.Sprintf("seeds[%d]", i), "%q %v", s, err)
		}
	}
	if c.RejoinInterval <= 0 {
		bad("rejoin_interval", "%s must be positive", c.RejoinInterval)
	}
	errs = append(errs, c.validateKeys(requireSecrets)...)
	switch {
	case c.Label == "" && requireSecrets:
		bad("label", "is required (a name shared by the cluster's nodes, such as relay-prod)")
	case len(c.Label) > memberlist.LabelMaxSize:
		bad("label", "is %d bytes long; at most %d are allowed", len(c.Label), memberlist.LabelMaxSize)
	}
	if _, ok := presets[c.Preset]; !ok {
		bad("preset", "%q must be %q or %q", c.Preset, PresetLAN, PresetWAN)
	}
	for _, d := range []struct {
		key string
		v   time.Duration
	}{
		{"probe_interval", c.ProbeInterval},
		{"probe_timeout", c.ProbeTimeout},
		{"gossip_interval", c.GossipInterval},
		{"push_pull_interval", c.PushPullInterval},
		{"tcp_timeout", c.TCPTimeout},
	} {
		if d.v <= 0 {
			bad(d.key, "%s must be positive", d.v)
		}
	}
	if c.ProbeTimeout > 0 && c.ProbeInterval > 0 && c.ProbeTimeout >= c.ProbeInterval {
		bad("probe_timeout", "%s must be shorter than probe_interval (%s)", c.ProbeTimeout, c.ProbeInterval)
	}
	if c.SuspicionMult < 1 {
		bad("suspicion_mult", "%d must be at least 1", c.SuspicionMult)
	}
	return errors.Join(errs...)
}

func (c *Config) validateKeys(required bool) []error {
	sources := 0
	for _, set := range []bool{len(c.Keys) > 0, c.KeysEnv != "", c.KeysFile != ""} {
		if set {
			sources++
		}
	}
	switch {
	case sources == 0 && required:
		return []error{errors.New("keys: is required (or keys_env or keys_file): base64 AES keys of 16, 24 or 32 bytes, such as the output of \"openssl rand -base64 32\"")}
	case sources > 1:
		return []error{errors.New("keys: set only one of keys, keys_env and keys_file")}
	}
	var errs []error
	for i, k := range c.Keys {
		if _, err := decodeKey(k.Reveal()); err != nil {
			errs = append(errs, fmt.Errorf("keys[%d]: %v", i, err))
		}
	}
	return errs
}

// decodeKey decodes one base64 AES key. Its errors never contain the key.
func decodeKey(s string) ([]byte, error) {
	b, err := base64.StdEncoding.DecodeString(strings.TrimSpace(s))
	if err != nil {
		return nil, errors.New("is not valid base64")
	}
	if err := memberlist.ValidateKey(b); err != nil {
		return nil, fmt.Errorf("decodes to %d bytes; an AES key has 16, 24 or 32", len(b))
	}
	return b, nil
}

// decodeKeys decodes every key, the primary first.
func decodeKeys(keys []secret.String) ([][]byte, error) {
	out := make([][]byte, 0, len(keys))
	for i, k := range keys {
		b, err := decodeKey(k.Reveal())
		if err != nil {
			return nil, fmt.Errorf("keys[%d]: %v", i, err)
		}
		out = append(out, b)
	}
	return out, nil
}

// ResolveSecrets reads the keys from keys_env (comma-separated) or
// keys_file (one per line; blank lines and lines starting with # are
// skipped) into Keys and clears those two fields. Relative file paths
// resolve against dir, the config file's folder. Errors name the key and
// never contain a key.
func (c *Config) ResolveSecrets(dir string, getenv func(string) string) error {
	if c.KeysEnv == "" && c.KeysFile == "" {
		return nil
	}
	if len(c.Keys) > 0 || (c.KeysEnv != "" && c.KeysFile != "") {
		return errors.New("keys: set only one of keys, keys_env and keys_file")
	}
	src := secret.Source{Key: "keys", Env: c.KeysEnv, File: c.KeysFile}
	v, err := src.Resolve(dir, getenv)
	if err != nil {
		return err
	}
	sep := "\n"
	if c.KeysEnv != "" {
		sep = ","
	}
	var keys []secret.String
	for _, part := range strings.Split(v.Reveal(), sep) {
		part = strings.TrimSpace(part)
		if part == "" || (sep == "\n" && strings.HasPrefix(part, "#")) {
			continue
		}
		keys = append(keys, secret.New(part))
	}
	if len(keys) == 0 {
		if c.KeysEnv != "" {
			return fmt.Errorf("keys_env: environment variable %s holds no key", c.KeysEnv)
		}
		path := c.KeysFile
		if !filepath.IsAbs(path) && dir != "" {
			path = filepath.Join(dir, path)
		}
		return fmt.Errorf("keys_file: %s holds no key", path)
	}
	c.Keys, c.KeysEnv, c.KeysFile = keys, "", ""
	return nil
}

// checkHostPort checks an address of the form host:port. ipOnly requires
// the host to be an IP address; bind also allows an empty host and port 0.
func checkHostPort(s string, ipOnly, bind bool) error {
	host, port, err := net.SplitHostPort(s)
	if err != nil {
		return errors.New("is not host:port")
	}
	n, err := strconv.Atoi(port)
	switch {
	case err != nil || n < 0 || n > 65535:
		return errors.New("has no valid port (0 to 65535)")
	case n == 0 && !bind:
		return errors.New("needs a port other than 0")
	case host == "" && !bind:
		return errors.New("needs a host")
	case host != "" && ipOnly && net.ParseIP(host) == nil:
		return errors.New("needs an IP address as host")
	case strings.Contains(host, "/"):
		return errors.New("is not host:port")
	}
	return nil
}

// splitHostPort splits a checked host:port.
func splitHostPort(s string) (string, int, error) {
	host, port, err := net.SplitHostPort(s)
	if err != nil {
		return "", 0, err
	}
	n, err := strconv.Atoi(port)
	if err != nil {
		return "", 0, err
	}
	return host, n, nil
}
