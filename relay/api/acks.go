package api

import (
	"errors"
	"net/http"

	"github.com/oob-relay/relay/relay"
	"github.com/oob-relay/relay/relay/problem"
)

// AckRequest acknowledges an incident for a person.
type AckRequest struct {
	Person string `json:"person"`
}

// AckResult lists the messages of the incident the acknowledgement
// recorded: those addressed to the person that they had not
// acknowledged yet (none when they had).
type AckResult struct {
	Incident string   `json:"incident"`
	Person   string   `json:"person"`
	Messages []string `json:"messages"`
}

// ackIncident acknowledges an incident for a person, as their ACK by SMS
// would: an admin for anyone, a bot for the people of its answer_for.
func (a *API) ackIncident(w http.ResponseWriter, r *http.Request) {
	var req AckRequest
	if !a.decodeJSON(w, r, &req) {
		return
	}
	id := r.PathValue("id")
	roster, err := a.opts.Node.Roster()
	if err != nil {
		a.failErr(w, r, err)
		return
	}
	if _, ok := roster.Person(req.Person); !ok {
		a.fail(w, http.StatusUnprocessableEntity, problem.Problem{Code: problem.CodeInvalidField, Field: "person",
			Message: "no person " + quote(req.Person) + " in the roster"})
		return
	}
	if !a.speaksFor(w, r, req.Person, "acknowledge") {
		return
	}
	acked, err := a.opts.Node.AckIncident(r.Context(), req.Person, id, relay.ChannelAPI)
	switch {
	case errors.Is(err, relay.ErrNotFound):
		a.fail(w, http.StatusNotFound, problem.Problem{Code: problem.CodeNotFound, Field: "id", Message: "no incident " + quote(id)})
		return
	case err != nil:
		a.failErr(w, r, err)
		return
	}
	if acked == nil {
		acked = []string{}
	}
	a.log.Info("incident acknowledged for a person", "incident", id, "person", req.Person, "by", callerOf(r.Context()).name,
		"messages", len(acked))
	writeJSON(w, http.StatusOK, AckResult{Incident: id, Person: req.Person, Messages: acked})
}
