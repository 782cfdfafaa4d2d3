package api

import "net/http"

// Paced wraps a handler served beside the API that checks credentials of
// its own (the Alertmanager webhook), so that one client address has one
// limit and one wait after wrong credentials across the API, the web
// console and that handler: each request takes one from its address's
// bucket (429 when it is empty), a request carrying credentials from an
// address within its wait is answered 429 before h looks at them, and
// h's 401 to a request that carried credentials counts as a wrong token
// of the address, with the API's waits, metrics and log line.
func (a *API) Paced(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		from := a.clientOf(r)
		if !a.admit(w, r, from) {
			return
		}
		carries := r.Header.Get("Authorization") != ""
		if carries {
			if wait := a.clients.authWait(from, a.opts.Now()); wait > 0 {
				a.tooMany(w, r, from, limitAuth, wait, "too many wrong tokens from "+addrText(from))
				return
			}
		}
		rec := &statusRecorder{ResponseWriter: w}
		h.ServeHTTP(rec, r)
		if carries && rec.status == http.StatusUnauthorized {
			n, wait := a.clients.failed(from, a.opts.Now())
			a.authFailed(r, from, authInvalid, n, wait)
		}
	})
}
