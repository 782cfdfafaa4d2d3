package console

import (
	"net/http"
	"net/url"
	"slices"
	"strings"
)

// secureHeaders sets the headers every answer carries: a strict
// Content-Security-Policy whose connect-src names the other nodes (the
// page checks they answer before it moves there), no sniffing, a
// referrer only to this origin (a personal link's token never leaves for
// another site, and browsers then send this origin, not "null", as the
// Origin of a same-origin form post, with or without Sec-Fetch-Site),
// no framing.
func (c *Console) secureHeaders(w http.ResponseWriter) {
	h := w.Header()
	connect := "'self'"
	for _, o := range c.peerOrigins() {
		connect += " " + o
	}
	h.Set("Content-Security-Policy", "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src "+
		connect+"; frame-ancestors 'none'; base-uri 'none'; form-action 'self'")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "same-origin")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Cross-Origin-Opener-Policy", "same-origin")
}

// peer is another node a page can continue on.
type peer struct {
	Name string `json:"name"`
	URL  string `json:"url"`
}

// peers lists the other live members that publish an API URL, by name.
func (c *Console) peers() []peer {
	var out []peer
	for _, m := range c.n.Members() {
		if m.Self || m.API == "" || m.State != "alive" {
			continue
		}
		u, err := url.Parse(m.API)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			continue
		}
		out = append(out, peer{Name: m.Name, URL: strings.TrimSuffix(u.Scheme+"://"+u.Host+u.Path, "/")})
	}
	slices.SortFunc(out, func(a, b peer) int { return strings.Compare(a.Name, b.Name) })
	return out
}

// peerOrigins are the other nodes' origins, for connect-src.
func (c *Console) peerOrigins() []string {
	var out []string
	for _, p := range c.peers() {
		u, _ := url.Parse(p.URL)
		o := u.Scheme + "://" + u.Host
		if !slices.Contains(out, o) && !strings.ContainsAny(o, " ;,'") {
			out = append(out, o)
		}
	}
	return out
}
