package alertmanager

import (
	"fmt"
	"regexp"
	"strings"

	"github.com/oob-relay/relay/relay"
)

// router is a Config with its expressions compiled.
type router struct {
	cfg    *Config
	routes []*compiledRoute
	def    *compiledRoute
}

type compiledRoute struct {
	key string // the route's config key: "routes[1]" or "default"
	*Route
	re map[string]*regexp.Regexp
}

// newRouter compiles the routes of a valid config.
func newRouter(cfg *Config) (*router, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	compile := func(key string, r *Route) *compiledRoute {
		cr := &compiledRoute{key: key, Route: r, re: make(map[string]*regexp.Regexp, len(r.MatchRE))}
		for name, expr := range r.MatchRE {
			cr.re[name], _ = anchored(expr) // Validate compiled it
		}
		return cr
	}
	rt := &router{cfg: cfg}
	for i := range cfg.Routes {
		rt.routes = append(rt.routes, compile(fmt.Sprintf("routes[%d]", i), &cfg.Routes[i]))
	}
	if cfg.Default != nil {
		rt.def = compile("default", cfg.Default)
	}
	return rt, nil
}

// matches reports whether the route takes an alert with these labels.
func (r *compiledRoute) matches(labels map[string]string) bool {
	for name, want := range r.Match {
		if labels[name] != want {
			return false
		}
	}
	for name, re := range r.re {
		if !re.MatchString(labels[name]) {
			return false
		}
	}
	return true
}

// route returns the routes an alert goes to, in config order; none when
// nothing matched and there is no default route.
func (rt *router) route(labels map[string]string) []*compiledRoute {
	var out []*compiledRoute
	for _, r := range rt.routes {
		if r.matches(labels) {
			out = append(out, r)
			if !r.Continue {
				break
			}
		}
	}
	if len(out) == 0 && rt.def != nil {
		out = append(out, rt.def)
	}
	return out
}

// severity maps a severity label value to a relay severity: through
// Severities first, then critical, warning and info to themselves, then
// to DefaultSeverity.
func (c *Config) severity(value string) relay.Severity {
	v := strings.ToLower(strings.TrimSpace(value))
	if v == "" {
		return c.defaultSeverity()
	}
	for k, s := range c.Severities {
		if strings.ToLower(strings.TrimSpace(k)) == v {
			return s
		}
	}
	if s := relay.Severity(v); s.Valid() {
		return s
	}
	return c.defaultSeverity()
}

func (c *Config) defaultSeverity() relay.Severity {
	if c.DefaultSeverity != "" {
		return c.DefaultSeverity
	}
	return relay.DefaultSeverity
}

func (c *Config) severityLabel() string {
	if c.SeverityLabel != "" {
		return c.SeverityLabel
	}
	return DefaultSeverityLabel
}
