package config

import (
	"fmt"
	"regexp"
	"strings"
	"text/template"
	"time"

	"github.com/oob-relay/relay/relay"
	"github.com/oob-relay/relay/relay/watch"
)

// Watch configures what the cluster watches: the same on every node.
type Watch struct {
	// Targets are probed by every node from its own site; a target is
	// down when a quorum of sites sees it down for its for.
	Targets []WatchTarget `yaml:"targets"`
	// Quorum is how many sites must agree; 0 (the default) means a
	// majority of the sites the log knows.
	Quorum int `yaml:"quorum"`
	// Heartbeats are dead man's switches: POST /v1/heartbeats/{name}.
	Heartbeats []Heartbeat `yaml:"heartbeats"`
	// SiteDark pages when a node is dead to a majority of the others.
	SiteDark SiteDark `yaml:"site_dark"`
}

// WatchTarget is one watched target.
type WatchTarget struct {
	Name string `yaml:"name"`
	// Kind is http, tcp or dns.
	Kind string `yaml:"kind"`
	// URL (http): an http or https URL.
	URL string `yaml:"url"`
	// Status (http) lists the codes that mean up; empty means 200-399.
	Status []int `yaml:"status"`
	// Body (http) is a regular expression the answer's first 64 KiB
	// must match.
	Body string `yaml:"body"`
	// CertExpiry (https) makes the target down when its certificate
	// expires within this long.
	CertExpiry time.Duration `yaml:"cert_expiry"`
	// Address (tcp) is host:port.
	Address string `yaml:"address"`
	// Host (dns) is the name to resolve; Server the host:port of the DNS
	// server to ask instead of the system's.
	Host   string `yaml:"host"`
	Server string `yaml:"server"`
	// Interval between probes (default 10s), Timeout of one (default 5s),
	// For how long a quorum must see it down (default 1m), RecoverFor
	// how long up again (default For).
	Interval   time.Duration `yaml:"interval"`
	Timeout    time.Duration `yaml:"timeout"`
	For        time.Duration `yaml:"for"`
	RecoverFor time.Duration `yaml:"recover_for"`
	// To is the audience paged (groups, schedules, escalations, people).
	To []string `yaml:"to"`
	// Lang is the pages' language, ko (the default) or en; Template, a
	// Go text/template over relay.WatchPage, replaces the text.
	Lang     string `yaml:"lang"`
	Template string `yaml:"template"`
}

// Heartbeat is one dead man's switch.
type Heartbeat struct {
	Name string `yaml:"name"`
	// Every is how often a beat is expected; Grace how much later one
	// may come before To is paged (default a quarter of Every).
	Every time.Duration `yaml:"every"`
	Grace time.Duration `yaml:"grace"`
	To    []string      `yaml:"to"`
	Lang  string        `yaml:"lang"`
}

// SiteDark says when a node dead to the others is paged about.
type SiteDark struct {
	// After is how long a majority of the other nodes must see it dead;
	// default DefaultSiteDarkAfter.
	After time.Duration `yaml:"after"`
	// To is paged; default role:admin.
	To   []string `yaml:"to"`
	Lang string   `yaml:"lang"`
}

// DefaultSiteDarkAfter is longer than a node's restart, short enough to
// act while the site is still dark.
const DefaultSiteDarkAfter = 2 * time.Minute

// Bounds of watching.
const (
	// MinWatchInterval keeps probes from hammering what they watch.
	MinWatchInterval = time.Second
	// MaxWatchTargets and MaxHeartbeats bound what one cluster watches.
	MaxWatchTargets = 256
	MaxHeartbeats   = 256
)

func (w *Watch) setDefaults() {
	if w.SiteDark.After == 0 {
		w.SiteDark.After = DefaultSiteDarkAfter
	}
	if len(w.SiteDark.To) == 0 {
		w.SiteDark.To = []string{relay.TargetRolePrefix + relay.PersonAdmin}
	}
	for i := range w.Heartbeats {
		if h := &w.Heartbeats[i]; h.Grace == 0 {
			h.Grace = h.Every / 4
		}
	}
}

// Target returns the target's probe and page settings; call it on a
// valid configuration.
func (t *WatchTarget) Target() (watch.Target, *template.Template, error) {
	wt := watch.Target{Name: t.Name, Kind: t.Kind, URL: t.URL, Status: t.Status, CertExpiry: t.CertExpiry,
		Address: t.Address, Host: t.Host, Server: t.Server, Interval: t.Interval, Timeout: t.Timeout,
		For: t.For, RecoverFor: t.RecoverFor, To: t.To}
	if t.Body != "" {
		re, err := regexp.Compile(t.Body)
		if err != nil {
			return wt, nil, fmt.Errorf("body: %w", err)
		}
		wt.Body = re
	}
	var tmpl *template.Template
	if t.Template != "" {
		var err error
		if tmpl, err = template.New(t.Name).Option("missingkey=error").Parse(t.Template); err != nil {
			return wt, nil, fmt.Errorf("template: %w", err)
		}
	}
	return wt, tmpl, nil
}

func validLang(l string) bool { return l == "" || l == "ko" || l == "en" }

func validateTo(bad func(key, format string, args ...any), key string, to []string) {
	if len(to) == 0 {
		bad(key, "names nobody to page: list %s", relay.AudienceForms)
	}
	for j, target := range to {
		if why := relay.CheckTarget(target); why != "" {
			bad(fmt.Sprintf("%s[%d]", key, j), "%q %s", target, why)
		}
	}
}

func (w *Watch) validate(bad func(key, format string, args ...any)) {
	if len(w.Targets) > MaxWatchTargets {
		bad("watch.targets", "has %d targets; the limit is %d", len(w.Targets), MaxWatchTargets)
	}
	if w.Quorum < 0 || w.Quorum > 64 {
		bad("watch.quorum", "%d must be from 0 (a majority of the sites) to 64", w.Quorum)
	}
	names := map[string]bool{}
	for i := range w.Targets {
		t := &w.Targets[i]
		key := fmt.Sprintf("watch.targets[%d]", i)
		if names[t.Name] {
			bad(key+".name", "%q is used twice", t.Name)
		}
		names[t.Name] = true
		if _, err := regexp.Compile(t.Body); err != nil {
			bad(key+".body", "%q is not a regular expression: %v", t.Body, err)
		}
		if _, err := template.New(t.Name).Parse(t.Template); err != nil {
			bad(key+".template", "%v", err)
		}
		wt, _, err := t.Target()
		if err != nil {
			continue
		}
		if len(t.To) > 0 {
			if err := wt.Check(); err != nil {
				field, rest := fieldOf(err.Error())
				bad(key+field, "%s", rest)
			}
		}
		if t.Interval != 0 && t.Interval < MinWatchInterval {
			bad(key+".interval", "%s must be at least %s", t.Interval, MinWatchInterval)
		}
		if t.Kind != watch.KindHTTP && (len(t.Status) > 0 || t.Body != "" || t.CertExpiry != 0 || t.URL != "") {
			bad(key, "url, status, body and cert_expiry are for kind http")
		}
		if !validLang(t.Lang) {
			bad(key+".lang", "%q is not ko or en", t.Lang)
		}
		validateTo(bad, key+".to", t.To)
	}
	if len(w.Heartbeats) > MaxHeartbeats {
		bad("watch.heartbeats", "has %d heartbeats; the limit is %d", len(w.Heartbeats), MaxHeartbeats)
	}
	beats := map[string]bool{}
	for i, h := range w.Heartbeats {
		key := fmt.Sprintf("watch.heartbeats[%d]", i)
		switch {
		case !relay.ValidID(h.Name):
			bad(key+".name", "%q %s", h.Name, errBadID)
		case beats[h.Name]:
			bad(key+".name", "%q is used twice", h.Name)
		}
		beats[h.Name] = true
		if h.Every < MinWatchInterval {
			bad(key+".every", "%s must be at least %s, such as 5m", h.Every, MinWatchInterval)
		}
		if h.Grace < 0 {
			bad(key+".grace", "%s may not be negative", h.Grace)
		}
		if !validLang(h.Lang) {
			bad(key+".lang", "%q is not ko or en", h.Lang)
		}
		validateTo(bad, key+".to", h.To)
	}
	if w.SiteDark.After < 10*time.Second {
		bad("watch.site_dark.after", "%s must be at least 10s, longer than the failure detector takes", w.SiteDark.After)
	}
	if !validLang(w.SiteDark.Lang) {
		bad("watch.site_dark.lang", "%q is not ko or en", w.SiteDark.Lang)
	}
	validateTo(bad, "watch.site_dark.to", w.SiteDark.To)
}

// fieldOf splits a watch.Target.Check message that starts with the key
// it is about into ".key" and the rest.
func fieldOf(msg string) (string, string) {
	k, rest, ok := strings.Cut(msg, " ")
	k = strings.TrimSuffix(k, ":")
	switch k {
	case "name", "url", "status", "cert_expiry", "address", "host", "server", "kind", "timeout":
		if ok {
			return "." + k, rest
		}
	}
	return "", msg
}
