package api

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/http"

	"github.com/oob-relay/relay/relay"
	"github.com/oob-relay/relay/relay/node"
	"github.com/oob-relay/relay/relay/problem"
)

func (a *API) getRoster(w http.ResponseWriter, r *http.Request) {
	ros, err := a.opts.Node.Roster()
	if err != nil {
		a.failErr(w, r, err)
		return
	}
	v := *ros // the node's roster is shared: change a copy
	if v.People == nil {
		v.People = []relay.Person{}
	}
	writeJSON(w, http.StatusOK, &v)
}

// putRoster replaces the roster with the body, in the roster file's YAML
// form or as JSON.
func (a *API) putRoster(w http.ResponseWriter, r *http.Request) {
	ct := r.Header.Get("Content-Type")
	if ct != "" && !mediaType(ct, "application/json", "application/yaml", "application/x-yaml", "text/yaml") {
		a.fail(w, http.StatusUnsupportedMediaType, problem.Problem{Code: problem.CodeUnsupportedType,
			Message: fmt.Sprintf("Content-Type %q is not supported; send application/yaml or application/json", ct)})
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, a.opts.MaxRosterBytes))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			a.fail(w, http.StatusRequestEntityTooLarge, problem.Problem{Code: problem.CodeBodyTooLarge, Message: fmt.Sprintf("request body is larger than %d bytes", tooBig.Limit)})
			return
		}
		a.fail(w, http.StatusBadRequest, problem.Problem{Code: problem.CodeInvalidJSON, Message: "cannot read the request body: " + err.Error()})
		return
	}
	ros, err := relay.DecodeRoster(bytes.NewReader(body))
	if err != nil {
		a.failRoster(w, err)
		return
	}
	c := callerOf(r.Context())
	if err := a.opts.Node.SetRoster(r.Context(), ros, c.name); err != nil {
		var bad *node.InvalidRosterError
		if errors.As(err, &bad) {
			a.failRoster(w, bad.Err)
			return
		}
		var later *node.RosterSupersededError
		if errors.As(err, &later) {
			a.log.Warn("roster change superseded by a concurrent one", "by", c.name, "winner", later.By)
			a.fail(w, http.StatusConflict, problem.Problem{Code: problem.CodeSuperseded, Message: later.Error()})
			return
		}
		a.failErr(w, r, err)
		return
	}
	a.log.Info("roster replaced", "by", c.name, "people", len(ros.People), "groups", len(ros.Groups))
	writeJSON(w, http.StatusOK, map[string]int{"people": len(ros.People), "groups": len(ros.Groups)})
}
