package console

import (
	"errors"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/oob-relay/relay/relay"
	"github.com/oob-relay/relay/relay/drill"
)

// drillRows bounds the drills the list shows, the latest first: each row
// builds its drill's summary from the log.
const drillRows = 50

// maxDrillID bounds a drill id in a path: ids are ULIDs or hashes,
// far shorter.
const maxDrillID = 128

// reportCSP is the Content-Security-Policy of a drill's report page: it
// is self-contained, its style inline and its charts in SVG, with nothing
// to fetch and no script.
const reportCSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:"

// drillRow is one drill as the list shows it.
type drillRow struct {
	relay.Drill
	// Known says the report can be built (retention has not removed its
	// message); People, Reached and Acked are then its counts, and the
	// shares in percent.
	Known                  bool
	People, Reached, Acked int
	ReachedPct, AckedPct   string
}

func percent(f float64) string { return strconv.FormatFloat(100*f, 'f', 0, 64) + "%" }

// drillsPage lists the drills, the latest first: when, started by whom
// or by which schedule, to whom, and the shares reached and
// acknowledged.
func (c *Console) drillsPage(w http.ResponseWriter, r *http.Request, u *user) {
	ds, err := c.n.Drills()
	if err != nil {
		c.fail(w, r, u, http.StatusInternalServerError, "error.store", "")
		return
	}
	slices.Reverse(ds)
	total := len(ds)
	ds = ds[:min(len(ds), drillRows)]
	now := c.opts.Now()
	rows := make([]drillRow, 0, len(ds))
	for _, d := range ds {
		row := drillRow{Drill: d}
		s, err := c.n.DrillSummary(d.ID, now)
		switch {
		case err == nil:
			row.Known, row.People, row.Reached, row.Acked = true, s.People, s.Reached, s.Acked
			row.ReachedPct, row.AckedPct = percent(s.ReachedRate()), percent(s.AckedRate())
		case !errors.Is(err, relay.ErrNotFound):
			c.fail(w, r, u, http.StatusInternalServerError, "error.store", "")
			return
		}
		rows = append(rows, row)
	}
	v := c.newView(r, u, "drills.title")
	v.Data = struct {
		Drills       []drillRow
		Shown, Total int
	}{rows, len(rows), total}
	c.render(w, http.StatusOK, "drills", v)
}

// drillReport serves drill id's report as its own HTML page, in the
// page's language, under reportCSP.
func (c *Console) drillReport(w http.ResponseWriter, r *http.Request, u *user) {
	id := r.PathValue("id")
	rep, ok := c.drillReportOr404(w, r, u, id)
	if !ok {
		return
	}
	var sb strings.Builder
	if err := rep.WriteHTML(&sb, c.lang(r, u)); err != nil {
		c.log.Error("drill report failed to render", "drill", id, "err", err)
		c.fail(w, r, u, http.StatusInternalServerError, "error.store", "")
		return
	}
	h := w.Header()
	h.Set("Content-Security-Policy", reportCSP)
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write([]byte(sb.String()))
}

// drillCSV serves drill id's raw rows, one per delivery.
func (c *Console) drillCSV(w http.ResponseWriter, r *http.Request, u *user) {
	id := r.PathValue("id")
	rep, ok := c.drillReportOr404(w, r, u, id)
	if !ok {
		return
	}
	c.audit(r.Context(), r, u, "export", id, "drill csv")
	h := w.Header()
	h.Set("Content-Type", "text/csv; charset=utf-8")
	h.Set("Content-Disposition", `attachment; filename="drill-`+id+`.csv"`)
	h.Set("Cache-Control", "no-store")
	_ = rep.WriteCSV(w) // a client gone away is nothing to tell
}

// drillReportOr404 builds drill id's report, or answers the error page:
// 404 for an unknown drill or one whose message retention removed.
func (c *Console) drillReportOr404(w http.ResponseWriter, r *http.Request, u *user, id string) (*drill.Report, bool) {
	if id == "" || len(id) > maxDrillID {
		c.fail(w, r, u, http.StatusNotFound, "error.nodrill", "")
		return nil, false
	}
	rep, err := c.n.DrillReport(id, c.opts.Now())
	switch {
	case errors.Is(err, relay.ErrNotFound):
		c.fail(w, r, u, http.StatusNotFound, "error.nodrill", id)
		return nil, false
	case err != nil:
		c.fail(w, r, u, http.StatusInternalServerError, "error.store", "")
		return nil, false
	}
	return rep, true
}
