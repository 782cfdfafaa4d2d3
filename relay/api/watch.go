package api

import (
	"errors"
	"net/http"
	"time"

	"github.com/oob-relay/relay/relay"
	"github.com/oob-relay/relay/relay/node"
	"github.com/oob-relay/relay/relay/problem"
)

// WatchView is what the cluster sees of its watched targets, heartbeats
// and nodes, as the answering node's log says.
type WatchView struct {
	// Isolated is true when the answering node sees fewer than a majority
	// of the nodes alive: it is cut off, and pages nobody.
	Isolated   bool            `json:"isolated"`
	Alive      int             `json:"alive"`
	Nodes      int             `json:"nodes"`
	Targets    []SubjectView   `json:"targets"`
	Heartbeats []HeartbeatView `json:"heartbeats"`
	Members    []SubjectView   `json:"members"`
}

// SubjectView is the verdict on a target or node and each node's view.
type SubjectView struct {
	Name     string     `json:"name"`
	Detail   string     `json:"detail,omitempty"`
	Down     bool       `json:"down"`
	Since    *time.Time `json:"since,omitempty"`
	Incident string     `json:"incident,omitempty"`
	Views    []SiteView `json:"views"`
}

// SiteView is one node's view of a subject.
type SiteView struct {
	Node   string    `json:"node"`
	Site   string    `json:"site"`
	Up     bool      `json:"up"`
	Since  time.Time `json:"since"`
	Reason string    `json:"reason,omitempty"`
	Live   bool      `json:"live"`
}

// HeartbeatView is a heartbeat's state.
type HeartbeatView struct {
	Name         string     `json:"name"`
	EverySeconds float64    `json:"every_seconds"`
	GraceSeconds float64    `json:"grace_seconds"`
	Down         bool       `json:"down"`
	Since        *time.Time `json:"since,omitempty"`
	LastBeat     *time.Time `json:"last_beat,omitempty"`
	Incident     string     `json:"incident,omitempty"`
}

func timePtr(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	t = t.UTC()
	return &t
}

func subjectViews(in []node.SubjectStatus) []SubjectView {
	out := make([]SubjectView, 0, len(in))
	for _, s := range in {
		v := SubjectView{Name: s.Name, Detail: s.Detail, Down: s.Down, Since: timePtr(s.Since), Incident: s.Incident, Views: []SiteView{}}
		for _, x := range s.Views {
			v.Views = append(v.Views, SiteView{Node: x.Node, Site: x.Site, Up: x.Up, Since: x.Since.UTC(), Reason: x.Reason, Live: x.Live})
		}
		out = append(out, v)
	}
	return out
}

func (a *API) getWatch(w http.ResponseWriter, r *http.Request) {
	st, err := a.opts.Node.WatchStatus()
	if err != nil {
		a.failErr(w, r, err)
		return
	}
	v := WatchView{Isolated: st.Isolation.Isolated, Alive: st.Isolation.Alive, Nodes: st.Isolation.Nodes,
		Targets: subjectViews(st.Targets), Members: subjectViews(st.Nodes), Heartbeats: []HeartbeatView{}}
	for _, h := range st.Heartbeats {
		v.Heartbeats = append(v.Heartbeats, HeartbeatView{Name: h.Name, EverySeconds: h.Every.Seconds(), GraceSeconds: h.Grace.Seconds(),
			Down: h.Down, Since: timePtr(h.Since), LastBeat: timePtr(h.LastBeat), Incident: h.Incident})
	}
	writeJSON(w, http.StatusOK, v)
}

// BeatAccepted is the answer to a heartbeat's beat.
type BeatAccepted struct {
	Heartbeat string    `json:"heartbeat"`
	At        time.Time `json:"at"`
}

func (a *API) postBeat(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	if !relay.ValidID(name) || !a.opts.Node.Heartbeat(name) {
		a.fail(w, http.StatusNotFound, problem.Problem{Code: problem.CodeNotFound, Message: "no such heartbeat: " + quoteShort(name)})
		return
	}
	err := a.opts.Node.Beat(r.Context(), name, callerOf(r.Context()).name)
	if errors.Is(err, relay.ErrNotFound) {
		a.fail(w, http.StatusNotFound, problem.Problem{Code: problem.CodeNotFound, Message: "no such heartbeat: " + quoteShort(name)})
		return
	}
	if err != nil {
		a.failErr(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, BeatAccepted{Heartbeat: name, At: time.Now().UTC()})
}

// quoteShort quotes s, cut to 64 bytes.
func quoteShort(s string) string {
	if len(s) > 64 {
		s = s[:64] + "…"
	}
	return `"` + s + `"`
}
