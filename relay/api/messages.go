package api

import (
	"errors"
	"net/http"
	"time"

	"github.com/oob-relay/relay/relay"
	"github.com/oob-relay/relay/relay/node"
	"github.com/oob-relay/relay/relay/problem"
)

func (a *API) postMessage(w http.ResponseWriter, r *http.Request) {
	var p relay.Post
	if !a.decodeJSON(w, r, &p) {
		return
	}
	c := callerOf(r.Context())
	key := r.Header.Get("Idempotency-Key")
	if err := relay.CheckLine("Idempotency-Key", key); err != nil {
		a.failErr(w, r, errors.Join(err, p.Validate()))
		return
	}
	acc, err := a.opts.Node.Post(r.Context(), &p, node.Author{Name: c.name, Via: relay.ViaAPI, Commander: c.role == relay.RoleAdmin}, key)
	if err != nil {
		a.startFailed(w, r, err, key, "message")
		return
	}
	m := acc.Message
	started(w, "/v1/messages/"+m.ID, acc.OnlyCopy, acc.Replayed)
	if !acc.Replayed {
		a.log.Info("message accepted", "id", m.ID, "incident", m.Incident, "author", m.Author,
			"severity", m.Severity, "recipients", len(m.Recipients), "unreachable", len(m.Unreachable))
	}
	v := acceptedView(m)
	v.Copies, v.OnlyCopy = acc.Copies, acc.OnlyCopy
	writeJSON(w, http.StatusAccepted, v)
}

func (a *API) getMessage(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	st := a.opts.Node.Store()
	m, err := st.Message(id)
	if errors.Is(err, relay.ErrNotFound) {
		a.fail(w, http.StatusNotFound, problem.Problem{Code: problem.CodeNotFound, Field: "id", Message: "no message " + quote(id)})
		return
	}
	if err != nil {
		a.failErr(w, r, err)
		return
	}
	ds, err := st.Deliveries(id)
	if err != nil {
		a.failErr(w, r, err)
		return
	}
	acks, err := st.Acks(id)
	if err != nil {
		a.failErr(w, r, err)
		return
	}
	v := messageView(m, ds, acks, time.Now())
	if v.Escalation, err = escalationView(st, m, acks); err != nil {
		a.failErr(w, r, err)
		return
	}
	// The summary is counted from the same read as the list, so the two
	// always agree.
	writeJSON(w, http.StatusOK, v)
}
