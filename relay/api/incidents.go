package api

import (
	"errors"
	"net/http"
	"strconv"

	"github.com/oob-relay/relay/relay"
)

func (a *API) listIncidents(w http.ResponseWriter, r *http.Request) {
	incs, err := a.opts.Node.Store().Incidents()
	if err != nil {
		a.failErr(w, r, err)
		return
	}
	if incs == nil {
		incs = []relay.Incident{}
	}
	writeJSON(w, http.StatusOK, map[string]any{"incidents": incs})
}

func (a *API) getIncident(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	st := a.opts.Node.Store()
	inc, err := st.Incident(id)
	if errors.Is(err, relay.ErrNotFound) {
		a.fail(w, http.StatusNotFound, Problem{Code: CodeNotFound, Field: "id", Message: "no incident " + quote(id)})
		return
	}
	if err != nil {
		a.failErr(w, r, err)
		return
	}
	msgs, err := st.IncidentMessages(id)
	if err != nil {
		a.failErr(w, r, err)
		return
	}
	v := IncidentView{Incident: *inc, Timeline: make([]TimelineEntry, 0, len(msgs))}
	for _, m := range msgs {
		counts, err := st.Counts(m.ID)
		if err != nil {
			a.failErr(w, r, err)
			return
		}
		sum := map[relay.Status]int{}
		for s, n := range counts {
			sum[s] = n
		}
		v.Timeline = append(v.Timeline, TimelineEntry{At: m.AcceptedAt, Message: m.ID, Author: m.Author,
			Severity: string(m.Severity), Text: m.Text, Summary: sum})
	}
	writeJSON(w, http.StatusOK, v)
}

func quote(s string) string {
	if len(s) > 80 {
		s = s[:80] + "…"
	}
	return strconv.Quote(s)
}
