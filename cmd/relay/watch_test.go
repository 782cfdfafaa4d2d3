package main

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/oob-relay/relay/cmd/relay/internal/launch"
	"github.com/oob-relay/relay/internal/testkit"
	"github.com/oob-relay/relay/relay"
	"github.com/oob-relay/relay/relay/api"
	"github.com/oob-relay/relay/relay/cluster"
)

// watchSites are the sites of node-a, node-b and node-c.
var watchSites = []string{"seoul", "busan", "tokyo"}

// watchedTarget is a local HTTP server that answers 200, or 503 while
// down.
type watchedTarget struct {
	*httptest.Server
	down atomic.Bool
}

func newWatchedTarget(t testing.TB) *watchedTarget {
	tg := &watchedTarget{}
	tg.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if tg.down.Load() {
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		w.Write([]byte("ok"))
	}))
	t.Cleanup(tg.Close)
	return tg
}

// targetWatch is a watch section with target web at url.
func targetWatch(url string, forDown, recoverFor time.Duration) string {
	return fmt.Sprintf(`watch:
  targets:
    - name: web
      kind: http
      url: %s
      body: "ok"
      interval: 1s
      timeout: 1s
      for: %s
      recover_for: %s
      to: [group:all]
`, url, forDown, recoverFor)
}

// watchOwner returns the index of the node that decides for subject
// while every node of cl is alive.
func watchOwner(cl *testCluster, subject string) int {
	own := cluster.NewOwnership(cl.nodes[0].name, time.Second, nil)
	var names []string
	for _, n := range cl.nodes {
		names = append(names, n.name)
	}
	own.SetAlive(names)
	owner := own.Owner(&relay.Delivery{ID: "watch/" + subject})
	for i, n := range cl.nodes {
		if n.name == owner {
			return i
		}
	}
	cl.tb.Fatalf("no node owns %s", subject)
	return -1
}

// watchView reads node n's GET /v1/watch.
func watchView(t *testing.T, n *clusterNode) *api.WatchView {
	t.Helper()
	v, err := n.c.Watch(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// targetView returns node's view of target web in v.
func targetView(v *api.WatchView, node string) (api.SiteView, bool) {
	for _, tg := range v.Targets {
		for _, x := range tg.Views {
			if tg.Name == "web" && x.Node == node {
				return x, true
			}
		}
	}
	return api.SiteView{}, false
}

// Three relay serve processes in three sites watch a local HTTP target.
// node-b cannot reach it (its probes refuse the target's address): one
// site's trouble, no incident. The target stops answering; the node that
// decides is killed while the quorum's `for` runs; a survivor pages each
// person once, in one incident. The killed node comes back, the target
// answers again, and the recovery goes out once, to the same incident.
func TestWatchedTargetAcrossRelayServe(t *testing.T) {
	tg := newWatchedTarget(t)
	const forDown = 10 * time.Second
	cl := startCluster(t, clusterSpec{nodes: 3, people: 3, sites: watchSites,
		extra: targetWatch(tg.URL, forDown, 5*time.Second),
		env: func(i int) []string {
			if i == 1 {
				return []string{launch.RefuseDialEnv + "=" + tg.Listener.Addr().String()}
			}
			return nil
		}})
	a := cl.nodes[0]

	// node-b sees the target down for longer than `for`; the others up.
	testkit.EventuallyNil(t, 60*time.Second, func() error {
		v := watchView(t, a)
		b, ok := targetView(v, "node-b")
		if !ok || b.Up || time.Since(b.Since) < forDown+3*time.Second {
			return fmt.Errorf("node-b's view %+v", b)
		}
		for _, n := range []string{"node-a", "node-c"} {
			if x, ok := targetView(v, n); !ok || !x.Up {
				return fmt.Errorf("%s's view %+v", n, x)
			}
		}
		return nil
	})
	if v := watchView(t, a); v.Targets[0].Down || v.Targets[0].Incident != "" {
		t.Fatalf("one site paged: %+v", v.Targets[0])
	}
	if got := cl.s.smsArrivals("[장애] web"); len(got) != 0 {
		t.Fatalf("paged for one site's trouble: %v", got)
	}

	// The target stops answering.
	owner := watchOwner(cl, relay.SubjectTarget+"web")
	downAt := time.Now()
	tg.down.Store(true)
	testkit.EventuallyNil(t, 30*time.Second, func() error {
		v := watchView(t, cl.nodes[owner])
		for _, n := range cl.nodes {
			if x, ok := targetView(v, n.name); !ok || x.Up || x.Since.Before(downAt.Add(-time.Second)) && n.name != "node-b" {
				return fmt.Errorf("%s's view %+v", n.name, x)
			}
		}
		return nil
	})
	if v := watchView(t, cl.nodes[owner]); v.Targets[0].Down {
		t.Fatalf("the verdict came before the owner could be killed: %+v", v.Targets[0])
	}
	cl.kill(owner)
	t.Logf("%s, which decides, killed %s after the target went down", cl.nodes[owner].name, time.Since(downAt).Round(time.Millisecond))
	survivor := cl.nodes[(owner+1)%3]
	testkit.Eventually(t, 60*time.Second, "everyone paged", func() bool {
		return len(perRecipient(cl.s.smsArrivals("[장애] web"))) == 3
	})
	first := cl.s.smsArrivals("[장애] web")[0].at
	t.Logf("first page %s after the target went down (for %s, owner killed)", first.Sub(downAt).Round(time.Millisecond), forDown)
	var v *api.WatchView
	testkit.Eventually(t, 30*time.Second, "the verdict", func() bool {
		v = watchView(t, survivor)
		return v.Targets[0].Down
	})
	incident := v.Targets[0].Incident
	if incident != "watch-target-web-1" {
		t.Errorf("incident %q", incident)
	}

	// The killed node comes back and the target answers again.
	cl.start(owner)
	tg.down.Store(false)
	testkit.Eventually(t, 60*time.Second, "everyone told of the recovery", func() bool {
		return len(perRecipient(cl.s.smsArrivals("[복구] web"))) == 3
	})
	testkit.Eventually(t, 30*time.Second, "the recovery's verdict", func() bool {
		return !watchView(t, survivor).Targets[0].Down
	})
	iv, err := survivor.c.Incident(t.Context(), incident)
	if err != nil {
		t.Fatal(err)
	}
	if len(iv.Timeline) != 2 {
		t.Errorf("incident %s has %d messages, want the page and the recovery", incident, len(iv.Timeline))
	}
	incidents, err := survivor.c.Incidents(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if len(incidents) != 1 {
		t.Errorf("incidents %+v, want one", incidents)
	}
	for marker, want := range map[string]int{"[장애] web": 1, "[복구] web": 1} {
		for to, n := range perRecipient(cl.s.smsArrivals(marker)) {
			if n != want {
				t.Errorf("%s: %s got %d SMS, want %d", marker, to, n, want)
			}
		}
	}
}

// A heartbeat beaten through the API of one node and Alertmanager's
// webhook on another: when the beats stop, everyone is paged once; when
// they resume, told once.
func TestHeartbeatAcrossRelayServe(t *testing.T) {
	cl := startCluster(t, clusterSpec{nodes: 3, people: 2, sites: watchSites, alertmanager: true, extra: `watch:
  heartbeats:
    - name: watchdog
      every: 10s
      grace: 5s
      to: [group:all]
`})
	a, b := cl.nodes[0], cl.nodes[1]
	watchdog := `{"version":"4","groupKey":"{}:{alertname=\"Watchdog\"}","status":"firing","receiver":"watchdog","alerts":[` +
		`{"status":"firing","startsAt":"2026-11-24T05:00:00Z","labels":{"alertname":"Watchdog"},"annotations":{}}]}`
	beat := func() {
		if _, err := a.c.Beat(t.Context(), "watchdog"); err != nil {
			t.Fatal(err)
		}
		if status, _, p := call(t, cl.http, http.MethodPost, b.api+launch.AlertmanagerPath, alertmanagerToken, "application/json", []byte(watchdog)); status != http.StatusOK {
			t.Fatalf("Alertmanager's Watchdog: %d %+v", status, p)
		}
	}
	beat()
	testkit.Eventually(t, 30*time.Second, "the beat on every node", func() bool {
		for _, n := range cl.nodes {
			if v := watchView(t, n); len(v.Heartbeats) != 1 || v.Heartbeats[0].LastBeat == nil {
				return false
			}
		}
		return true
	})
	// Nobody paged while beats come: 20 s of beats every 2 s, longer
	// than every + grace.
	for range 10 {
		beat()
		time.Sleep(2 * time.Second) // the beats' pace, as a cron job's
	}
	if got := cl.s.smsArrivals("watchdog"); len(got) != 0 {
		t.Fatalf("paged while beating: %v", got)
	}
	stopped := time.Now()
	testkit.Eventually(t, 60*time.Second, "everyone paged", func() bool {
		return len(perRecipient(cl.s.smsArrivals("[장애] 하트비트 watchdog"))) == 2
	})
	t.Logf("paged %s after the last beat (every 10s, grace 5s)", time.Since(stopped).Round(time.Second))
	beat()
	testkit.Eventually(t, 60*time.Second, "everyone told", func() bool {
		return len(perRecipient(cl.s.smsArrivals("[복구] 하트비트 watchdog"))) == 2
	})
	for _, marker := range []string{"[장애] 하트비트 watchdog", "[복구] 하트비트 watchdog"} {
		for to, n := range perRecipient(cl.s.smsArrivals(marker)) {
			if n != 1 {
				t.Errorf("%s: %s got %d SMS, want 1", marker, to, n)
			}
		}
	}
	testkit.EventuallyNil(t, 30*time.Second, func() error {
		if v := watchView(t, cl.nodes[2]); v.Heartbeats[0].Down || v.Heartbeats[0].Incident != "watch-heartbeat-watchdog-1" {
			return fmt.Errorf("heartbeat on node-c %+v", v.Heartbeats[0])
		}
		return nil
	})
}

// siteDarkRoster has an admin, p00000, and a responder.
const siteDarkRoster = `people:
  - {id: p00000, phone: "+821000000000", channels: [sms], roles: [admin]}
  - {id: p00001, phone: "+821000000001", channels: [sms]}
groups:
  - {id: all, members: [p00000, p00001]}
`

// SIGKILL node-c: after site_dark.after, the admin is paged once by the
// majority; it comes back and the admin is told once. Then node-c is cut
// off from the others by a partition: the majority pages about it again,
// and node-c, seeing itself cut off, says so and pages nobody.
func TestSiteDarkAcrossRelayServe(t *testing.T) {
	cut := filepath.Join(t.TempDir(), "cut")
	cl := startCluster(t, clusterSpec{nodes: 3, roster: siteDarkRoster, sites: watchSites,
		extra: "watch:\n  site_dark:\n    after: 10s\n",
		env: func(i int) []string {
			if i == 2 {
				return []string{launch.PartitionFileEnv + "=" + cut}
			}
			return nil
		}})
	a, c := cl.nodes[0], cl.nodes[2]
	killed := time.Now()
	cl.kill(2)
	testkit.Eventually(t, 90*time.Second, "the admin paged", func() bool {
		return len(cl.s.smsArrivals("[장애] node-c (tokyo) 연결 불가")) > 0
	})
	page := cl.s.smsArrivals("[장애] node-c (tokyo) 연결 불가")[0]
	t.Logf("admin paged %s after node-c was killed (after: 10s)", page.at.Sub(killed).Round(time.Second))
	if page.to != "+821000000000" {
		t.Errorf("paged %s, want the admin", page.to)
	}
	cl.start(2)
	testkit.Eventually(t, 60*time.Second, "the admin told", func() bool {
		return len(cl.s.smsArrivals("[복구] node-c (tokyo) 복귀")) > 0
	})

	// The partition: node-c loses every packet it sends.
	if err := os.WriteFile(cut, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	testkit.EventuallyNil(t, 60*time.Second, func() error {
		cv, err := c.c.Cluster(t.Context())
		if err != nil {
			return err
		}
		if !cv.Isolated {
			return fmt.Errorf("node-c does not see itself cut off")
		}
		return nil
	})
	testkit.Eventually(t, 90*time.Second, "the admin paged again", func() bool {
		return len(cl.s.smsArrivals("[장애] node-c (tokyo) 연결 불가")) > 1
	})
	// node-c has seen node-a and node-b dead longer than after: it still
	// pages nobody.
	testkit.EventuallyNil(t, 60*time.Second, func() error {
		v := watchView(t, c)
		if !v.Isolated {
			return fmt.Errorf("node-c's watch view is not isolated")
		}
		for _, m := range v.Members {
			if m.Name != "node-a" {
				continue
			}
			for _, x := range m.Views {
				if x.Node == "node-c" && !x.Up && time.Since(x.Since) > 15*time.Second {
					return nil
				}
			}
		}
		return fmt.Errorf("node-c has not seen node-a dead for 15 s")
	})
	for _, marker := range []string{"node-a (seoul)", "node-b (busan)"} {
		if got := cl.s.smsArrivals(marker); len(got) != 0 {
			t.Errorf("the cut-off node paged: %v", got)
		}
	}
	if cv, err := a.c.Cluster(t.Context()); err != nil || cv.Isolated {
		t.Errorf("node-a: %+v %v", cv, err)
	}
	for to, n := range perRecipient(cl.s.smsArrivals("[장애] node-c")) {
		if to != "+821000000000" || n != 2 {
			t.Errorf("%s got %d pages about node-c, want the admin 2 (one per outage)", to, n)
		}
	}
}
