package api

import (
	"cmp"
	"errors"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/oob-relay/relay/relay"
	"github.com/oob-relay/relay/relay/problem"
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
		a.fail(w, http.StatusNotFound, problem.Problem{Code: problem.CodeNotFound, Field: "id", Message: "no incident " + quote(id)})
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
	v := IncidentView{Incident: *inc, Timeline: make([]TimelineEntry, 0, len(msgs)),
		Acknowledged: []IncidentAck{}, NotAcknowledged: []string{}, Stopped: []relay.Consent{}}
	first := map[string]relay.Ack{}
	audience := map[string]bool{}
	for _, m := range msgs {
		acks, err := st.Acks(m.ID)
		if err != nil {
			a.failErr(w, r, err)
			return
		}
		for _, ack := range acks {
			if cur, ok := first[ack.Person]; !ok || ack.At.Before(cur.At) {
				first[ack.Person] = ack
			}
		}
		for _, rc := range m.Recipients {
			audience[rc.Person.ID] = true
		}
		counts, err := st.Counts(m.ID)
		if err != nil {
			a.failErr(w, r, err)
			return
		}
		sum := map[relay.Status]int{}
		for s, n := range counts {
			sum[s] = n
		}
		e := TimelineEntry{At: m.AcceptedAt, Message: m.ID, Author: m.Author,
			Severity: string(m.Severity), Text: m.Text, Summary: sum, Acks: len(acks)}
		if m.Reply != nil {
			e.Withheld, e.Summarises = m.Reply.Withheld, m.Reply.Summarises
		}
		if e.Escalation, err = escalationView(st, &m, acks); err != nil {
			a.failErr(w, r, err)
			return
		}
		v.Timeline = append(v.Timeline, e)
	}
	for _, ack := range first {
		v.Acknowledged = append(v.Acknowledged, IncidentAck{Person: ack.Person, At: ack.At, Channel: ack.Channel, Message: ack.Message})
	}
	slices.SortFunc(v.Acknowledged, func(x, y IncidentAck) int { return cmp.Or(x.At.Compare(y.At), strings.Compare(x.Person, y.Person)) })
	for p := range audience {
		if _, ok := first[p]; !ok {
			v.NotAcknowledged = append(v.NotAcknowledged, p)
		}
	}
	slices.Sort(v.NotAcknowledged)
	stopped, err := st.StoppedChannels()
	if err != nil {
		a.failErr(w, r, err)
		return
	}
	for _, c := range stopped {
		if audience[c.Person] {
			v.Stopped = append(v.Stopped, c)
		}
	}
	if v.RollCalls, err = a.incidentRollCalls(id); err != nil {
		a.failErr(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, v)
}

func quote(s string) string {
	if len(s) > 80 {
		s = s[:80] + "…"
	}
	return strconv.Quote(s)
}
