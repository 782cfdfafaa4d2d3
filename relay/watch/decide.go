package watch

import (
	"slices"
	"time"
)

// Report is what one node last said it sees of a target: up or down,
// and since when its view has not changed.
type Report struct {
	Target string
	Node   string
	Site   string
	Up     bool
	Since  time.Time
	// Reason says why the node sees the target down.
	Reason string
}

// Rule says how many sites must agree, and for how long.
type Rule struct {
	// Sites is how many sites the cluster has; Quorum how many of them
	// must agree, zero meaning a majority of Sites.
	Sites  int
	Quorum int
	// For is how long each site of the quorum must have seen the target
	// down; RecoverFor how long up again.
	For        time.Duration
	RecoverFor time.Duration
}

// Need returns how many sites must agree.
func (r Rule) Need() int {
	if r.Quorum > 0 {
		return r.Quorum
	}
	return max(r.Sites, 1)/2 + 1
}

// SiteView is what one site sees: down when every live node of the site
// sees the target down, up when any sees it up.
type SiteView struct {
	Site  string
	Up    bool
	Since time.Time
	// Reason is a reason a node of the site gave, when down.
	Reason string
}

// Sites folds the reports of live nodes into one view per site, sorted
// by site.
func Sites(reports []Report) []SiteView {
	by := map[string]*SiteView{}
	var order []string
	for _, r := range reports {
		v, ok := by[r.Site]
		if !ok {
			by[r.Site] = &SiteView{Site: r.Site, Up: r.Up, Since: r.Since, Reason: r.Reason}
			order = append(order, r.Site)
			continue
		}
		switch {
		case r.Up && !v.Up:
			*v = SiteView{Site: r.Site, Up: true, Since: r.Since}
		case r.Up && v.Up:
			// Up since the longest a node there has seen it up.
			if r.Since.Before(v.Since) {
				v.Since = r.Since
			}
		case !r.Up && !v.Up:
			// Down only since every node there sees it down.
			if r.Since.After(v.Since) {
				v.Since, v.Reason = r.Since, r.Reason
			}
		}
	}
	slices.Sort(order)
	out := make([]SiteView, 0, len(order))
	for _, s := range order {
		out = append(out, *by[s])
	}
	return out
}

// Verdict is the cluster's view of a target.
type Verdict struct {
	Down bool
	// Since is when the quorum agreed (the latest of the agreeing sites'
	// times among the first Need of them).
	Since time.Time
	// Sites are the sites that agree, sorted.
	Sites []string
	// Reason is one reason a site gave, when down.
	Reason string
}

// Decide returns the verdict on a target now, given the reports of the
// live nodes and whether the target is down now. The verdict changes
// only when Need sites have each seen the other state for long enough
// (For to go down, RecoverFor to come back); otherwise it stays as it
// is, with ok false.
func Decide(reports []Report, rule Rule, down bool, now time.Time) (v Verdict, ok bool) {
	need := rule.Need()
	wait := rule.For
	if down {
		wait = rule.RecoverFor
	}
	var agree []SiteView
	for _, s := range Sites(reports) {
		// Looking for sites that see the other state than the verdict's.
		if s.Up == down && now.Sub(s.Since) >= wait {
			agree = append(agree, s)
		}
	}
	if len(agree) < need {
		return Verdict{Down: down}, false
	}
	slices.SortFunc(agree, func(a, b SiteView) int { return a.Since.Compare(b.Since) })
	v = Verdict{Down: !down, Since: agree[need-1].Since}
	for _, s := range agree {
		v.Sites = append(v.Sites, s.Site)
		if v.Down && v.Reason == "" {
			v.Reason = s.Reason
		}
	}
	slices.Sort(v.Sites)
	return v, true
}

// Local is one node's view of a target, from its own probes: it turns
// down after Fall failed probes in a row and up after Rise good ones, so
// that one lost packet neither hides an outage nor starts one.
type Local struct {
	Fall, Rise int

	known  bool
	up     bool
	since  time.Time
	streak int
	// first is when the streak against the view began: the view changed
	// then, once the streak is long enough.
	first  time.Time
	reason string
}

// Observe takes a probe's result at a time and reports whether the view
// changed.
func (l *Local) Observe(r Result, at time.Time) bool {
	fall, rise := max(l.Fall, 1), max(l.Rise, 1)
	if !l.known {
		l.known, l.up, l.since, l.reason = true, r.Up, at, r.Reason
		return true
	}
	if r.Up == l.up {
		l.streak = 0
		if !r.Up {
			l.reason = r.Reason
		}
		return false
	}
	if l.streak == 0 {
		l.first = at
	}
	l.streak++
	if (r.Up && l.streak < rise) || (!r.Up && l.streak < fall) {
		return false
	}
	l.up, l.since, l.streak, l.reason = r.Up, l.first, 0, r.Reason
	return true
}

// View returns the node's view: whether it has one, up, since when, and
// the last reason when down.
func (l *Local) View() (known, up bool, since time.Time, reason string) {
	return l.known, l.up, l.since, l.reason
}
