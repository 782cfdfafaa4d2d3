package api

import (
	"errors"
	"net/http"
	"time"

	"github.com/oob-relay/relay/relay"
	"github.com/oob-relay/relay/relay/node"
	"github.com/oob-relay/relay/relay/problem"
)

// OnCallView answers GET /v1/oncall: who is on call in every schedule.
type OnCallView struct {
	Schedules []*relay.OnCall `json:"schedules"`
}

// OverrideRequest is the body of POST /v1/schedules/{id}/overrides.
type OverrideRequest struct {
	Person string `json:"person"`
	Covers string `json:"covers,omitempty"`
	From   string `json:"from"`
	To     string `json:"to"`
}

// onCallAt reads the at parameter for schedule s: an RFC 3339 time, or a
// local date and time read in the schedule's zone; now when absent.
func (a *API) onCallAt(r *http.Request, s *relay.Schedule) (time.Time, error) {
	at := r.URL.Query().Get("at")
	if at == "" {
		return a.opts.Node.Now(), nil
	}
	loc, err := s.LoadZone()
	if err != nil {
		return time.Time{}, err
	}
	return relay.ParseScheduleTime(at, loc)
}

func (a *API) onCallOf(w http.ResponseWriter, r *http.Request, s *relay.Schedule) (*relay.OnCall, bool) {
	at, err := a.onCallAt(r, s)
	if err != nil {
		a.failErr(w, r, &relay.FieldError{Field: "at", Message: err.Error()})
		return nil, false
	}
	oc, err := s.OnCallAt(at)
	if err != nil {
		a.failErr(w, r, err)
		return nil, false
	}
	return oc, true
}

func (a *API) listOnCall(w http.ResponseWriter, r *http.Request) {
	ros, err := a.opts.Node.OnCallRoster()
	if err != nil {
		a.failErr(w, r, err)
		return
	}
	v := OnCallView{Schedules: make([]*relay.OnCall, 0, len(ros.Schedules))}
	for i := range ros.Schedules {
		oc, ok := a.onCallOf(w, r, &ros.Schedules[i])
		if !ok {
			return
		}
		v.Schedules = append(v.Schedules, oc)
	}
	writeJSON(w, http.StatusOK, &v)
}

func (a *API) getOnCall(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	ros, err := a.opts.Node.OnCallRoster()
	if err != nil {
		a.failErr(w, r, err)
		return
	}
	s, ok := ros.Schedule(id)
	if !ok {
		a.fail(w, http.StatusNotFound, problem.Problem{Code: problem.CodeNotFound, Field: "id", Message: "no schedule " + quote(id)})
		return
	}
	if oc, ok := a.onCallOf(w, r, s); ok {
		writeJSON(w, http.StatusOK, oc)
	}
}

func (a *API) addOverride(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	var req OverrideRequest
	if !a.decodeJSON(w, r, &req) {
		return
	}
	c := callerOf(r.Context())
	o, err := a.opts.Node.AddOverride(r.Context(), id, relay.Override{Person: req.Person, Covers: req.Covers, From: req.From, To: req.To}, c.name)
	var bad *node.InvalidOverrideError
	switch {
	case errors.Is(err, node.ErrNoSchedule):
		a.fail(w, http.StatusNotFound, problem.Problem{Code: problem.CodeNotFound, Field: "id", Message: "no schedule " + quote(id)})
		return
	case errors.As(err, &bad):
		details := make([]problem.Detail, len(bad.Problems))
		for i, p := range bad.Problems {
			details[i] = problem.Detail{Field: p.Field, Message: p.Message}
		}
		a.fail(w, http.StatusUnprocessableEntity, problem.Invalid(details))
		return
	case err != nil:
		a.failErr(w, r, err)
		return
	}
	a.log.Info("override added", "schedule", id, "override", o.ID, "person", o.Person, "covers", o.Covers, "from", o.From, "to", o.To, "by", c.name)
	w.Header().Set("Location", "/v1/schedules/"+id+"/overrides/"+o.ID)
	writeJSON(w, http.StatusCreated, &o)
}

func (a *API) removeOverride(w http.ResponseWriter, r *http.Request) {
	id, override := r.PathValue("id"), r.PathValue("override")
	c := callerOf(r.Context())
	err := a.opts.Node.RemoveOverride(r.Context(), id, override, c.name)
	if errors.Is(err, relay.ErrNotFound) {
		a.fail(w, http.StatusNotFound, problem.Problem{Code: problem.CodeNotFound, Field: "override",
			Message: "no override " + quote(override) + " added to schedule " + quote(id) + "; overrides written in the roster file are changed in the file"})
		return
	}
	if err != nil {
		a.failErr(w, r, err)
		return
	}
	a.log.Info("override removed", "schedule", id, "override", override, "by", c.name)
	w.WriteHeader(http.StatusNoContent)
}
