package api

import (
	"encoding/csv"
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/oob-relay/relay/relay"
	"github.com/oob-relay/relay/relay/node"
	"github.com/oob-relay/relay/relay/problem"
)

// RollCallStarted is the answer to a roll-call's start.
type RollCallStarted struct {
	RollCall relay.RollCall `json:"rollcall"`
	Copies   int            `json:"copies"`
	OnlyCopy bool           `json:"only_copy,omitempty"`
}

// AnswerRequest is an answer given through the API for a person.
type AnswerRequest struct {
	Person string `json:"person"`
	Answer int    `json:"answer"`
}

// RollCallSummary is a roll-call as an incident shows it: its counts,
// without each person.
type RollCallSummary struct {
	ID          string              `json:"id"`
	Question    string              `json:"question"`
	StartedAt   time.Time           `json:"started_at"`
	StartedBy   string              `json:"started_by"`
	Until       time.Time           `json:"until"`
	Options     []relay.OptionCount `json:"options"`
	Audience    int                 `json:"audience"`
	Answered    int                 `json:"answered"`
	Unanswered  int                 `json:"unanswered"`
	Unreachable int                 `json:"unreachable"`
}

func summaryOf(t *relay.Tally) RollCallSummary {
	return RollCallSummary{ID: t.RollCall.ID, Question: t.RollCall.Question, StartedAt: t.RollCall.StartedAt.UTC(),
		StartedBy: t.RollCall.StartedBy, Until: t.RollCall.Until.UTC(), Options: t.Options, Audience: t.Audience,
		Answered: t.Answered, Unanswered: t.Unanswered, Unreachable: t.Unreachable}
}

func (a *API) startRollCall(w http.ResponseWriter, r *http.Request) {
	var req relay.RollCallStart
	if !a.decodeJSON(w, r, &req) {
		return
	}
	c := callerOf(r.Context())
	key := r.Header.Get("Idempotency-Key")
	if err := relay.CheckLine("Idempotency-Key", key); err != nil {
		a.failErr(w, r, errors.Join(err, req.Validate()))
		return
	}
	st, err := a.opts.Node.StartRollCall(r.Context(), &req, node.Author{Name: c.name, Via: relay.ViaAPI, Commander: c.role == relay.RoleAdmin}, key)
	if err != nil {
		a.startFailed(w, r, err, key, "roll-call")
		return
	}
	started(w, "/v1/rollcalls/"+st.RollCall.ID, st.OnlyCopy, st.Replayed)
	if !st.Replayed {
		a.log.Info("roll-call started", "id", st.RollCall.ID, "incident", st.RollCall.Incident, "author", c.name)
	}
	writeJSON(w, http.StatusAccepted, RollCallStarted{RollCall: *st.RollCall, Copies: st.Copies, OnlyCopy: st.OnlyCopy})
}

func (a *API) getRollCall(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	format := r.URL.Query().Get("format")
	if format != "" && format != "json" && format != "csv" {
		a.fail(w, http.StatusUnprocessableEntity, problem.Problem{Code: problem.CodeInvalidField, Field: "format",
			Message: "format: " + quote(format) + " is not a format; use json or csv"})
		return
	}
	t, err := a.opts.Node.RollCallTally(id)
	if errors.Is(err, relay.ErrNotFound) {
		a.fail(w, http.StatusNotFound, problem.Problem{Code: problem.CodeNotFound, Field: "id", Message: "no roll-call " + quote(id)})
		return
	}
	if err != nil {
		a.failErr(w, r, err)
		return
	}
	if format != "csv" {
		writeJSON(w, http.StatusOK, t)
		return
	}
	w.Header().Set("Content-Type", "text/csv; charset=utf-8")
	w.Header().Set("Content-Disposition", `attachment; filename="rollcall-`+id+`.csv"`)
	cw := csv.NewWriter(w)
	_ = cw.Write(relay.RollCallCSVHeader)
	_ = cw.WriteAll(t.CSVRows()) // a client gone away is nothing to tell
}

func (a *API) answerRollCall(w http.ResponseWriter, r *http.Request) {
	var req AnswerRequest
	if !a.decodeJSON(w, r, &req) {
		return
	}
	c := callerOf(r.Context())
	if !a.speaksFor(w, r, req.Person, "answer") {
		return
	}
	ans, err := a.opts.Node.AnswerRollCall(r.Context(), r.PathValue("id"), req.Person, req.Answer, relay.ChannelAPI, c.name)
	switch {
	case errors.Is(err, relay.ErrNotFound):
		a.fail(w, http.StatusNotFound, problem.Problem{Code: problem.CodeNotFound, Field: "id", Message: "no roll-call " + quote(r.PathValue("id"))})
		return
	case errors.Is(err, node.ErrRollCallClosed):
		a.fail(w, http.StatusUnprocessableEntity, problem.Problem{Code: problem.CodeInvalidField, Field: "id", Message: err.Error()})
		return
	case err != nil:
		a.failErr(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, ans)
}

// speaksFor reports whether the caller may act for person: an admin for
// anyone, a bot for the people of its answer_for (as a NATS bot's
// ack_for: a schedule target names whoever is on call now, overrides
// included). Otherwise it answers 403 naming what the token may do.
func (a *API) speaksFor(w http.ResponseWriter, r *http.Request, person, verb string) bool {
	c := callerOf(r.Context())
	if c.role == relay.RoleAdmin {
		return true
	}
	roster, err := a.opts.Node.OnCallRoster()
	if err != nil {
		a.failErr(w, r, err)
		return false
	}
	if roster.IncludesAt(person, a.answerFor[c.name], a.opts.Now()) {
		return true
	}
	why := "it may " + verb + " for nobody: give it answer_for"
	if list := a.answerFor[c.name]; len(list) > 0 {
		why = "only for " + strings.Join(list, ", ")
	}
	a.fail(w, http.StatusForbidden, problem.Problem{Code: problem.CodeForbidden, Field: "person",
		Message: "token " + c.name + " may not " + verb + " for " + quote(person) + ": " + why})
	return false
}

// incidentRollCalls lists the roll-calls of an incident with their
// counts.
func (a *API) incidentRollCalls(id string) ([]RollCallSummary, error) {
	rcs, err := a.opts.Node.RollCalls(id)
	if err != nil {
		return nil, err
	}
	out := make([]RollCallSummary, 0, len(rcs))
	for _, rc := range rcs {
		t, err := a.opts.Node.RollCallTally(rc.ID)
		if err != nil {
			return nil, err
		}
		out = append(out, summaryOf(t))
	}
	return out, nil
}
