package config

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/oob-relay/relay/channels/twilio"
	"github.com/oob-relay/relay/relay"
)

const errBadID = "must be 1-64 characters of a-z, 0-9 and '-', not starting or ending with '-'"

// SetDefaults fills every key left out with its default, including the
// defaults of each provider's channel configuration, and removes a
// trailing slash from http.public_url. Values that are set, even invalid
// ones, are kept for Validate to report.
func (c *Config) SetDefaults() {
	if c.HTTP.Listen == "" {
		c.HTTP.Listen = DefaultListen
	}
	c.HTTP.PublicURL = strings.TrimRight(c.HTTP.PublicURL, "/")
	c.HTTP.CallbackURL = strings.TrimRight(c.HTTP.CallbackURL, "/")
	if c.HTTP.MaxRosterBytes == 0 {
		c.HTTP.MaxRosterBytes = DefaultMaxRosterBytes
	}
	if c.HTTP.MaxBodyBytes == 0 {
		c.HTTP.MaxBodyBytes = DefaultMaxBodyBytes
	}
	if c.HTTP.TLS != nil {
		c.HTTP.TLS.setDefaults(c.Node.DataDir)
	}
	d := &c.Delivery
	if d.Workers == 0 {
		d.Workers = DefaultWorkers
	}
	if d.AttemptTimeout == 0 {
		d.AttemptTimeout = DefaultAttemptTimeout
	}
	if d.ReceiptTimeout == 0 {
		d.ReceiptTimeout = DefaultReceiptTimeout
	}
	if d.Backoff.Initial == 0 {
		d.Backoff.Initial = DefaultBackoffInitial
	}
	if d.Backoff.Max == 0 {
		d.Backoff.Max = max(DefaultBackoffMax, d.Backoff.Initial)
	}
	for _, dl := range []struct {
		v   *time.Duration
		def time.Duration
	}{
		{&d.Deadlines.Critical, DefaultCriticalDeadline},
		{&d.Deadlines.Warning, DefaultWarningDeadline},
		{&d.Deadlines.Info, DefaultInfoDeadline},
	} {
		if *dl.v == 0 {
			*dl.v = dl.def
		}
	}
	if c.Cluster != nil {
		c.Cluster.setDefaults(d.AttemptTimeout)
	}
	d.Policy.setDefaults()
	d.Calls.setDefaults()
	c.Inbound.setDefaults()
	c.Store.setDefaults()
	c.Limits.setDefaults()
	c.Console.setDefaults()
	c.Watch.setDefaults()
	c.Drills.setDefaults()
	for _, cn := range c.canaries() {
		cn.canary.setDefaults()
	}
	for _, p := range c.providers() {
		p.limit.setDefaults()
		p.conf.SetDefaults()
	}
	if c.Log.Level == "" {
		c.Log.Level = DefaultLogLevel
	}
	if c.Log.Format == "" {
		c.Log.Format = DefaultLogFormat
	}
}

// Validate reports every problem with the configuration at once, joined
// with errors.Join, in the order of the keys in the file. Each problem
// starts with its key path, such as
// `channels.sms.providers[0].twilio.from: "+8210" must be an E.164 number such as +821012345678`.
// Call it after SetDefaults. It checks secrets only where they are given
// literally (ResolveSecrets turns the others into literals) and never
// includes a secret's value.
func (c *Config) Validate() error {
	var errs []error
	bad := func(key, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s: %s", key, fmt.Sprintf(format, args...)))
	}
	switch {
	case c.Node.Name == "":
		bad("node.name", "is required (the node's name in its cluster, such as seoul-1)")
	case !relay.ValidID(c.Node.Name):
		bad("node.name", "%q %s", c.Node.Name, errBadID)
	}
	if c.Node.Site != "" && !relay.ValidID(c.Node.Site) {
		bad("node.site", "%q %s", c.Node.Site, errBadID)
	}
	if c.Node.DataDir == "" {
		bad("node.data_dir", "is required (the folder of the node's store)")
	}
	c.validateHTTP(bad)
	c.validateTokens(bad)
	c.validateDelivery(bad)
	errs = append(errs, c.validateChannels()...)
	errs = append(errs, c.Inbound.validate()...)
	if c.Cluster != nil {
		errs = append(errs, c.Cluster.validate(bad)...)
	}
	c.Store.validate(bad)
	c.Limits.validate(bad)
	c.Console.validate(bad)
	c.Watch.validate(bad)
	c.Drills.validate(bad)
	for _, cn := range c.canaries() {
		cn.canary.validate(func(key, format string, args ...any) { bad(cn.key+"."+key, format, args...) })
		if c.HTTP.PublicURL == "" && c.HTTP.CallbackURL == "" {
			bad(cn.key, "needs http.public_url or http.callback_url: its receipts come to the node's webhooks")
		}
	}
	if _, ok := logLevels[c.Log.Level]; !ok {
		bad("log.level", "unknown level %q (known: debug, info, warn, error)", c.Log.Level)
	}
	if c.Log.Format != "text" && c.Log.Format != "json" {
		bad("log.format", "unknown format %q (known: text, json)", c.Log.Format)
	}
	return errors.Join(errs...)
}

func (c *Config) validateHTTP(bad func(key, format string, args ...any)) {
	h := &c.HTTP
	if host, port, err := net.SplitHostPort(h.Listen); err != nil {
		bad("http.listen", "%q must be host:port, such as %s or :8080", h.Listen, DefaultListen)
	} else if n, err := strconv.Atoi(port); err != nil || n < 0 || n > 65535 {
		bad("http.listen", "%q has port %q; a port is a number from 0 to 65535", h.Listen, port)
	} else if strings.ContainsFunc(host, isSpaceOrControl) {
		bad("http.listen", "%q has a host with spaces or control characters", h.Listen)
	}
	for _, f := range []struct{ key, v string }{{"http.public_url", h.PublicURL}, {"http.callback_url", h.CallbackURL}} {
		if f.v == "" {
			continue
		}
		u, err := url.Parse(f.v)
		switch {
		case err != nil || !u.IsAbs() || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https"):
			bad(f.key, "%q must be an absolute http or https URL, such as https://relay-1.example.com", f.v)
		case u.User != nil:
			bad(f.key, "%q must not carry credentials; providers sign what they post", u.Redacted())
		case u.RawQuery != "" || u.ForceQuery || u.Fragment != "":
			bad(f.key, "%q must not have a query or fragment", f.v)
		case u.Scheme == "http" && !relay.LoopbackHost(u.Hostname()) && !h.InsecurePublicURL:
			bad(f.key, "%q would have providers post receipts and replies in clear text; use https (http.tls, or a TLS proxy), "+
				"or set http.insecure_public_url: true in a lab", f.v)
		}
	}
	if h.CallbackURL != "" && h.PublicURL == "" {
		bad("http.callback_url", "needs http.public_url: the node serves the webhooks only with a public URL")
	}
	switch {
	case h.MaxBodyBytes < MinBodyBytes:
		bad("http.max_body_bytes", "%d is below %d (70 KiB): a message of 64 KiB and its JSON must fit", h.MaxBodyBytes, MinBodyBytes)
	case h.MaxBodyBytes > MaxBodyBytes:
		bad("http.max_body_bytes", "%d is above %d (64 MiB)", h.MaxBodyBytes, MaxBodyBytes)
	}
	switch {
	case h.MaxRosterBytes < MinBodyBytes:
		bad("http.max_roster_bytes", "%d is below %d (70 KiB)", h.MaxRosterBytes, MinBodyBytes)
	case h.MaxRosterBytes > MaxBodyBytes:
		bad("http.max_roster_bytes", "%d is above %d (64 MiB)", h.MaxRosterBytes, MaxBodyBytes)
	}
	if h.TLS != nil {
		h.TLS.validate(h.Listen, bad)
	}
}

func (c *Config) validateTokens(bad func(key, format string, args ...any)) {
	if len(c.API.Tokens) == 0 {
		bad("api.tokens", "at least one token is required")
	}
	names := map[string]int{}
	values := map[string]int{}
	for i := range c.API.Tokens {
		t := &c.API.Tokens[i]
		key := fmt.Sprintf("api.tokens[%d]", i)
		switch {
		case t.Name == "":
			bad(key+".name", "is required (it is recorded as the author of messages posted with the token)")
		case !relay.ValidID(t.Name):
			bad(key+".name", "%q %s", t.Name, errBadID)
		default:
			if j, dup := names[t.Name]; dup {
				bad(key+".name", "%q is also used by api.tokens[%d]", t.Name, j)
			} else {
				names[t.Name] = i
			}
		}
		switch {
		case t.Role == "":
			bad(key+".role", "is required (admin, bot or viewer)")
		case !t.Role.Valid():
			bad(key+".role", "unknown role %q (known: admin, bot, viewer)", t.Role)
		}
		if len(t.AnswerFor) > 0 && t.Role != relay.RoleBot {
			bad(key+".answer_for", "is for bot tokens only: an admin answers for anyone, a viewer for nobody")
		}
		for j, target := range t.AnswerFor {
			if why := relay.CheckTarget(target); why != "" {
				bad(fmt.Sprintf("%s.answer_for[%d]", key, j), "%q %s", target, why)
			}
		}
		sources := 0
		for _, set := range []bool{!t.Token.IsZero(), t.TokenEnv != "", t.TokenFile != ""} {
			if set {
				sources++
			}
		}
		v := t.Token.Reveal()
		switch {
		case sources == 0:
			bad(key+".token", "is required (or token_env or token_file)")
		case sources > 1:
			bad(key+".token", "set only one of token, token_env and token_file")
		case v == "":
		case strings.ContainsFunc(v, func(r rune) bool { return r <= ' ' || r > '~' }):
			bad(key+".token", "must be printable ASCII without spaces, so that clients can send it in a header")
		case len(v) < MinTokenLength:
			bad(key+".token", "must be at least %d characters; generate one with: openssl rand -hex 32", MinTokenLength)
		default:
			if j, dup := values[v]; dup {
				bad(key+".token", "has the same value as api.tokens[%d].token; the tokens %q and %q must differ",
					j, c.API.Tokens[j].Name, t.Name)
			} else {
				values[v] = i
			}
		}
	}
}

func (c *Config) validateDelivery(bad func(key, format string, args ...any)) {
	d := &c.Delivery
	if d.Workers < 1 || d.Workers > MaxWorkers {
		bad("delivery.workers", "%d must be from 1 to %d", d.Workers, MaxWorkers)
	}
	positive := func(key string, v time.Duration, example string) {
		if v <= 0 {
			bad(key, "%s must be positive, such as %s", v, example)
		}
	}
	positive("delivery.attempt_timeout", d.AttemptTimeout, "30s")
	positive("delivery.receipt_timeout", d.ReceiptTimeout, "1m")
	positive("delivery.backoff.initial", d.Backoff.Initial, "1s")
	positive("delivery.backoff.max", d.Backoff.Max, "1m")
	if d.Backoff.Initial > 0 && d.Backoff.Max > 0 && d.Backoff.Max < d.Backoff.Initial {
		bad("delivery.backoff.max", "%s must not be shorter than delivery.backoff.initial (%s)", d.Backoff.Max, d.Backoff.Initial)
	}
	positive("delivery.deadlines.critical", d.Deadlines.Critical, "1h")
	positive("delivery.deadlines.warning", d.Deadlines.Warning, "4h")
	positive("delivery.deadlines.info", d.Deadlines.Info, "24h")
	d.Policy.validate(bad)
	d.Calls.validate(bad)
	if d.EscalationSpeedup < 0 || d.EscalationSpeedup > relay.MaxEscalationSpeedup {
		bad("delivery.escalation_speedup", "%d must be from 0 to %d (0 and 1 run escalations as the roster writes them)",
			d.EscalationSpeedup, relay.MaxEscalationSpeedup)
	}
}

// validateChannels checks every provider: its name, its limit and its
// channel configuration, whose errors get the provider's key path.
func (c *Config) validateChannels() []error {
	var errs []error
	names := map[string]string{}
	for _, p := range c.providers() {
		bad := func(key, format string, args ...any) {
			errs = append(errs, fmt.Errorf("%s.%s: %s", p.key, key, fmt.Sprintf(format, args...)))
		}
		switch {
		case p.name == "":
			bad("name", "is required (it names the provider in records, logs and metrics)")
		case !relay.ValidID(p.name):
			bad("name", "%q %s", p.name, errBadID)
		default:
			if other, dup := names[p.name]; dup {
				bad("name", "%q is also used by %s; provider names are unique across all channels", p.name, other)
			} else {
				names[p.name] = p.key
			}
		}
		p.limit.validate(bad)
		errs = append(errs, prefixed(p.key+"."+p.sub, p.conf.Validate())...)
		if tw, ok := p.conf.(*twilio.Config); ok && p.channel == relay.ChannelVoice && tw.From == "" {
			bad("twilio.from", "is required: calls go out from a number, not a messaging service")
		}
	}
	return errs
}

// prefixed flattens a joined error and puts prefix and a dot before each
// of its errors, which start with a key relative to prefix.
func prefixed(prefix string, err error) []error {
	var out []error
	for _, e := range flatten(err) {
		out = append(out, &keyError{prefix: prefix, err: e})
	}
	return out
}

// flatten lists the errors inside a tree of joined errors.
func flatten(err error) []error {
	if err == nil {
		return nil
	}
	j, ok := err.(interface{ Unwrap() []error })
	if !ok {
		return []error{err}
	}
	var out []error
	for _, e := range j.Unwrap() {
		out = append(out, flatten(e)...)
	}
	return out
}

// keyError is an error whose key path was given a prefix. It unwraps to
// the original error.
type keyError struct {
	prefix string
	err    error
}

func (e *keyError) Error() string { return e.prefix + "." + e.err.Error() }
func (e *keyError) Unwrap() error { return e.err }

func isSpaceOrControl(r rune) bool { return r <= ' ' || r == 0x7f }
