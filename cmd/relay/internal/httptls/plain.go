package httptls

import (
	"encoding/json"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/oob-relay/relay/relay/problem"
)

// PlainHandler answers the plain-HTTP port. With ACME it answers the CA's
// HTTP-01 challenges (/.well-known/acme-challenge/…) for the domains, on
// any port. Any other GET or
// HEAD is redirected (308) to the same path and query over HTTPS; any
// other method is refused with 403 and a problem, rather than redirected:
// the token it carried has crossed the network in clear text already, and
// a client that followed the redirect would never show it.
//
// The HTTPS origin is publicURL's when that is an https URL; otherwise
// the host the request names (with ACME, only one of the domains) at
// httpsPort.
func (t *TLS) PlainHandler(publicURL, httpsPort string) http.Handler {
	origin := func(r *http.Request) string {
		if u, err := url.Parse(publicURL); err == nil && u.Scheme == "https" && u.Host != "" {
			return "https://" + u.Host
		}
		host := r.Host
		if h, _, err := net.SplitHostPort(host); err == nil {
			host = h
		}
		host = strings.ToLower(strings.Trim(host, "[]"))
		if len(t.domains) > 0 && !slices.Contains(t.domains, strings.ToLower(host)) {
			host = t.domains[0]
		}
		if host == "" {
			host = "localhost"
		}
		if httpsPort == "443" {
			if strings.Contains(host, ":") {
				return "https://[" + host + "]"
			}
			return "https://" + host
		}
		return "https://" + net.JoinHostPort(host, httpsPort)
	}
	var h http.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		target := origin(r) + r.URL.RequestURI()
		if r.Method == http.MethodGet || r.Method == http.MethodHead {
			http.Redirect(w, r, target, http.StatusPermanentRedirect)
			return
		}
		msg := "this port only redirects to HTTPS: send requests to " + origin(r)
		if r.Header.Get("Authorization") != "" {
			msg += "; the credentials of this request crossed the network in clear text: replace them"
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusForbidden)
		json.NewEncoder(w).Encode(problem.Envelope{Error: problem.Problem{Code: problem.CodeForbidden, Message: msg}})
	})
	if t.manager != nil {
		challenges := t.manager.HTTPHandler(h)
		h = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			// autocert checks the Host header against the domains as it
			// is; a CA asking on a port other than 80 (behind a port
			// forward, or a test CA) names the port too.
			if host, _, err := net.SplitHostPort(r.Host); err == nil {
				r = r.Clone(r.Context())
				r.Host = host
			}
			challenges.ServeHTTP(w, r)
		})
	}
	return h
}
