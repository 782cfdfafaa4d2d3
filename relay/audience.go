package relay

import (
	"slices"
	"strings"
	"time"
)

// Includes reports whether the person is among the audience targets
// ("person:<id>", "group:<id>", "role:<role>", "escalation:<id>",
// "everyone") by this roster: on the roster
// and named, in a group named, or anyone with everyone. A target the
// roster does not know names nobody; it is not an error, as a roster may
// drop a group that configuration still names. It knows no time, so a
// "schedule:<id>" target names nobody: use IncludesAt.
func (r *Roster) Includes(person string, targets []string) bool {
	return r.IncludesAt(person, targets, time.Time{})
}

// IncludesAt is Includes at the instant at, when a "schedule:<id>"
// target names whoever is on call in the schedule.
func (r *Roster) IncludesAt(person string, targets []string, at time.Time) bool {
	p, ok := r.Person(person)
	if !ok {
		return false
	}
	for _, t := range targets {
		switch {
		case t == TargetEveryone:
			return true
		case strings.HasPrefix(t, TargetPersonPrefix):
			if strings.TrimPrefix(t, TargetPersonPrefix) == person {
				return true
			}
		case strings.HasPrefix(t, TargetGroupPrefix):
			if g, ok := r.Group(strings.TrimPrefix(t, TargetGroupPrefix)); ok && slices.Contains(g.Members, person) {
				return true
			}
		case strings.HasPrefix(t, TargetRolePrefix):
			if p.HasRole(strings.TrimPrefix(t, TargetRolePrefix)) {
				return true
			}
		case strings.HasPrefix(t, TargetSchedulePrefix):
			if people, _ := r.onCall(strings.TrimPrefix(t, TargetSchedulePrefix), at); slices.Contains(people, person) {
				return true
			}
		case strings.HasPrefix(t, TargetEscalationPrefix):
			// Anyone a step of the policy notifies.
			if e, ok := r.Escalation(strings.TrimPrefix(t, TargetEscalationPrefix)); ok {
				for _, s := range e.Steps {
					if !slices.ContainsFunc(s.To, func(t string) bool { return strings.HasPrefix(t, TargetEscalationPrefix) }) && r.IncludesAt(person, s.To, at) {
						return true
					}
				}
			}
		}
	}
	return false
}

// onCall returns who is on call in schedule id at the instant at, or
// why it names nobody.
func (r *Roster) onCall(id string, at time.Time) ([]string, string) {
	s, ok := r.Schedule(id)
	switch {
	case !ok:
		return nil, "is not a schedule in the roster"
	case at.IsZero():
		return nil, "needs the time of the message to say who is on call"
	}
	people, err := s.onCall(at)
	if err != nil {
		return nil, err.Error()
	}
	people = slices.DeleteFunc(people, func(p string) bool { _, ok := r.Person(p); return !ok })
	if len(people) == 0 {
		return nil, "has nobody on call at " + at.In(s.zone()).Format(time.RFC3339)
	}
	return people, ""
}
