package relay

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"pgregory.net/rapid"
)

// TestScheduleProperties: at any instant, each layer that covers it (its
// hours hold the instant, and its first handoff is past) has exactly one
// person on call, a member of the layer, and a layer that does not cover
// it has nobody; the final answer is a member of some layer or an
// override's person; and who is on call holds until Until, where it
// changes to Next.
func TestScheduleProperties(t *testing.T) {
	people := []string{"kim", "lee", "park", "choi", "jung"}
	zones := []string{"Asia/Seoul", "America/New_York", "Europe/London", "Australia/Lord_Howe", "UTC"}
	shifts := []string{"daily", "weekly", "2d", "12h", "8h", "36h", "1h"}
	base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	localTime := func(t *rapid.T, label string) string {
		at := base.Add(time.Duration(rapid.IntRange(0, 2*365*24*60).Draw(t, label)) * time.Minute)
		return at.Format("2006-01-02 15:04")
	}
	clock := func(t *rapid.T, label string) string {
		return fmt.Sprintf("%02d:%02d", rapid.IntRange(0, 23).Draw(t, label+"h"), rapid.SampledFrom([]int{0, 30}).Draw(t, label+"m"))
	}
	rapid.Check(t, func(t *rapid.T) {
		s := Schedule{ID: "s", TimeZone: rapid.SampledFrom(zones).Draw(t, "zone")}
		for i := range rapid.IntRange(1, 4).Draw(t, "layers") {
			l := Layer{
				Members: rapid.SliceOfN(rapid.SampledFrom(people), 1, 4).Draw(t, fmt.Sprintf("members%d", i)),
				Start:   localTime(t, fmt.Sprintf("start%d", i)),
				Shift:   rapid.SampledFrom(shifts).Draw(t, fmt.Sprintf("shift%d", i)),
			}
			for j := range rapid.IntRange(0, 2).Draw(t, fmt.Sprintf("hours%d", i)) {
				h := Hours{From: clock(t, fmt.Sprintf("from%d.%d", i, j)), To: clock(t, fmt.Sprintf("to%d.%d", i, j))}
				h.Days = rapid.SliceOfNDistinct(rapid.SampledFrom(weekdays), 0, 7, rapid.ID[string]).Draw(t, fmt.Sprintf("days%d.%d", i, j))
				l.Hours = append(l.Hours, h)
			}
			s.Layers = append(s.Layers, l)
		}
		for i := range rapid.IntRange(0, 3).Draw(t, "overrides") {
			from := base.Add(time.Duration(rapid.IntRange(0, 2*365*24).Draw(t, fmt.Sprintf("ofrom%d", i))) * time.Hour)
			o := Override{Person: rapid.SampledFrom(people).Draw(t, fmt.Sprintf("operson%d", i)),
				From: from.Format(time.RFC3339), To: from.Add(time.Duration(rapid.IntRange(1, 72).Draw(t, fmt.Sprintf("olen%d", i))) * time.Hour).Format(time.RFC3339)}
			if rapid.Bool().Draw(t, fmt.Sprintf("ocovers%d", i)) {
				o.Covers = rapid.SampledFrom(s.Layers[0].Members).Draw(t, fmt.Sprintf("covered%d", i))
				if o.Covers == o.Person {
					continue
				}
			}
			if !slices.ContainsFunc(s.Overrides, func(k Override) bool { return k.Covers == o.Covers && k.From < o.To && o.From < k.To }) {
				s.Overrides = append(s.Overrides, o) // overlapping overrides of one person are refused
			}
		}
		r := &Roster{Schedules: []Schedule{s}}
		for _, p := range people {
			r.People = append(r.People, Person{ID: p, Email: p + "@example.com"})
		}
		if err := r.Validate(); err != nil {
			t.Fatal(err)
		}
		p := s.plan(func(key, format string, args ...any) { t.Fatalf("%s: %s", key, fmt.Sprintf(format, args...)) })
		at := base.Add(time.Duration(rapid.Int64Range(0, int64(3*365*24*time.Hour/time.Second)).Draw(t, "at")) * time.Second)
		loc, _ := s.LoadZone()
		local := at.In(loc)
		minute, wd := local.Hour()*60+local.Minute(), int(local.Weekday())
		for i := range p.layers {
			l := &p.layers[i]
			covered := !at.Before(l.start)
			if len(s.Layers[i].Hours) > 0 {
				inHours := false
				for _, h := range s.Layers[i].Hours {
					from, _ := parseClock(h.From)
					to, _ := parseClock(h.To)
					on := func(day int) bool {
						return len(h.Days) == 0 || slices.Contains(h.Days, weekdays[(day+7)%7])
					}
					if from < to {
						inHours = inHours || (on(wd) && minute >= from && minute < to)
					} else {
						inHours = inHours || (on(wd) && minute >= from) || (on(wd-1) && minute < to)
					}
				}
				covered = covered && inHours
			}
			got := l.at(at)
			switch {
			case covered && !slices.Contains(s.Layers[i].Members, got):
				t.Fatalf("layer %d covers %s but has %q on call, not one of %v", i, local, got, s.Layers[i].Members)
			case !covered && got != "":
				t.Fatalf("layer %d does not cover %s but has %q on call", i, local, got)
			}
		}
		oc, err := s.OnCallAt(at)
		if err != nil {
			t.Fatal(err)
		}
		if len(oc.People) > 1 {
			t.Fatalf("%d people on call: %v", len(oc.People), oc.People)
		}
		for _, person := range oc.People {
			member := slices.ContainsFunc(s.Layers, func(l Layer) bool { return slices.Contains(l.Members, person) })
			overrider := slices.ContainsFunc(s.Overrides, func(o Override) bool { return o.Person == person })
			if !member && !overrider {
				t.Fatalf("%s is on call but in no layer and no override", person)
			}
		}
		if oc.Until != "" {
			until, err := time.Parse(time.RFC3339, oc.Until)
			if err != nil {
				t.Fatal(err)
			}
			before, _ := p.final(until.Add(-time.Second))
			after, _ := p.final(until)
			if !slices.Equal(before, oc.People) || !slices.Equal(nonNil(after), oc.Next) {
				t.Fatalf("at %s: %v until %s then %v; but %v just before and %v then", oc.At, oc.People, oc.Until, oc.Next, before, after)
			}
		}
	})
}
