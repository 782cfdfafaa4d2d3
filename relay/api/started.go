package api

import (
	"errors"
	"net/http"

	"github.com/oob-relay/relay/relay/node"
	"github.com/oob-relay/relay/relay/problem"
)

// startFailed answers a post that started nothing: a message, roll-call
// or drill (what) whose Idempotency-Key was used for another body, or
// any other error.
func (a *API) startFailed(w http.ResponseWriter, r *http.Request, err error, key, what string) {
	if errors.Is(err, node.ErrKeyReused) {
		a.fail(w, http.StatusUnprocessableEntity, problem.Problem{Code: problem.CodeKeyReused, Field: "Idempotency-Key",
			Message: "Idempotency-Key " + quote(key) + " was already used for a different " + what + "; use a new key for a new " + what})
		return
	}
	a.failErr(w, r, err)
}

// started sets the headers of a post that started something: where it
// is, whether this node holds the only copy, and whether the post was a
// retry answered with what the first one started.
func started(w http.ResponseWriter, location string, onlyCopy, replayed bool) {
	w.Header().Set("Location", location)
	if onlyCopy {
		w.Header().Set("Relay-Only-Copy", "true")
	}
	if replayed {
		w.Header().Set("Idempotent-Replayed", "true")
	}
}
