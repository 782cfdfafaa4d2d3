package api

import (
	"crypto/sha256"
	"crypto/subtle"
	"net/http"
	"net/netip"
	"strings"
	"time"

	"github.com/oob-relay/relay/relay"
)

// ClientAddr returns the address r's limits are kept under: the peer, or
// the client a trusted proxy names (see Options.TrustedProxies).
func (a *API) ClientAddr(r *http.Request) netip.Addr { return a.clientOf(r) }

// AdmitAddress takes one request of addr from the API's per-address
// bucket, so that the web console and the API share one limit, and
// returns how long addr must wait when the bucket is empty.
func (a *API) AdmitAddress(addr netip.Addr) time.Duration {
	wait := a.clients.admit(addr, a.opts.Now())
	if wait > 0 {
		a.throttled.WithLabelValues(limitAddress).Inc()
	}
	return wait
}

// Bearer looks up the bearer token of r's Authorization header as the
// API does: it returns the token's name and role, or ok false when r
// carries none or one this node does not know (counted as a wrong token
// of the address, with the same waits). wait is set when the address must
// wait before its token is looked at.
func (a *API) Bearer(r *http.Request) (name string, role relay.Role, wait time.Duration, ok bool) {
	scheme, tok, found := strings.Cut(r.Header.Get("Authorization"), " ")
	if !found || !strings.EqualFold(scheme, "Bearer") || strings.TrimSpace(tok) == "" {
		return "", "", 0, false
	}
	from := a.clientOf(r)
	if wait := a.clients.authWait(from, a.opts.Now()); wait > 0 {
		return "", "", wait, false
	}
	sum := sha256.Sum256([]byte(strings.TrimSpace(tok)))
	var match *tokenHash
	for i := range a.tokens {
		if subtle.ConstantTimeCompare(sum[:], a.tokens[i].sum[:]) == 1 {
			match = &a.tokens[i]
		}
	}
	if match == nil {
		n, wait := a.clients.failed(from, a.opts.Now())
		a.authFailed(r, from, authInvalid, n, wait)
		return "", "", 0, false
	}
	return match.Name, match.Role, 0, true
}
