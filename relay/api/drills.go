package api

import (
	"cmp"
	"errors"
	"net/http"

	"github.com/oob-relay/relay/relay"
	"github.com/oob-relay/relay/relay/node"
	"github.com/oob-relay/relay/relay/problem"
)

// DrillStarted is the answer to a drill's start.
type DrillStarted struct {
	Drill       relay.Drill `json:"drill"`
	Recipients  int         `json:"recipients"`
	Unreachable int         `json:"unreachable"`
	Copies      int         `json:"copies"`
	OnlyCopy    bool        `json:"only_copy,omitempty"`
}

// DrillList is the answer to GET /v1/drills.
type DrillList struct {
	Drills []relay.Drill `json:"drills"`
}

// startDrill starts a drill: an admin's, since a drill reaches everyone
// it names at once.
func (a *API) startDrill(w http.ResponseWriter, r *http.Request) {
	var req relay.DrillStart
	if !a.decodeJSON(w, r, &req) {
		return
	}
	c := callerOf(r.Context())
	key := r.Header.Get("Idempotency-Key")
	if err := relay.CheckLine("Idempotency-Key", key); err != nil {
		a.failErr(w, r, errors.Join(err, req.Validate()))
		return
	}
	st, err := a.opts.Node.StartDrill(r.Context(), &req, node.Author{Name: c.name, Via: relay.ViaAPI}, key)
	if err != nil {
		a.startFailed(w, r, err, key, "drill")
		return
	}
	started(w, "/v1/drills/"+st.Drill.ID, st.OnlyCopy, st.Replayed)
	if !st.Replayed {
		a.log.Info("drill started", "id", st.Drill.ID, "incident", st.Drill.Incident, "author", c.name)
	}
	out := DrillStarted{Drill: *st.Drill, Copies: st.Copies, OnlyCopy: st.OnlyCopy}
	if st.Message != nil {
		out.Recipients, out.Unreachable = len(st.Message.Recipients), len(st.Message.Unreachable)
	}
	writeJSON(w, http.StatusAccepted, out)
}

func (a *API) listDrills(w http.ResponseWriter, r *http.Request) {
	ds, err := a.opts.Node.Drills()
	if err != nil {
		a.failErr(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, DrillList{Drills: append([]relay.Drill{}, ds...)})
}

func (a *API) getDrill(w http.ResponseWriter, r *http.Request) {
	d, err := a.opts.Node.Drill(r.PathValue("id"))
	if a.drillMissing(w, r, err) {
		return
	}
	writeJSON(w, http.StatusOK, d)
}

// drillMissing answers 404 for an unknown drill and 500 for another
// error, and reports whether it answered.
func (a *API) drillMissing(w http.ResponseWriter, r *http.Request, err error) bool {
	switch {
	case errors.Is(err, relay.ErrNotFound):
		a.fail(w, http.StatusNotFound, problem.Problem{Code: problem.CodeNotFound, Field: "id",
			Message: "no drill " + quote(r.PathValue("id")) + " (or retention removed its message)"})
		return true
	case err != nil:
		a.failErr(w, r, err)
		return true
	}
	return false
}

// getDrillReport answers a drill's report: JSON, or with ?format= csv,
// html or text (in ?lang=, default the drill's).
func (a *API) getDrillReport(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	format, lang := q.Get("format"), q.Get("lang")
	switch {
	case format != "" && format != "json" && format != "csv" && format != "html" && format != "text":
		a.fail(w, http.StatusUnprocessableEntity, problem.Problem{Code: problem.CodeInvalidField, Field: "format",
			Message: "format: " + quote(format) + " is not a format; use json, csv, html or text"})
		return
	case lang != "" && lang != "ko" && lang != "en":
		a.fail(w, http.StatusUnprocessableEntity, problem.Problem{Code: problem.CodeInvalidField, Field: "lang",
			Message: "lang: " + quote(lang) + " is not a report language; use ko or en"})
		return
	}
	id := r.PathValue("id")
	d, err := a.opts.Node.Drill(id)
	if a.drillMissing(w, r, err) {
		return
	}
	rep, err := a.opts.Node.DrillReport(id, a.opts.Now())
	if a.drillMissing(w, r, err) {
		return
	}
	lang = cmp.Or(lang, d.Lang, relay.DefaultLang)
	switch format {
	case "csv":
		w.Header().Set("Content-Type", "text/csv; charset=utf-8")
		w.Header().Set("Content-Disposition", `attachment; filename="drill-`+id+`.csv"`)
		_ = rep.WriteCSV(w) // a client gone away is nothing to tell
	case "html":
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Header().Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'")
		_ = rep.WriteHTML(w, lang)
	case "text":
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		_ = rep.WriteText(w, lang)
	default:
		writeJSON(w, http.StatusOK, rep)
	}
}
