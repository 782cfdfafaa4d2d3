package console

import (
	"bytes"
	"errors"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/oob-relay/relay/relay"
	"github.com/oob-relay/relay/relay/node"
	"github.com/oob-relay/relay/relay/rosterdiff"
	"github.com/oob-relay/relay/relay/session"
)

// escalating is an escalation in progress, as the lists show it.
type escalating struct {
	Incident, Message, Policy string
	Step                      int
}

func (c *Console) escalations() []escalating {
	st := c.n.Store()
	ids, err := st.Escalating()
	if err != nil {
		return nil
	}
	var out []escalating
	for _, id := range ids {
		m, err := st.Message(id)
		if err != nil || m.Escalation == nil {
			continue
		}
		e := escalating{Incident: m.Incident, Message: m.ID, Policy: m.Escalation.Policy, Step: 1}
		if steps, err := st.Escalations(id); err == nil && len(steps) > 0 {
			e.Step = steps[len(steps)-1].Step + 1
		}
		out = append(out, e)
	}
	return out
}

func (c *Console) incidentsPage(w http.ResponseWriter, r *http.Request, u *user) {
	incs, err := c.n.Store().Incidents()
	if err != nil {
		c.fail(w, r, u, http.StatusInternalServerError, "error.store", "")
		return
	}
	slices.SortFunc(incs, func(a, b relay.Incident) int { return b.LastMessageAt.Compare(a.LastMessageAt) })
	v := c.newView(r, u, "incidents.title")
	v.Data = struct {
		Incidents  []relay.Incident
		Escalating []escalating
	}{incs, c.escalations()}
	c.render(w, http.StatusOK, "incidents", v)
}

func (c *Console) peoplePage(w http.ResponseWriter, r *http.Request, u *user) {
	ros, err := c.n.Roster()
	if err != nil {
		c.fail(w, r, u, http.StatusInternalServerError, "error.store", "")
		return
	}
	type personRow struct {
		relay.Person
		Channels []string
	}
	rows := make([]personRow, 0, len(ros.People))
	for _, p := range ros.People {
		rows = append(rows, personRow{Person: p, Channels: p.ContactChannels()})
	}
	v := c.newView(r, u, "people.title")
	v.Data = struct {
		People []personRow
		Groups []relay.Group
	}{rows, ros.Groups}
	c.render(w, http.StatusOK, "people", v)
}

func (c *Console) onCallPage(w http.ResponseWriter, r *http.Request, u *user) {
	ros, err := c.n.OnCallRoster()
	if err != nil {
		c.fail(w, r, u, http.StatusInternalServerError, "error.store", "")
		return
	}
	var ocs []*relay.OnCall
	now := c.opts.Now()
	for i := range ros.Schedules {
		if oc, err := ros.Schedules[i].OnCallAt(now); err == nil {
			ocs = append(ocs, oc)
		}
	}
	v := c.newView(r, u, "oncall.title")
	v.Data = struct {
		Schedules  []*relay.OnCall
		Escalating []escalating
	}{ocs, c.escalations()}
	c.render(w, http.StatusOK, "oncall", v)
}

// rollCallForm is the roll-call form's values.
type rollCallForm struct {
	Incident, Question, Options, To, Reping, Nonce string
}

func (c *Console) rollCallPage(w http.ResponseWriter, r *http.Request, u *user) {
	v := c.newView(r, u, "rollcall.title")
	v.Data = rollCallForm{Incident: r.URL.Query().Get("incident"), Options: "1 안전 / Safe\n2 도움 필요 / Need help!", To: "everyone", Nonce: session.NewID()}
	c.render(w, http.StatusOK, "rollcall", v)
}

// parseOptions reads one option a line: a digit, its label, and a "!"
// at the end for an urgent one.
func parseOptions(s string) ([]relay.RollCallOption, error) {
	var out []relay.RollCallOption
	for i, line := range strings.Split(s, "\n") {
		line = strings.TrimSpace(line)
		if line == "" {
			continue
		}
		d, label, _ := strings.Cut(line, " ")
		digit, err := strconv.Atoi(d)
		if err != nil {
			return nil, errors.New("options: line " + strconv.Itoa(i+1) + " does not start with a digit")
		}
		label = strings.TrimSpace(label)
		urgent := strings.HasSuffix(label, "!")
		out = append(out, relay.RollCallOption{Digit: digit, Label: strings.TrimSpace(strings.TrimSuffix(label, "!")), Urgent: urgent})
	}
	return out, nil
}

func (c *Console) rollCallPost(w http.ResponseWriter, r *http.Request, u *user) {
	f := rollCallForm{Incident: strings.TrimSpace(r.PostFormValue("incident")), Question: strings.TrimSpace(r.PostFormValue("question")),
		Options: r.PostFormValue("options"), To: r.PostFormValue("to"), Reping: strings.TrimSpace(r.PostFormValue("reping")), Nonce: r.PostFormValue("nonce")}
	again := func(err error) {
		v := c.newView(r, u, "rollcall.title")
		v.Data, v.Error, v.Detail = f, "error.action", err.Error()
		c.render(w, http.StatusBadRequest, "rollcall", v)
	}
	opts, err := parseOptions(f.Options)
	if err != nil {
		again(err)
		return
	}
	if len(f.Nonce) > 64 {
		again(errors.New("nonce: longer than 64 bytes"))
		return
	}
	req := &relay.RollCallStart{Incident: f.Incident, Question: f.Question, Options: opts, To: splitTargets(f.To), Reping: f.Reping}
	if err := req.Validate(); err != nil {
		again(err)
		return
	}
	by := node.Author{Name: u.actor(), Via: node.ChannelConsole, Commander: true}
	started, err := c.n.StartRollCall(r.Context(), req, by, f.Nonce)
	if err != nil {
		var fe *relay.FieldError
		var ae *relay.AudienceError
		if errors.As(err, &fe) || errors.As(err, &ae) {
			again(err)
			return
		}
		c.actionError(w, r, u, err)
		return
	}
	c.audit(r.Context(), r, u, "rollcall.start", started.RollCall.ID, f.Incident)
	back(w, r, "/incidents/"+f.Incident, "rollcall")
}

// rosterData is the roster page's.
type rosterData struct {
	People, Groups int
	Diff           *rosterdiff.Diff
	Text           string
}

func (c *Console) rosterPage(w http.ResponseWriter, r *http.Request, u *user) {
	ros, err := c.n.Roster()
	if err != nil {
		c.fail(w, r, u, http.StatusInternalServerError, "error.store", "")
		return
	}
	v := c.newView(r, u, "roster.title")
	v.Data = rosterData{People: len(ros.People), Groups: len(ros.Groups)}
	c.render(w, http.StatusOK, "roster", v)
}

// rosterPost compares an uploaded roster with the one applied (step
// diff) or applies it (step apply, the text the diff page carried).
func (c *Console) rosterPost(w http.ResponseWriter, r *http.Request, u *user) {
	cur, err := c.n.Roster()
	if err != nil {
		c.fail(w, r, u, http.StatusInternalServerError, "error.store", "")
		return
	}
	v := c.newView(r, u, "roster.title")
	d := rosterData{People: len(cur.People), Groups: len(cur.Groups)}
	v.Data = d
	text := r.PostFormValue("roster")
	if f, _, err := r.FormFile("file"); err == nil {
		b, err := io.ReadAll(io.LimitReader(f, c.opts.MaxRosterBytes+1))
		f.Close()
		if err == nil && len(b) > 0 {
			text = string(b)
		}
	}
	if int64(len(text)) > c.opts.MaxRosterBytes {
		v.Error, v.Detail = "roster.bad", "the roster is larger than "+strconv.FormatInt(c.opts.MaxRosterBytes, 10)+" bytes"
		c.render(w, http.StatusRequestEntityTooLarge, "roster", v)
		return
	}
	ros, err := relay.DecodeRoster(bytes.NewReader([]byte(text)))
	if err != nil {
		v.Error, v.Detail = "roster.bad", err.Error()
		c.render(w, http.StatusBadRequest, "roster", v)
		return
	}
	if r.PostFormValue("step") != "apply" {
		diff, err := rosterdiff.Compare(cur, ros)
		if err != nil {
			v.Error, v.Detail = "roster.bad", err.Error()
			c.render(w, http.StatusBadRequest, "roster", v)
			return
		}
		d.Diff, d.Text = diff, text
		v.Data = d
		c.render(w, http.StatusOK, "roster", v)
		return
	}
	if err := c.n.SetRoster(r.Context(), ros, u.actor()); err != nil {
		var ir *node.InvalidRosterError
		if errors.As(err, &ir) {
			v.Error, v.Detail = "roster.bad", err.Error()
			c.render(w, http.StatusBadRequest, "roster", v)
			return
		}
		c.actionError(w, r, u, err)
		return
	}
	c.audit(r.Context(), r, u, "roster.apply", "", strconv.Itoa(len(ros.People))+" people, "+strconv.Itoa(len(ros.Groups))+" groups")
	back(w, r, "/admin/roster", "roster")
}

const auditRows = 500

func (c *Console) auditPage(w http.ResponseWriter, r *http.Request, u *user) {
	v := c.newView(r, u, "audit.title")
	entries, err := c.n.AuditTrail(auditRows)
	if err != nil {
		v.Error, v.Detail = "error.store", err.Error()
	}
	v.Data = struct{ Entries []relay.AuditEntry }{entries}
	c.render(w, http.StatusOK, "audit", v)
}
