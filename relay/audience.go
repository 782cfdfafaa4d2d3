package relay

import (
	"slices"
	"strings"
)

// Includes reports whether the person is among the audience targets
// ("person:<id>", "group:<id>", "everyone") by this roster: on the roster
// and named, in a group named, or anyone with everyone. A target the
// roster does not know names nobody; it is not an error, as a roster may
// drop a group that configuration still names.
func (r *Roster) Includes(person string, targets []string) bool {
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
		}
	}
	return false
}
