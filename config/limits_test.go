package config

import (
	"math"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/oob-relay/relay/relay"
)

func TestLimitsDefaults(t *testing.T) {
	c := validBase(t)
	if c.Limits.MaxTo != relay.DefaultMaxTo || c.Limits.PerAddress.Rate != nil || c.Limits.PerToken.Rate != nil ||
		c.Limits.FailedAuth != (FailedAuth{}) || c.Limits.Proxies() != nil {
		t.Errorf("limits left out = %+v", c.Limits)
	}
}

func TestLimitsValidate(t *testing.T) {
	rate := func(v float64) *float64 { return &v }
	tests := []struct {
		name   string
		mutate func(*Limits)
		want   string // the whole error text; empty means valid
	}{
		{"rates", func(l *Limits) {
			l.PerAddress = RateLimit{Rate: rate(5), Burst: 20}
			l.PerToken = RateLimit{Rate: rate(0.5)}
		}, ""},
		{"no limit", func(l *Limits) { l.PerAddress.Rate, l.PerToken.Rate = rate(0), rate(0) }, ""},
		{"proxies", func(l *Limits) {
			l.TrustedProxies = []string{"10.0.0.0/8", "192.0.2.10", "2001:db8::/32", "::ffff:192.0.2.11"}
		}, ""},
		{"max_to", func(l *Limits) { l.MaxTo = 100_001 }, "limits.max_to: 100001 must be from 1 to 100000"},
		{"max_to negative", func(l *Limits) { l.MaxTo = -1 }, "limits.max_to: -1 must be from 1 to 100000"},
		{"negative rate", func(l *Limits) { l.PerAddress.Rate = rate(-1) }, "limits.per_address.rate: must be a number of requests per second from 0 (no limit) to 1000000"},
		{"NaN rate", func(l *Limits) { l.PerToken.Rate = rate(math.NaN()) }, "limits.per_token.rate: must be a number of requests per second from 0 (no limit) to 1000000"},
		{"burst without limit", func(l *Limits) { l.PerToken = RateLimit{Rate: rate(0), Burst: 5} }, "limits.per_token.burst: has no effect with rate 0 (no limit); remove it"},
		{"negative burst", func(l *Limits) { l.PerAddress.Burst = -3 }, "limits.per_address.burst: -3 must be from 1 to 1000000"},
		{"delay over max", func(l *Limits) { l.FailedAuth = FailedAuth{Delay: 2 * time.Minute, MaxDelay: time.Minute} }, "limits.failed_auth.delay: 2m0s is longer than max_delay 1m0s"},
		{"max delay too long", func(l *Limits) { l.FailedAuth.MaxDelay = time.Hour }, "limits.failed_auth.max_delay: 1h0m0s must be from 0 (the default) to 10m0s"},
		{"bad proxy", func(l *Limits) { l.TrustedProxies = []string{"10.0.0.0/8", "proxy.example.com"} }, `limits.trusted_proxies[1]: "proxy.example.com" is not an IP address or CIDR range such as 10.0.0.0/8`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := validBase(t)
			tc.mutate(&c.Limits)
			err := c.Validate()
			got := ""
			if err != nil {
				got = err.Error()
			}
			if got != tc.want {
				t.Errorf("error\n got: %s\nwant: %s", got, tc.want)
			}
		})
	}
}

func TestLimitsFromYAML(t *testing.T) {
	c, err := Decode(strings.NewReader(baseYAML + `
limits:
  max_to: 5000
  per_address: {rate: 0}
  per_token: {rate: 2.5, burst: 10}
  failed_auth: {delay: 500ms, max_delay: 30s}
  trusted_proxies: [10.1.2.3/8, "::ffff:192.0.2.11"]
`))
	if err != nil {
		t.Fatal(err)
	}
	c.SetDefaults()
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	l := c.Limits
	if l.MaxTo != 5000 || *l.PerAddress.Rate != 0 || *l.PerToken.Rate != 2.5 || l.PerToken.Burst != 10 ||
		l.FailedAuth != (FailedAuth{Delay: 500 * time.Millisecond, MaxDelay: 30 * time.Second}) {
		t.Errorf("limits = %+v", l)
	}
	want := []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("192.0.2.11/32")}
	if got := l.Proxies(); !slices.Equal(got, want) {
		t.Errorf("proxies = %v, want %v", got, want)
	}
}
