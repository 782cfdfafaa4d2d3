package relay

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	// Zones come with the binary, so a node on a host without a zone
	// database still reads every schedule, and reads it the same way as
	// its peers.
	_ "time/tzdata"
)

// Schedule is an on-call schedule: who is on call at any instant, from
// rotations (layers) and overrides, in one time zone. It is resolved the
// way PagerDuty resolves one: where several layers have someone on call,
// the last layer listed wins; an override wins over every layer.
type Schedule struct {
	ID   string `json:"id" yaml:"id"`
	Name string `json:"name,omitempty" yaml:"name,omitempty"`
	// TimeZone is an IANA zone such as "Asia/Seoul" (DefaultTimeZone when
	// empty). Starts, hours and overrides without an offset are read in
	// it, and daily and weekly handoffs keep its wall-clock time.
	TimeZone  string     `json:"time_zone,omitempty" yaml:"time_zone,omitempty"`
	Layers    []Layer    `json:"layers" yaml:"layers"`
	Overrides []Override `json:"overrides,omitempty" yaml:"overrides,omitempty"`
}

// Layer is a rotation: its members take turns, in order, one shift each,
// from the first handoff (Start) on.
type Layer struct {
	Name    string   `json:"name,omitempty" yaml:"name,omitempty"`
	Members []string `json:"members" yaml:"members"`
	// Start is the first handoff: a local date and time such as
	// "2026-03-02 09:00" (or one with an offset, "2026-03-02T09:00:00+09:00").
	// Before it the layer has nobody on call.
	Start string `json:"start" yaml:"start"`
	// Shift is how long each member is on call: "daily", "weekly", a
	// number of days such as "3d" (handoffs at the same wall-clock time),
	// or a duration such as "12h" (handoffs that far apart in real time).
	Shift string `json:"shift" yaml:"shift"`
	// Hours, when set, restricts the layer to these parts of the day or
	// week; outside them the layer has nobody on call.
	Hours []Hours `json:"hours,omitempty" yaml:"hours,omitempty"`
}

// Hours is a part of the day: from From to To, local time ("21:00" to
// "09:00" runs past midnight; From equal to To is a whole day from From),
// starting on each of Days ("mon" … "sun"; every day when empty).
type Hours struct {
	From string   `json:"from" yaml:"from"`
	To   string   `json:"to" yaml:"to"`
	Days []string `json:"days,omitempty" yaml:"days,omitempty"`
}

// Override puts Person on call from From until To: in place of Covers
// wherever Covers would be on call, or, without Covers, for the whole
// schedule. From and To are read like Layer.Start.
type Override struct {
	// ID names an override added through the API or the command line
	// (see OverrideChange); overrides written in the roster file have none.
	ID     string `json:"id,omitempty" yaml:"-"`
	Person string `json:"person" yaml:"person"`
	Covers string `json:"covers,omitempty" yaml:"covers,omitempty"`
	From   string `json:"from" yaml:"from"`
	To     string `json:"to" yaml:"to"`
	// By is who added it through the API; empty in the roster file.
	By string `json:"by,omitempty" yaml:"-"`
}

// DefaultTimeZone is the zone of a schedule that names none.
const DefaultTimeZone = "Asia/Seoul"

// TargetSchedulePrefix names whoever is on call in a schedule when the
// message is accepted: "schedule:db-primary".
const TargetSchedulePrefix = "schedule:"

// Bounds on schedules, so that a roster stays small and resolving a
// schedule stays cheap.
const (
	MaxSchedules         = 1000
	MaxLayers            = 20
	MaxLayerMembers      = 1000
	MaxScheduleOverrides = 1000
	maxHours             = 14
	maxShiftDays         = 365
	// minShift is the shortest shift: a shorter one is a typing mistake.
	minShift = time.Hour
	// horizon and maxSteps bound how far ahead "next" is looked for: 400
	// days, and 200 instants at which it might change (handoffs, edges of
	// hours, overrides' ends), whichever comes first.
	horizon  = 400 * 24 * time.Hour
	maxSteps = 200
)

// weekdays are the names Hours.Days takes, Sunday first as time.Weekday.
var weekdays = []string{"sun", "mon", "tue", "wed", "thu", "fri", "sat"}

// Local date-time layouts a schedule takes, without an offset.
var localLayouts = []string{"2006-01-02 15:04", "2006-01-02T15:04", "2006-01-02 15:04:05", "2006-01-02T15:04:05"}

// ParseScheduleTime reads a schedule's date-time: RFC 3339 with an offset,
// or a local "2006-01-02 15:04" (T between date and time, seconds
// optional) read in loc. A local time that a change to summer time skips
// is read with the offset in effect before the change (02:30 on the
// spring-forward day in New York is 03:30 EDT); one that a change back
// repeats is its first occurrence (RFC 5545 reads local times so).
func ParseScheduleTime(s string, loc *time.Location) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t, nil
	}
	for _, layout := range localLayouts {
		if t, err := time.Parse(layout, s); err == nil {
			return wallTime(t.Year(), t.Month(), t.Day(), t.Hour()*60+t.Minute(), t.Second(), loc), nil
		}
	}
	return time.Time{}, fmt.Errorf("%s is not a date and time such as 2026-03-02 09:00 or 2026-03-02T09:00:00+09:00", quoteShort(s))
}

// wallTime is the instant the clocks of loc show the date and minute of
// the day (and second): the first when the clocks show it twice, and the
// time read with the earlier offset when they skip it.
func wallTime(y int, mo time.Month, d, minute, sec int, loc *time.Location) time.Time {
	naive := time.Date(y, mo, d, 0, minute, sec, 0, time.UTC)
	var offsets []int
	for _, probe := range []time.Duration{-26 * time.Hour, 0, 26 * time.Hour} {
		_, off := naive.Add(probe).In(loc).Zone()
		if !slices.Contains(offsets, off) {
			offsets = append(offsets, off)
		}
	}
	var best time.Time
	for _, off := range offsets {
		c := naive.Add(-time.Duration(off) * time.Second)
		l := c.In(loc)
		if l.Year() == naive.Year() && l.YearDay() == naive.YearDay() && l.Hour() == naive.Hour() && l.Minute() == naive.Minute() && l.Second() == naive.Second() {
			if best.IsZero() || c.Before(best) {
				best = c
			}
		}
	}
	if !best.IsZero() {
		return best
	}
	// Skipped: read it with the offset in effect just before.
	_, before := naive.Add(-26 * time.Hour).In(loc).Zone()
	return naive.Add(-time.Duration(before) * time.Second)
}

// shift is a parsed Layer.Shift: days of wall-clock time, or real time.
type shift struct {
	days int
	real time.Duration
}

func parseShift(s string) (shift, error) {
	switch s {
	case "daily":
		return shift{days: 1}, nil
	case "weekly":
		return shift{days: 7}, nil
	case "":
		return shift{}, fmt.Errorf("is required: daily, weekly, a number of days such as 3d or a duration such as 12h")
	}
	if n, ok := strings.CutSuffix(s, "d"); ok {
		days, err := strconv.Atoi(n)
		if err != nil || days < 1 || days > maxShiftDays {
			return shift{}, fmt.Errorf("%s is not a number of days from 1d to %dd", quoteShort(s), maxShiftDays)
		}
		return shift{days: days}, nil
	}
	d, err := time.ParseDuration(s)
	switch {
	case err != nil:
		return shift{}, fmt.Errorf("%s is not daily, weekly, a number of days such as 3d or a duration such as 12h", quoteShort(s))
	case d < minShift || d > maxShiftDays*24*time.Hour:
		return shift{}, fmt.Errorf("%s is out of range: a shift is from 1h to %dd", quoteShort(s), maxShiftDays)
	}
	return shift{real: d}, nil
}

// parseClock reads "HH:MM" as minutes of the day.
func parseClock(s string) (int, error) {
	t, err := time.Parse("15:04", s)
	if err != nil || len(s) != 5 {
		return 0, fmt.Errorf("%s is not a time of day such as 09:00", quoteShort(s))
	}
	return t.Hour()*60 + t.Minute(), nil
}

// window is a parsed Hours.
type window struct {
	from, to int // minutes of the day
	days     [7]bool
}

// layerPlan is a parsed Layer.
type layerPlan struct {
	name    string
	members []string
	start   time.Time
	// startDay and startMinute are Start's local date and time.
	startDay         time.Time // midnight UTC of the local date
	startMin, anySec int
	shift            shift
	hours            []window
	loc              *time.Location
}

// overridePlan is a parsed Override.
type overridePlan struct {
	Override
	from, to time.Time
}

// schedulePlan is a parsed Schedule, ready to say who is on call.
type schedulePlan struct {
	loc       *time.Location
	layers    []layerPlan
	overrides []overridePlan
}

// LoadZone returns the schedule's zone: TimeZone, or DefaultTimeZone.
func (s *Schedule) LoadZone() (*time.Location, error) {
	name := s.TimeZone
	if name == "" {
		name = DefaultTimeZone
	}
	if name == "Local" {
		return nil, fmt.Errorf("%q depends on the host; name an IANA zone such as Asia/Seoul", name)
	}
	loc, err := time.LoadLocation(name)
	if err != nil {
		return nil, fmt.Errorf("%s is not an IANA time zone such as Asia/Seoul or America/New_York", quoteShort(name))
	}
	return loc, nil
}

// plan parses the schedule; bad reports each problem with its key under
// the schedule (".layers[0].shift"). It returns nil when something is
// wrong.
func (s *Schedule) plan(bad func(key, format string, args ...any)) *schedulePlan {
	ok := true
	fail := func(key, format string, args ...any) {
		ok = false
		bad(key, format, args...)
	}
	loc, err := s.LoadZone()
	if err != nil {
		fail(".time_zone", "%s", err)
		return nil
	}
	p := &schedulePlan{loc: loc}
	for i := range s.Layers {
		l := &s.Layers[i]
		key := fmt.Sprintf(".layers[%d]", i)
		if l.Name != "" {
			key = fmt.Sprintf(".layers[%d] (%s)", i, shortPrintable(l.Name))
		}
		lp := layerPlan{name: l.Name, members: l.Members, loc: loc}
		if len(l.Members) == 0 {
			fail(key+".members", "is empty: a layer needs someone to rotate")
		}
		if l.Start == "" {
			fail(key+".start", "is required: the first handoff, such as 2026-03-02 09:00")
		} else if t, err := ParseScheduleTime(l.Start, loc); err != nil {
			fail(key+".start", "%s", err)
		} else {
			lp.start = t
			lt := t.In(loc)
			lp.startDay = time.Date(lt.Year(), lt.Month(), lt.Day(), 0, 0, 0, 0, time.UTC)
			lp.startMin, lp.anySec = lt.Hour()*60+lt.Minute(), lt.Second()
		}
		if sh, err := parseShift(l.Shift); err != nil {
			fail(key+".shift", "%s", err)
		} else {
			lp.shift = sh
		}
		if len(l.Hours) > maxHours {
			fail(key+".hours", "lists %d parts of the week; the limit is %d", len(l.Hours), maxHours)
		}
		for j, h := range l.Hours {
			hkey := fmt.Sprintf("%s.hours[%d]", key, j)
			var w window
			var err error
			if w.from, err = parseClock(h.From); err != nil {
				fail(hkey+".from", "%s", err)
			}
			if w.to, err = parseClock(h.To); err != nil {
				fail(hkey+".to", "%s", err)
			}
			if len(h.Days) == 0 {
				w.days = [7]bool{true, true, true, true, true, true, true}
			}
			for k, d := range h.Days {
				n := slices.Index(weekdays, d)
				switch {
				case n < 0:
					fail(fmt.Sprintf("%s.days[%d]", hkey, k), "unknown day %s (known: %s)", quoteShort(d), strings.Join(weekdays, ", "))
				case w.days[n]:
					fail(fmt.Sprintf("%s.days[%d]", hkey, k), "day %q is listed twice", d)
				default:
					w.days[n] = true
				}
			}
			lp.hours = append(lp.hours, w)
		}
		p.layers = append(p.layers, lp)
	}
	for i, o := range s.Overrides {
		op, problems := planOverride(o, loc)
		for _, pr := range problems {
			fail(fmt.Sprintf(".overrides[%d].%s", i, pr[0]), "%s", pr[1])
		}
		p.overrides = append(p.overrides, op)
	}
	if !ok {
		return nil
	}
	return p
}

// planOverride parses an override; problems are (key, message) pairs.
func planOverride(o Override, loc *time.Location) (overridePlan, [][2]string) {
	op := overridePlan{Override: o}
	var problems [][2]string
	var err error
	if o.From == "" {
		problems = append(problems, [2]string{"from", "is required"})
	} else if op.from, err = ParseScheduleTime(o.From, loc); err != nil {
		problems = append(problems, [2]string{"from", err.Error()})
	}
	if o.To == "" {
		problems = append(problems, [2]string{"to", "is required"})
	} else if op.to, err = ParseScheduleTime(o.To, loc); err != nil {
		problems = append(problems, [2]string{"to", err.Error()})
	}
	if !op.from.IsZero() && !op.to.IsZero() && !op.to.After(op.from) {
		problems = append(problems, [2]string{"to", fmt.Sprintf("%s is not after from (%s)", o.To, o.From)})
	}
	return op, problems
}

// validateSchedules checks the roster's schedules against its people;
// bad reports each problem.
func (r *Roster) validateSchedules(people map[string]int, bad func(key, format string, args ...any)) {
	if len(r.Schedules) > MaxSchedules {
		bad("schedules", "lists %d schedules; the limit is %d", len(r.Schedules), MaxSchedules)
	}
	ids := make(map[string]int, len(r.Schedules))
	for i := range r.Schedules {
		s := &r.Schedules[i]
		key := fmt.Sprintf("schedules[%d]", i)
		if s.ID != "" {
			key = fmt.Sprintf("schedules[%d] (%s)", i, shortPrintable(s.ID))
		}
		if err := CheckLine(key+".name", s.Name); err != nil {
			bad(key+".name", "%s", err.(*FieldError).Message)
		} else if len(s.Name) > MaxNameBytes {
			bad(key+".name", "is %d bytes; the limit is %d", len(s.Name), MaxNameBytes)
		}
		switch {
		case s.ID == "":
			bad(key+".id", "is required")
		case !ValidID(s.ID):
			bad(key+".id", "%s %s", quoteShort(s.ID), errBadID)
		default:
			if j, dup := ids[s.ID]; dup {
				bad(key+".id", "%q is also used by schedules[%d]", s.ID, j)
			}
			ids[s.ID] = i
		}
		switch {
		case len(s.Layers) == 0:
			bad(key+".layers", "is empty: a schedule needs at least one layer")
		case len(s.Layers) > MaxLayers:
			bad(key+".layers", "lists %d layers; the limit is %d", len(s.Layers), MaxLayers)
		}
		if len(s.Overrides) > MaxScheduleOverrides {
			bad(key+".overrides", "lists %d overrides; the limit is %d", len(s.Overrides), MaxScheduleOverrides)
		}
		for j, l := range s.Layers {
			lkey := fmt.Sprintf("%s.layers[%d]", key, j)
			if l.Name != "" {
				lkey = fmt.Sprintf("%s.layers[%d] (%s)", key, j, shortPrintable(l.Name))
				if err := CheckLine(lkey+".name", l.Name); err != nil {
					bad(lkey+".name", "%s", err.(*FieldError).Message)
				} else if len(l.Name) > MaxNameBytes {
					bad(lkey+".name", "is %d bytes; the limit is %d", len(l.Name), MaxNameBytes)
				}
			}
			if len(l.Members) > MaxLayerMembers {
				bad(lkey+".members", "lists %d people; the limit is %d", len(l.Members), MaxLayerMembers)
			}
			for k, m := range l.Members {
				if _, ok := people[m]; !ok {
					bad(fmt.Sprintf("%s.members[%d]", lkey, k), "unknown person %s", quoteShort(m))
				}
			}
		}
		s.plan(func(k, format string, args ...any) { bad(key+k, format, args...) })
		for j, o := range s.Overrides {
			okey := fmt.Sprintf("%s.overrides[%d]", key, j)
			for _, msg := range s.checkOverridePeople(o, people) {
				bad(okey+"."+msg[0], "%s", msg[1])
			}
		}
		loc, err := s.LoadZone()
		if err != nil {
			continue
		}
		ops := make([]overridePlan, len(s.Overrides))
		valid := make([]bool, len(s.Overrides))
		for j, o := range s.Overrides {
			var problems [][2]string
			ops[j], problems = planOverride(o, loc)
			valid[j] = len(problems) == 0
		}
		for j := range ops {
			for k := range j {
				if valid[j] && valid[k] && overlap(&ops[k], &ops[j]) {
					bad(fmt.Sprintf("%s.overrides[%d]", key, j), "overlaps overrides[%d]: both %s from %s to %s",
						k, coverText(s.Overrides[j].Covers), s.Overrides[k].From, s.Overrides[k].To)
				}
			}
		}
	}
}

// checkOverridePeople says what is wrong with the people an override
// names, as (key, message) pairs.
func (s *Schedule) checkOverridePeople(o Override, people map[string]int) [][2]string {
	var out [][2]string
	if o.Person == "" {
		out = append(out, [2]string{"person", "is required"})
	} else if _, ok := people[o.Person]; !ok {
		out = append(out, [2]string{"person", "unknown person " + quoteShort(o.Person)})
	}
	if o.Covers != "" {
		if _, ok := people[o.Covers]; !ok {
			out = append(out, [2]string{"covers", "unknown person " + quoteShort(o.Covers)})
		} else if !s.hasMember(o.Covers) {
			out = append(out, [2]string{"covers", fmt.Sprintf("%q is in no layer of this schedule, so nobody would be covered", o.Covers)})
		}
	}
	if o.Person != "" && o.Person == o.Covers {
		out = append(out, [2]string{"covers", fmt.Sprintf("%q cannot cover themselves", o.Covers)})
	}
	return out
}

func (s *Schedule) hasMember(person string) bool {
	for _, l := range s.Layers {
		if slices.Contains(l.Members, person) {
			return true
		}
	}
	return false
}

func coverText(covers string) string {
	if covers == "" {
		return "cover the whole schedule"
	}
	return "cover " + covers
}

// overlap reports whether two overrides cover the same person (or the
// whole schedule) at some common instant.
func overlap(a, b *overridePlan) bool {
	return a.Covers == b.Covers && a.from.Before(b.to) && b.from.Before(a.to)
}

// handoff returns the k-th handoff of the layer (k = 0 is Start).
func (l *layerPlan) handoff(k int) time.Time {
	if l.shift.days > 0 {
		d := l.startDay.AddDate(0, 0, k*l.shift.days)
		return wallTime(d.Year(), d.Month(), d.Day(), l.startMin, l.anySec, l.loc)
	}
	return l.start.Add(time.Duration(k) * l.shift.real)
}

// shiftAt returns the number of the shift that holds t, or -1 before the
// first handoff.
func (l *layerPlan) shiftAt(t time.Time) int {
	if t.Before(l.start) {
		return -1
	}
	period := l.shift.real
	if l.shift.days > 0 {
		period = time.Duration(l.shift.days) * 24 * time.Hour
	}
	k := int(t.Sub(l.start) / period)
	for k > 0 && l.handoff(k).After(t) {
		k--
	}
	for !l.handoff(k + 1).After(t) {
		k++
	}
	return k
}

// covers reports whether t is within the layer's hours.
func (l *layerPlan) covers(t time.Time) bool {
	if len(l.hours) == 0 {
		return true
	}
	lt := t.In(l.loc)
	m := lt.Hour()*60 + lt.Minute()
	wd := int(lt.Weekday())
	for _, w := range l.hours {
		if w.from < w.to {
			if w.days[wd] && m >= w.from && m < w.to {
				return true
			}
			continue
		}
		if (w.days[wd] && m >= w.from) || (w.days[(wd+6)%7] && m < w.to) {
			return true
		}
	}
	return false
}

// at returns who is on call in the layer at t, "" for nobody.
func (l *layerPlan) at(t time.Time) string {
	if len(l.members) == 0 || !l.covers(t) {
		return ""
	}
	k := l.shiftAt(t)
	if k < 0 {
		return ""
	}
	return l.members[k%len(l.members)]
}

// nextEdge returns the first instant after t at which the layer may
// change hands: a handoff or an edge of its hours.
func (l *layerPlan) nextEdge(t time.Time) time.Time {
	next := l.start
	if !t.Before(l.start) {
		next = l.handoff(l.shiftAt(t) + 1)
	}
	if len(l.hours) == 0 {
		return next
	}
	lt := t.In(l.loc)
	day := time.Date(lt.Year(), lt.Month(), lt.Day(), 0, 0, 0, 0, time.UTC)
	for i := -1; i <= 8; i++ {
		d := day.AddDate(0, 0, i)
		if d.Sub(day) > next.Sub(t)+24*time.Hour {
			break // every edge on this day is after the next handoff
		}
		for _, w := range l.hours {
			if !w.days[int(d.Weekday())] {
				continue
			}
			from := wallTime(d.Year(), d.Month(), d.Day(), w.from, 0, l.loc)
			end := d
			if w.from >= w.to {
				end = d.AddDate(0, 0, 1)
			}
			to := wallTime(end.Year(), end.Month(), end.Day(), w.to, 0, l.loc)
			for _, e := range []time.Time{from, to} {
				if e.After(t) && e.Before(next) {
					next = e
				}
			}
		}
	}
	return next
}

// final returns who is on call at t after overrides, and the override
// that decided it, if one did.
func (p *schedulePlan) final(t time.Time) ([]string, *Override) {
	person := ""
	for i := len(p.layers) - 1; i >= 0; i-- {
		if person = p.layers[i].at(t); person != "" {
			break
		}
	}
	var whole, covering *overridePlan
	for i := range p.overrides {
		o := &p.overrides[i]
		if t.Before(o.from) || !t.Before(o.to) {
			continue
		}
		switch {
		case o.Covers == "":
			whole = o
		case o.Covers == person:
			covering = o
		}
	}
	switch {
	case whole != nil:
		return []string{whole.Person}, &whole.Override
	case covering != nil:
		return []string{covering.Person}, &covering.Override
	case person != "":
		return []string{person}, nil
	}
	return nil, nil
}

// nextEdge returns the first instant after t at which who is on call
// may change.
func (p *schedulePlan) nextEdge(t time.Time) time.Time {
	next := t.Add(horizon)
	for i := range p.layers {
		if e := p.layers[i].nextEdge(t); e.Before(next) {
			next = e
		}
	}
	for _, o := range p.overrides {
		for _, e := range []time.Time{o.from, o.to} {
			if e.After(t) && e.Before(next) {
				next = e
			}
		}
	}
	return next
}

// change finds the first instant after t, within the horizon, at which
// value differs from its value at t, and that value; the zero time when
// none does.
func change[T any](t time.Time, edge func(time.Time) time.Time, value func(time.Time) T, same func(a, b T) bool) (time.Time, T) {
	now := value(t)
	end := t.Add(horizon)
	steps := 0
	for at := edge(t); at.Before(end) && steps < maxSteps; at, steps = edge(at), steps+1 {
		if v := value(at); !same(now, v) {
			return at, v
		}
	}
	var zero T
	return time.Time{}, zero
}

// OnCall says who is on call in a schedule at one instant.
type OnCall struct {
	Schedule string `json:"schedule"`
	Name     string `json:"name,omitempty"`
	TimeZone string `json:"time_zone"`
	At       string `json:"at"`
	// People are on call at At, after overrides: one person, or nobody.
	People []string `json:"people"`
	// Override is the override that put them on call, if one did.
	Override *Override `json:"override,omitempty"`
	// Until is when that changes, and Next who is on call then (empty
	// for nobody); Until is empty when nothing changes within 400 days,
	// or within the next 200 handoffs and edges of hours.
	Until  string        `json:"until,omitempty"`
	Next   []string      `json:"next"`
	Layers []LayerOnCall `json:"layers"`
	// Overrides lists the overrides that have not ended by At.
	Overrides []Override `json:"overrides"`
}

// LayerOnCall says who is on call in one layer.
type LayerOnCall struct {
	Name   string `json:"name,omitempty"`
	Person string `json:"person,omitempty"`
	Until  string `json:"until,omitempty"`
	Next   string `json:"next,omitempty"`
}

// OnCallAt says who is on call in the schedule at t, per layer and after
// overrides, and who is next. Times are written in the schedule's zone
// (RFC 3339).
func (s *Schedule) OnCallAt(t time.Time) (*OnCall, error) {
	var errs []string
	p := s.plan(func(key, format string, args ...any) {
		errs = append(errs, s.ID+key+": "+fmt.Sprintf(format, args...))
	})
	if p == nil {
		return nil, fmt.Errorf("schedule %s: %s", s.ID, strings.Join(errs, "; "))
	}
	stamp := func(at time.Time) string {
		if at.IsZero() {
			return ""
		}
		return at.In(p.loc).Format(time.RFC3339)
	}
	people, by := p.final(t)
	until, next := change(t, p.nextEdge, func(at time.Time) []string { v, _ := p.final(at); return v }, slices.Equal[[]string])
	oc := &OnCall{Schedule: s.ID, Name: s.Name, TimeZone: p.loc.String(), At: stamp(t), People: nonNil(people),
		Override: by, Until: stamp(until), Next: nonNil(next), Overrides: []Override{}}
	for i := range p.layers {
		l := &p.layers[i]
		until, next := change(t, l.nextEdge, l.at, func(a, b string) bool { return a == b })
		oc.Layers = append(oc.Layers, LayerOnCall{Name: l.name, Person: l.at(t), Until: stamp(until), Next: next})
	}
	for _, o := range p.overrides {
		if o.to.After(t) {
			oc.Overrides = append(oc.Overrides, o.Override)
		}
	}
	return oc, nil
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// onCall returns who is on call in the schedule at t; an error when the
// schedule cannot be read.
func (s *Schedule) onCall(t time.Time) ([]string, error) {
	var first string
	p := s.plan(func(key, format string, args ...any) {
		if first == "" {
			first = key + ": " + fmt.Sprintf(format, args...)
		}
	})
	if p == nil {
		return nil, fmt.Errorf("cannot be read (%s)", first)
	}
	people, _ := p.final(t)
	return people, nil
}

// Schedule returns the schedule with the given id.
func (r *Roster) Schedule(id string) (*Schedule, bool) {
	for i := range r.Schedules {
		if r.Schedules[i].ID == id {
			return &r.Schedules[i], true
		}
	}
	return nil, false
}

// ScheduleOverride is an override added to a schedule through the API,
// kept apart from the roster file: see OverrideChange.
type ScheduleOverride struct {
	Schedule string   `json:"schedule"`
	Override Override `json:"override"`
}

// WithOverrides returns the roster with the added overrides layered over
// its schedules, after the roster file's own: r itself when none applies.
// An override of a schedule the roster no longer has is left out, and so
// is one naming a person it no longer has.
func (r *Roster) WithOverrides(added []ScheduleOverride) *Roster {
	var c *Roster
	for _, so := range added {
		s, ok := r.Schedule(so.Schedule)
		if !ok {
			continue
		}
		if _, ok := r.Person(so.Override.Person); !ok {
			continue
		}
		if so.Override.Covers != "" && !s.hasMember(so.Override.Covers) {
			continue
		}
		if c == nil {
			c = r.Clone()
		}
		s, _ = c.Schedule(so.Schedule)
		s.Overrides = append(s.Overrides, so.Override)
	}
	if c == nil {
		return r
	}
	return c
}

// PrepareOverride checks an override to add to the schedule id of this
// roster (the roster with the overrides already added, see
// WithOverrides) and returns it with From and To as RFC 3339 times with
// the schedule zone's offset, so that a later change of the zone does not
// move it. Each problem names its field.
func (r *Roster) PrepareOverride(id string, o Override) (Override, []*FieldError) {
	out := r.checkOverride(id, o)
	if len(out) > 0 {
		return Override{}, out
	}
	s, _ := r.Schedule(id)
	loc := s.zone()
	op, _ := planOverride(o, loc)
	o.From = op.from.In(loc).Format(time.RFC3339)
	o.To = op.to.In(loc).Format(time.RFC3339)
	return o, nil
}

func (r *Roster) checkOverride(id string, o Override) []*FieldError {
	s, ok := r.Schedule(id)
	if !ok {
		return []*FieldError{{Field: "schedule", Message: fmt.Sprintf("%s is not a schedule in the roster", quoteShort(id))}}
	}
	people := make(map[string]int, len(r.People))
	for i, p := range r.People {
		people[p.ID] = i
	}
	var out []*FieldError
	for _, pr := range s.checkOverridePeople(o, people) {
		out = append(out, &FieldError{Field: pr[0], Message: pr[1]})
	}
	loc, err := s.LoadZone()
	if err != nil {
		return append(out, &FieldError{Field: "schedule", Message: err.Error()})
	}
	op, problems := planOverride(o, loc)
	for _, pr := range problems {
		out = append(out, &FieldError{Field: pr[0], Message: pr[1]})
	}
	if len(problems) > 0 {
		return out
	}
	for i, other := range s.Overrides {
		oth, problems := planOverride(other, loc)
		if len(problems) == 0 && overlap(&op, &oth) {
			name := fmt.Sprintf("overrides[%d] of the roster file", i)
			if other.ID != "" {
				name = "override " + other.ID
			}
			out = append(out, &FieldError{Field: "from", Message: fmt.Sprintf("overlaps %s: both %s from %s to %s", name, coverText(o.Covers), other.From, other.To)})
		}
	}
	return out
}

// zone is the schedule's zone, UTC when it cannot be read.
func (s *Schedule) zone() *time.Location {
	if loc, err := s.LoadZone(); err == nil {
		return loc
	}
	return time.UTC
}
