package alertmanager

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/oob-relay/relay/relay"
)

// IncidentPrefix starts the id of every incident opened from Alertmanager.
const IncidentPrefix = "am-"

// Request is one post to make for a notification.
type Request struct {
	Post relay.Post
	// Key is the post's idempotency key. It is the same each time
	// Alertmanager sends the same notification, so a retry posts once.
	Key string
	// Route is the config key of the route that made the post, such as
	// "routes[1]" or "default".
	Route string
}

// NoRouteError names the alerts that no route matched when the config has
// no default route.
type NoRouteError struct {
	// Alerts describes each alert, such as "alerts[2] (DiskFull)".
	Alerts []string
}

func (e *NoRouteError) Error() string {
	return fmt.Sprintf("%s matched no route and there is no default route", strings.Join(e.Alerts, ", "))
}

// Posts returns the posts a notification makes under cfg: for each route,
// in config order, one post of the alerts it took (see Config.Routes). All
// go to the incident IncidentID(n).
//
// When alerts match no route and cfg has no default route, Posts returns
// the posts of the other alerts together with a *NoRouteError naming
// those alerts, so that what can be posted still is. An invalid cfg is an
// error, as Config.Validate reports it.
func Posts(n *Notification, cfg *Config) ([]Request, error) {
	rt, err := newRouter(cfg)
	if err != nil {
		return nil, err
	}
	return rt.posts(n)
}

// IncidentID returns the incident a notification's group posts to: "am-"
// and 16 hex digits of a digest of the receiver and the group key, stable
// across notifications, nodes and restarts.
func IncidentID(n *Notification) string {
	sum := sha256.Sum256([]byte("relay alertmanager incident\x00" + n.Receiver + "\x00" + n.GroupKey))
	return IncidentPrefix + hex.EncodeToString(sum[:8])
}

func (rt *router) posts(n *Notification) ([]Request, error) {
	taken := make(map[*compiledRoute][]Alert)
	var unrouted []string
	for i := range n.Alerts {
		a := &n.Alerts[i]
		routes := rt.route(a.Labels)
		if len(routes) == 0 {
			unrouted = append(unrouted, describe(i, a))
		}
		for _, r := range routes {
			taken[r] = append(taken[r], *a)
		}
	}
	order := rt.routes
	if rt.def != nil {
		order = append(slices.Clip(order), rt.def)
	}
	w := wordsFor(rt.cfg.Lang)
	incident := IncidentID(n)
	var reqs []Request
	for _, r := range order {
		alerts := taken[r]
		if len(alerts) == 0 {
			continue
		}
		p := relay.Post{
			Incident: incident,
			Text:     w.render(n, alerts, rt.cfg.severityLabel()),
			To:       slices.Clone(r.To),
			Severity: rt.severity(r.Route, alerts),
			Channels: slices.Clone(r.Channels),
		}
		reqs = append(reqs, Request{Post: p, Key: idempotencyKey(n, alerts, &p), Route: r.key})
	}
	if len(unrouted) > 0 {
		return reqs, &NoRouteError{Alerts: unrouted}
	}
	return reqs, nil
}

func describe(i int, a *Alert) string {
	if name := a.Labels["alertname"]; name != "" {
		return fmt.Sprintf("alerts[%d] (%s)", i, oneLine(name, maxNameBytes))
	}
	return fmt.Sprintf("alerts[%d]", i)
}

// severity is the route's fixed severity, or else the most urgent one the
// alerts' labels give (the firing alerts' when any fire). A message of
// resolved alerts only has Config.ResolvedSeverity when that is set.
func (rt *router) severity(r *Route, alerts []Alert) relay.Severity {
	firing := slices.ContainsFunc(alerts, func(a Alert) bool { return a.Firing() })
	if !firing && rt.cfg.ResolvedSeverity != "" {
		return rt.cfg.ResolvedSeverity
	}
	if r.Severity != "" {
		return r.Severity
	}
	best := -1
	for _, a := range alerts {
		if firing && !a.Firing() {
			continue
		}
		rank := slices.Index(relay.Severities, rt.cfg.severity(a.Labels[rt.cfg.severityLabel()]))
		if best < 0 || rank < best {
			best = rank
		}
	}
	return relay.Severities[best]
}

// idempotencyKey digests what makes a notification the same one when
// Alertmanager sends it again: its receiver, group key and status, each
// alert's fingerprint, status and times, and the post rendered from it.
// The post's part makes a repeated notification whose annotations changed,
// or one handled under a changed config, a new message rather than a
// clash with the earlier one.
func idempotencyKey(n *Notification, alerts []Alert, p *relay.Post) string {
	ids := make([]string, len(alerts))
	for i, a := range alerts {
		fp := a.Fingerprint
		if fp == "" {
			fp = labelText(a.Labels)
		}
		ids[i] = strings.Join([]string{fp, a.Status, stamp(a.StartsAt), stamp(a.EndsAt)}, "\x1f")
	}
	slices.Sort(ids)
	h := sha256.New()
	for _, part := range append([]string{"relay alertmanager v1", n.Receiver, n.GroupKey, n.Status}, ids...) {
		h.Write([]byte(part))
		h.Write([]byte{0})
	}
	h.Write([]byte(p.Hash()))
	return IncidentPrefix + hex.EncodeToString(h.Sum(nil)[:20])
}

func stamp(t time.Time) string { return t.UTC().Format(time.RFC3339Nano) }

// labelText writes labels in a canonical order.
func labelText(labels map[string]string) string {
	var b strings.Builder
	for _, k := range sortedKeys(labels) {
		fmt.Fprintf(&b, "%q=%q,", k, labels[k])
	}
	return b.String()
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
