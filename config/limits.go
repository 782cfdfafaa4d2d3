package config

import (
	"fmt"
	"math"
	"net/netip"
	"time"

	"github.com/oob-relay/relay/relay"
)

// Limits bound what clients may ask of the node: how many audience
// targets a post names, and how fast the HTTP API may be called. Left
// out, every limit has its default; health, readiness and metrics are
// never limited.
type Limits struct {
	// MaxTo is how many distinct audience targets one post may name, by
	// the API, NATS or Alertmanager; a group counts as one. From 1 to
	// MaxMaxTo. Default relay.DefaultMaxTo.
	MaxTo int `yaml:"max_to"`
	// PerAddress bounds the API requests of one client address (an IPv6
	// client by its /64), before the token is looked at. Default 50 a
	// second with bursts of 500.
	PerAddress RateLimit `yaml:"per_address"`
	// PerToken bounds the API requests made with one token on this node.
	// Default 100 a second with bursts of 1,000.
	PerToken RateLimit `yaml:"per_token"`
	// FailedAuth is the wait an address must keep after wrong tokens.
	FailedAuth FailedAuth `yaml:"failed_auth"`
	// TrustedProxies are the addresses or ranges (10.0.0.0/8) of proxies
	// in front of the node: a request from one counts for the client its
	// X-Forwarded-For header names. Without them, every client behind a
	// proxy shares the proxy's limits.
	TrustedProxies []string `yaml:"trusted_proxies"`
}

// RateLimit is a token bucket of requests.
type RateLimit struct {
	// Rate is requests per second; 0 means no limit. Left out, the
	// default.
	Rate *float64 `yaml:"rate"`
	// Burst is how many requests may come at once after a quiet spell.
	// Left out, the default's.
	Burst int `yaml:"burst"`
}

// FailedAuth says how an address that sends wrong tokens is slowed: after
// three in a row it waits Delay, then twice as long after each further
// one up to MaxDelay, before a token of its is looked at again.
type FailedAuth struct {
	// Delay is the first wait. Default 1s.
	Delay time.Duration `yaml:"delay"`
	// MaxDelay bounds the wait, up to MaxAuthDelay. Default 1m.
	MaxDelay time.Duration `yaml:"max_delay"`
}

// Bounds of Limits.
const (
	// MaxMaxTo keeps max_to below what turns a post into a way to fill
	// every node's store.
	MaxMaxTo = 100_000
	// MaxRate bounds a request rate that is set.
	MaxRate = 1_000_000
	// MaxAuthDelay bounds failed_auth.max_delay: the API forgets an
	// address's wrong tokens after a quarter of an hour.
	MaxAuthDelay = 10 * time.Minute
)

func (l *Limits) setDefaults() {
	if l.MaxTo == 0 {
		l.MaxTo = relay.DefaultMaxTo
	}
}

func (l *Limits) validate(bad func(key, format string, args ...any)) {
	if l.MaxTo < 1 || l.MaxTo > MaxMaxTo {
		bad("limits.max_to", "%d must be from 1 to %d", l.MaxTo, MaxMaxTo)
	}
	for _, r := range []struct {
		key string
		l   RateLimit
	}{{"limits.per_address", l.PerAddress}, {"limits.per_token", l.PerToken}} {
		if r.l.Rate != nil {
			switch v := *r.l.Rate; {
			case math.IsNaN(v) || math.IsInf(v, 0) || v < 0 || v > MaxRate:
				bad(r.key+".rate", "must be a number of requests per second from 0 (no limit) to %d", MaxRate)
			case v == 0 && r.l.Burst != 0:
				bad(r.key+".burst", "has no effect with rate 0 (no limit); remove it")
			}
		}
		if r.l.Burst < 0 || r.l.Burst > MaxRate {
			bad(r.key+".burst", "%d must be from 1 to %d", r.l.Burst, MaxRate)
		}
	}
	f := l.FailedAuth
	switch {
	case f.Delay < 0:
		bad("limits.failed_auth.delay", "%s must not be negative", f.Delay)
	case f.MaxDelay < 0 || f.MaxDelay > MaxAuthDelay:
		bad("limits.failed_auth.max_delay", "%s must be from 0 (the default) to %s", f.MaxDelay, MaxAuthDelay)
	case f.MaxDelay > 0 && f.Delay > f.MaxDelay:
		bad("limits.failed_auth.delay", "%s is longer than max_delay %s", f.Delay, f.MaxDelay)
	case f.MaxDelay == 0 && f.Delay > time.Minute:
		bad("limits.failed_auth.delay", "%s is longer than the default max_delay 1m; set max_delay too", f.Delay)
	}
	for i, p := range l.TrustedProxies {
		if _, err := parseProxy(p); err != nil {
			bad(fmt.Sprintf("limits.trusted_proxies[%d]", i), "%q is not an IP address or CIDR range such as 10.0.0.0/8", p)
		}
	}
}

// Proxies returns TrustedProxies as prefixes; an address is a prefix of
// its whole length. Call it after Validate.
func (l *Limits) Proxies() []netip.Prefix {
	var out []netip.Prefix
	for _, p := range l.TrustedProxies {
		if pre, err := parseProxy(p); err == nil {
			out = append(out, pre)
		}
	}
	return out
}

func parseProxy(s string) (netip.Prefix, error) {
	if p, err := netip.ParsePrefix(s); err == nil {
		return p.Masked(), nil
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Prefix{}, err
	}
	a = a.Unmap()
	return netip.PrefixFrom(a, a.BitLen()), nil
}
