package console

import (
	"encoding/csv"
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/oob-relay/relay/relay"
	"github.com/oob-relay/relay/relay/node"
	"github.com/oob-relay/relay/relay/session"
)

// room returns the incident's room, from the cache while nothing changed.
func (c *Console) room(id string) (*roomState, error) {
	if !relay.ValidID(id) {
		return nil, errNoIncident
	}
	return c.rooms.get(c.n.Store(), id, c.loadRoom)
}

func (c *Console) roomOr404(w http.ResponseWriter, r *http.Request, u *user) (*roomState, bool) {
	rs, err := c.room(r.PathValue("id"))
	switch {
	case errors.Is(err, errNoIncident):
		c.fail(w, r, u, http.StatusNotFound, "error.noincident", r.PathValue("id"))
		return nil, false
	case err != nil:
		c.log.Error("incident room failed to load", "incident", r.PathValue("id"), "err", err)
		c.fail(w, r, u, http.StatusInternalServerError, "error.store", "")
		return nil, false
	}
	return rs, true
}

func (c *Console) roomPage(w http.ResponseWriter, r *http.Request, u *user) {
	rs, ok := c.roomOr404(w, r, u)
	if !ok {
		return
	}
	rows := c.opts.MatrixRows
	if r.URL.Query().Get("rows") == "all" {
		rows = 0
	}
	v := c.newView(r, u, "room.title")
	d := rs.forViewer(u, rows)
	d.Nonce = session.NewID()
	v.Data = d
	v.Live = "/incidents/" + rs.Incident.ID + "/live"
	if u.person != nil {
		v.Handoff = c.n.Tokens().Handoff(u.claims, c.handoffTTL())
	}
	c.render(w, http.StatusOK, "room", v)
}

// actionError renders what a refused action says, on the error page.
func (c *Console) actionError(w http.ResponseWriter, r *http.Request, u *user, err error) {
	var fe *relay.FieldError
	switch {
	case errors.As(err, &fe), errors.Is(err, relay.ErrNoIncident), errors.Is(err, node.ErrRollCallClosed),
		errors.Is(err, relay.ErrNotFound), errors.Is(err, relay.ErrUnknownSender):
		c.fail(w, r, u, http.StatusBadRequest, "error.action", err.Error())
	default:
		var ae *relay.AudienceError
		if errors.As(err, &ae) {
			c.fail(w, r, u, http.StatusBadRequest, "error.action", err.Error())
			return
		}
		c.log.Error("console action failed", "path", r.URL.Path, "err", err)
		c.fail(w, r, u, http.StatusServiceUnavailable, "error.store", "")
	}
}

// asPerson refuses an action that needs a person to an API token.
func (c *Console) asPerson(w http.ResponseWriter, r *http.Request, u *user) bool {
	if u.person == nil {
		c.fail(w, r, u, http.StatusForbidden, "error.noperson", "")
		return false
	}
	return true
}

const maxReplyBytes = 4000

func (c *Console) replyPost(w http.ResponseWriter, r *http.Request, u *user) {
	if !c.asPerson(w, r, u) {
		return
	}
	id := r.PathValue("id")
	if _, ok := c.roomOr404(w, r, u); !ok {
		return
	}
	text := strings.TrimSpace(r.PostFormValue("text"))
	nonce := r.PostFormValue("nonce")
	switch {
	case text == "":
		c.fail(w, r, u, http.StatusBadRequest, "error.action", "text: the reply is empty")
		return
	case len(text) > maxReplyBytes:
		c.fail(w, r, u, http.StatusBadRequest, "error.action", "text: longer than "+strconv.Itoa(maxReplyBytes)+" bytes")
		return
	case len(nonce) > 64:
		c.fail(w, r, u, http.StatusBadRequest, "error.action", "nonce: longer than 64 bytes")
		return
	}
	to := splitTargets(r.PostFormValue("to"))
	sev := relay.Severity(r.PostFormValue("severity"))
	if len(to) > 0 || sev != "" {
		if !u.Commander() {
			c.fail(w, r, u, http.StatusForbidden, "error.forbidden", "only a commander chooses the audience or the severity")
			return
		}
		if sev != "" && sev != relay.SeverityInfo && sev != relay.SeverityWarning && sev != relay.SeverityCritical {
			c.fail(w, r, u, http.StatusBadRequest, "error.action", "severity: must be info, warning or critical")
			return
		}
		author := node.Author{Name: u.person.ID, Via: node.ChannelConsole, Commander: true}
		var err error
		if len(to) > 0 {
			p := &relay.Post{Incident: id, Text: text, To: to, Severity: sev}
			if err = p.Validate(); err == nil {
				_, err = c.n.Post(r.Context(), p, author, nonce)
			}
		} else {
			_, err = c.n.PostToIncident(r.Context(), author, id, text, sev, nil, nonce)
		}
		if err != nil {
			c.actionError(w, r, u, err)
			return
		}
		c.audit(r.Context(), r, u, "post", id, "to "+strings.Join(to, ",")+" severity "+string(sev))
		back(w, r, "/incidents/"+id, "posted")
		return
	}
	if _, err := c.n.ReplyFromConsole(r.Context(), u.person.ID, id, text, nonce); err != nil {
		c.actionError(w, r, u, err)
		return
	}
	c.audit(r.Context(), r, u, "reply", id, "")
	back(w, r, "/incidents/"+id, "replied")
}

func splitTargets(s string) []string {
	var out []string
	for _, t := range strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == ' ' || r == '\n' || r == '\r' || r == '\t' }) {
		out = append(out, t)
	}
	return out
}

func (c *Console) ackPost(w http.ResponseWriter, r *http.Request, u *user) {
	if !c.asPerson(w, r, u) {
		return
	}
	id := r.PathValue("id")
	if _, ok := c.roomOr404(w, r, u); !ok {
		return
	}
	acked, err := c.n.AckIncident(r.Context(), u.person.ID, id, node.ChannelConsole)
	if err != nil {
		c.actionError(w, r, u, err)
		return
	}
	c.audit(r.Context(), r, u, "ack", id, strconv.Itoa(len(acked))+" messages")
	back(w, r, "/incidents/"+id, "acked")
}

func (c *Console) answerPost(w http.ResponseWriter, r *http.Request, u *user) {
	if !c.asPerson(w, r, u) {
		return
	}
	id := r.PathValue("id")
	rs, ok := c.roomOr404(w, r, u)
	if !ok {
		return
	}
	rcID := r.PostFormValue("rollcall")
	digit, err := strconv.Atoi(r.PostFormValue("option"))
	if err != nil || digit < 1 || digit > 9 {
		c.fail(w, r, u, http.StatusBadRequest, "error.action", "option: must be a digit from 1 to 9")
		return
	}
	found := false
	for _, s := range rs.RollCalls {
		found = found || s.ID == rcID
	}
	if !found {
		c.fail(w, r, u, http.StatusBadRequest, "error.action", "rollcall: not a roll-call of incident "+id)
		return
	}
	if _, err := c.n.AnswerRollCall(r.Context(), rcID, u.person.ID, digit, node.ChannelConsole, ""); err != nil {
		c.actionError(w, r, u, err)
		return
	}
	c.audit(r.Context(), r, u, "answer", rcID, strconv.Itoa(digit))
	back(w, r, "/incidents/"+id, "answered")
}

// export is the room as a file: every timeline entry and matrix row.
type export struct {
	Incident  relay.Incident   `json:"incident"`
	Exported  time.Time        `json:"exported_at"`
	Node      string           `json:"node"`
	Timeline  []entry          `json:"timeline"`
	RollCalls []*rollCallState `json:"rollcalls"`
	Matrix    matrix           `json:"matrix"`
}

func (c *Console) exportJSON(w http.ResponseWriter, r *http.Request, u *user) {
	rs, ok := c.roomOr404(w, r, u)
	if !ok {
		return
	}
	c.audit(r.Context(), r, u, "export", rs.Incident.ID, "json")
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Content-Disposition", `attachment; filename="`+rs.Incident.ID+`.json"`)
	w.Header().Set("Cache-Control", "no-store")
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.Encode(export{Incident: rs.Incident, Exported: c.opts.Now().UTC(), Node: c.n.Name(), Timeline: nonNilEntries(rs.all),
		RollCalls: rs.RollCalls, Matrix: rs.Matrix})
}

func nonNilEntries(e []entry) []entry {
	if e == nil {
		return []entry{}
	}
	return e
}

// exportCSV writes the timeline, one entry a row. A cell that a
// spreadsheet would take for a formula is prefixed with a quote.
func (c *Console) exportCSV(w http.ResponseWriter, r *http.Request, u *user) {
	rs, ok := c.roomOr404(w, r, u)
	if !ok {
		return
	}
	c.audit(r.Context(), r, u, "export", rs.Incident.ID, "csv")
	w.Header().Set("Content-Type", "text/csv; charset=utf-8")
	w.Header().Set("Content-Disposition", `attachment; filename="`+rs.Incident.ID+`.csv"`)
	w.Header().Set("Cache-Control", "no-store")
	cw := csv.NewWriter(w)
	cw.Write([]string{"at", "kind", "author", "text", "detail", "severity", "message"})
	for _, e := range rs.all {
		cw.Write([]string{e.At.UTC().Format(time.RFC3339), e.Kind, safeCell(e.Author), safeCell(e.Text), safeCell(e.Detail), string(e.Severity), e.ID})
	}
	cw.Flush()
}

func safeCell(s string) string {
	if s != "" && strings.ContainsRune("=+-@\t\r", rune(s[0])) {
		return "'" + s
	}
	return s
}
