package watch_test

import (
	"slices"
	"testing"
	"time"

	"pgregory.net/rapid"

	"github.com/oob-relay/relay/relay/watch"
)

var t0 = time.Date(2026, 12, 2, 14, 3, 0, 0, time.UTC)

func down(node, site string, since time.Duration) watch.Report {
	return watch.Report{Target: "web", Node: node, Site: site, Since: t0.Add(since), Reason: "status 503"}
}

func up(node, site string, since time.Duration) watch.Report {
	return watch.Report{Target: "web", Node: node, Site: site, Up: true, Since: t0.Add(since)}
}

var rule = watch.Rule{Sites: 3, For: 30 * time.Second, RecoverFor: time.Minute}

func TestDecideNeedsAQuorumOfSites(t *testing.T) {
	now := t0.Add(time.Minute)
	// Only seoul sees it down: seoul's network, not an outage.
	if v, ok := watch.Decide([]watch.Report{down("s1", "seoul", 0), up("b1", "busan", 0), up("t1", "tokyo", 0)}, rule, false, now); ok {
		t.Errorf("one site of three paged: %+v", v)
	}
	// Two nodes of one site are still one site.
	if v, ok := watch.Decide([]watch.Report{down("s1", "seoul", 0), down("s2", "seoul", 0), up("b1", "busan", 0)}, rule, false, now); ok {
		t.Errorf("two nodes of one site paged: %+v", v)
	}
	// Two sites, each for 30 s: down since the second site saw it.
	v, ok := watch.Decide([]watch.Report{down("s1", "seoul", 0), down("b1", "busan", 10*time.Second), up("t1", "tokyo", 0)}, rule, false, now)
	if !ok || !v.Down || !v.Since.Equal(t0.Add(10*time.Second)) || !slices.Equal(v.Sites, []string{"busan", "seoul"}) || v.Reason != "status 503" {
		t.Errorf("two sites of three: %+v %v", v, ok)
	}
	// Not yet: busan has seen it down for 25 s only.
	if v, ok := watch.Decide([]watch.Report{down("s1", "seoul", 0), down("b1", "busan", 35*time.Second)}, rule, false, now); ok {
		t.Errorf("before For: %+v", v)
	}
	// A site is down only when every live node there sees it down.
	if v, ok := watch.Decide([]watch.Report{down("s1", "seoul", 0), up("s2", "seoul", 0), down("b1", "busan", 0)}, rule, false, now); ok {
		t.Errorf("a site split in two counted as down: %+v", v)
	}
}

func TestDecideRecoversAfterRecoverFor(t *testing.T) {
	reports := []watch.Report{up("s1", "seoul", 0), up("b1", "busan", 20*time.Second), down("t1", "tokyo", 0)}
	if v, ok := watch.Decide(reports, rule, true, t0.Add(time.Minute)); ok {
		t.Errorf("recovered before RecoverFor: %+v", v)
	}
	v, ok := watch.Decide(reports, rule, true, t0.Add(80*time.Second))
	if !ok || v.Down || !v.Since.Equal(t0.Add(20*time.Second)) {
		t.Errorf("recovery: %+v %v", v, ok)
	}
	// While down, sites seeing it down change nothing.
	if v, ok := watch.Decide([]watch.Report{down("s1", "seoul", 0), down("b1", "busan", 0)}, rule, true, t0.Add(time.Hour)); ok {
		t.Errorf("down again while down: %+v", v)
	}
}

func TestRuleNeed(t *testing.T) {
	for sites, want := range map[int]int{0: 1, 1: 1, 2: 2, 3: 2, 4: 3, 5: 3} {
		if got := (watch.Rule{Sites: sites}).Need(); got != want {
			t.Errorf("%d sites need %d, want %d", sites, got, want)
		}
	}
	if got := (watch.Rule{Sites: 5, Quorum: 4}).Need(); got != 4 {
		t.Errorf("quorum 4 of 5: %d", got)
	}
}

// TestDecideMinorityNeverPages: whatever the reports, fewer down sites
// than the quorum never turn the verdict down, and the verdict's sites
// all saw it down for For.
func TestDecideMinorityNeverPages(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		sites := []string{"seoul", "busan", "tokyo", "osaka", "jeju"}[:rapid.IntRange(1, 5).Draw(t, "sites")]
		r := watch.Rule{Sites: len(sites), For: 30 * time.Second, RecoverFor: time.Minute}
		var reports []watch.Report
		downSites := map[string]bool{}
		allDown := map[string]bool{}
		for i, n := 0, rapid.IntRange(0, 10).Draw(t, "nodes"); i < n; i++ {
			site := rapid.SampledFrom(sites).Draw(t, "site")
			since := time.Duration(rapid.IntRange(0, 120).Draw(t, "since")) * time.Second
			rep := up("n", site, since)
			if rapid.Bool().Draw(t, "down") {
				rep = down("n", site, since)
			}
			reports = append(reports, rep)
		}
		now := t0.Add(2 * time.Minute)
		for _, s := range sites {
			allDown[s] = true
		}
		seen := map[string]bool{}
		for _, rep := range reports {
			seen[rep.Site] = true
			if rep.Up || now.Sub(rep.Since) < r.For {
				allDown[rep.Site] = false
			}
		}
		for s := range seen {
			if allDown[s] {
				downSites[s] = true
			}
		}
		v, ok := watch.Decide(reports, r, false, now)
		if ok != (len(downSites) >= r.Need()) {
			t.Fatalf("%d sites down for For, need %d, verdict %+v %v", len(downSites), r.Need(), v, ok)
		}
		for _, s := range v.Sites {
			if !downSites[s] {
				t.Fatalf("site %s counted but not down for For", s)
			}
		}
	})
}

func TestLocalDampsOneLostProbe(t *testing.T) {
	l := watch.Local{Fall: 2, Rise: 2}
	at := func(s int) time.Time { return t0.Add(time.Duration(s) * time.Second) }
	if !l.Observe(watch.Result{Up: true}, at(0)) {
		t.Fatal("the first result sets the view")
	}
	if l.Observe(watch.Result{Reason: "status 503"}, at(10)) {
		t.Error("one failed probe turned the view down")
	}
	if l.Observe(watch.Result{Up: true}, at(20)) {
		t.Error("up again changed the view")
	}
	l.Observe(watch.Result{Reason: "status 503"}, at(30))
	if !l.Observe(watch.Result{Reason: "status 502"}, at(40)) {
		t.Fatal("two failed probes in a row left the view up")
	}
	known, isUp, since, reason := l.View()
	if !known || isUp || !since.Equal(at(30)) || reason != "status 502" {
		t.Errorf("view %v %v %s %q, want down since the first of the two failures", known, isUp, since, reason)
	}
}
