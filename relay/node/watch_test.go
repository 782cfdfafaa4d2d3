package node_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hashicorp/memberlist"

	"github.com/oob-relay/relay/internal/testkit"
	"github.com/oob-relay/relay/relay"
	"github.com/oob-relay/relay/relay/cluster"
	"github.com/oob-relay/relay/relay/delivery"
	"github.com/oob-relay/relay/relay/node"
	"github.com/oob-relay/relay/relay/watch"
)

// watchRoster is kim and lee of ops, and park, an admin.
var watchRoster = &relay.Roster{
	People: []relay.Person{
		{ID: "kim", Name: "김민수", Phone: "+821011110001"},
		{ID: "lee", Name: "이서연", Phone: "+821011110002"},
		{ID: "park", Name: "박지훈", Phone: "+821011110003", Roles: []string{relay.PersonAdmin}},
	},
	Groups: []relay.Group{{ID: "ops", Members: []string{"kim", "lee"}}},
}

// target is an HTTP server that answers 200 or 503.
type target struct {
	*httptest.Server
	down atomic.Bool
}

func newTarget(t *testing.T) *target {
	tg := &target{}
	tg.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if tg.down.Load() {
			w.WriteHeader(http.StatusServiceUnavailable)
		}
	}))
	t.Cleanup(tg.Close)
	return tg
}

// refuse is a dialer whose network is broken while broken is set.
type refuse struct{ broken atomic.Bool }

func (r *refuse) dial(ctx context.Context, network, address string) (net.Conn, error) {
	if r.broken.Load() {
		return nil, &net.OpError{Op: "dial", Net: network, Err: errors.New("network is unreachable")}
	}
	var d net.Dialer
	return d.DialContext(ctx, network, address)
}

type watchCluster struct {
	members map[string]*member
	names   []string
	sites   map[string]string
	dials   map[string]*refuse
	counts  *deliveryCounts
	nw      *network
}

// startWatchCluster starts seoul-1, busan-1 and tokyo-1, each in its own
// site, watching w with its own dialer, behind one network that tests
// may cut.
func startWatchCluster(t *testing.T, w node.Watch) *watchCluster {
	c := &watchCluster{members: map[string]*member{}, names: []string{"seoul-1", "busan-1", "tokyo-1"},
		sites: map[string]string{"seoul-1": "seoul", "busan-1": "busan", "tokyo-1": "tokyo"},
		dials: map[string]*refuse{}, counts: newDeliveryCounts(), nw: &network{side: map[string]int{}}}
	seed := ""
	var all []*member
	for _, name := range c.names {
		d := &refuse{}
		c.dials[name] = d
		w := w
		w.Dial = d.dial
		if w.Tick == 0 {
			w.Tick = 50 * time.Millisecond
		}
		m := startMemberWith(t, name, seed, func(tr memberlist.NodeAwareTransport) memberlist.NodeAwareTransport { return c.nw.wrap(tr) }, node.Options{
			Site:      c.sites[name],
			Providers: []delivery.Provider{{Name: "sms-" + name, Channel: relay.ChannelSMS, Sender: &countingSender{node: name, by: c.counts}}},
			Deadline:  func(relay.Severity) time.Duration { return time.Minute },
			Roster:    watchRoster, Lease: 2 * time.Second, Watch: w,
		})
		if seed == "" {
			seed = m.ms.LocalAddr()
		}
		c.members[name] = m
		all = append(all, m)
	}
	settleMembership(t, all...)
	for _, m := range all {
		testkit.Eventually(t, 10*time.Second, "every site on "+m.n.Name(), func() bool {
			s, _ := m.n.Sites()
			return len(s) == 3
		})
	}
	return c
}

// owner returns the member that decides for subject while all live.
func (c *watchCluster) owner(subject string) string {
	own := cluster.NewOwnership(c.names[0], time.Second, nil)
	own.SetAlive(c.names)
	return own.Owner(&relay.Delivery{ID: "watch/" + subject})
}

// sent returns how many times person was sent the page of subject's
// outage (down, or its recovery).
func (c *watchCluster) sent(subject string, outage int, down bool, person string) int {
	id := relay.IdempotentMessageID(relay.ViaWatch, "watch", relay.WatchKey(subject, outage, down))
	got, _ := c.counts.snapshot()
	return got[relay.DeliveryID(id, relay.ChannelSMS, person)]
}

func verdictOn(m *member, subject string) (relay.WatchVerdict, bool) {
	if m.n == nil {
		return relay.WatchVerdict{}, false
	}
	v, ok, _ := m.n.Store().Verdict(subject)
	return v, ok
}

func webWatch(url string, forDown time.Duration) node.Watch {
	return node.Watch{Targets: []node.WatchTarget{{Target: watch.Target{Name: "web", Kind: watch.KindHTTP, URL: url,
		Interval: time.Second, Timeout: time.Second, For: forDown, RecoverFor: forDown,
		To: []string{"group:ops"}}}}}
}

// A target that a quorum of sites sees down is paged once, to its own
// incident, and its recovery once, to the same incident.
func TestWatchedTargetDownPagesOnceAndRecovers(t *testing.T) {
	tg := newTarget(t)
	c := startWatchCluster(t, webWatch(tg.URL, 500*time.Millisecond))
	const subject = relay.SubjectTarget + "web"
	tg.down.Store(true)
	testkit.Eventually(t, 20*time.Second, "kim and lee paged", func() bool {
		return c.sent(subject, 1, true, "kim") > 0 && c.sent(subject, 1, true, "lee") > 0
	})
	for _, name := range c.names {
		testkit.Eventually(t, 10*time.Second, "the verdict on "+name, func() bool {
			v, ok := verdictOn(c.members[name], subject)
			return ok && v.Down
		})
	}
	v, _ := verdictOn(c.members["seoul-1"], subject)
	if v.Incident != "watch-target-web-1" || v.Outage != 1 || len(v.Sites) < 2 || v.Reason != "status 503" {
		t.Errorf("verdict %+v", v)
	}
	m, err := c.members["seoul-1"].n.Store().Message(v.Message)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(m.Text, "[장애] web ("+tg.URL+") 응답 없음: ") || !strings.HasSuffix(m.Text, "(status 503)") || m.Incident != v.Incident {
		t.Errorf("page %q in %s", m.Text, m.Incident)
	}
	tg.down.Store(false)
	testkit.Eventually(t, 20*time.Second, "the recovery", func() bool {
		return c.sent(subject, 1, false, "kim") > 0 && c.sent(subject, 1, false, "lee") > 0
	})
	testkit.Eventually(t, 10*time.Second, "the recovery's verdict", func() bool {
		up, _ := verdictOn(c.members["seoul-1"], subject)
		return !up.Down && up.Incident == v.Incident
	})
	for _, p := range []string{"kim", "lee"} {
		if n := c.sent(subject, 1, true, p); n != 1 {
			t.Errorf("%s paged %d times", p, n)
		}
		if n := c.sent(subject, 1, false, p); n != 1 {
			t.Errorf("%s told of the recovery %d times", p, n)
		}
	}
}

// A target one site cannot reach is that site's trouble: nobody is
// paged, however long it lasts.
func TestTargetUnreachableFromOneSiteIsNoOutage(t *testing.T) {
	tg := newTarget(t)
	c := startWatchCluster(t, webWatch(tg.URL, 300*time.Millisecond))
	const subject = relay.SubjectTarget + "web"
	c.dials["busan-1"].broken.Store(true)
	// Until busan-1's own view has been down ten times For, on every node.
	for _, name := range c.names {
		testkit.Eventually(t, 20*time.Second, "busan-1's view on "+name, func() bool {
			reps, _ := c.members[name].n.Store().WatchReports(subject)
			for _, r := range reps {
				if r.Node == "busan-1" && !r.Up && time.Since(r.Since) > 3*time.Second {
					return true
				}
			}
			return false
		})
	}
	for _, name := range c.names {
		if v, ok := verdictOn(c.members[name], subject); ok {
			t.Errorf("%s has a verdict: %+v", name, v)
		}
	}
	if got, _ := c.counts.snapshot(); len(got) != 0 {
		t.Errorf("pages sent: %v", got)
	}
}

// The owner of a target stops while the quorum's For runs: a survivor
// pages, once.
func TestWatchOwnerStoppedDuringForSurvivorPagesOnce(t *testing.T) {
	tg := newTarget(t)
	c := startWatchCluster(t, webWatch(tg.URL, 2*time.Second))
	const subject = relay.SubjectTarget + "web"
	owner := c.owner(subject)
	tg.down.Store(true)
	testkit.Eventually(t, 10*time.Second, "every node sees it down", func() bool {
		reps, _ := c.members[owner].n.Store().WatchReports(subject)
		down := 0
		for _, r := range reps {
			if !r.Up {
				down++
			}
		}
		return down == 3
	})
	if _, ok := verdictOn(c.members[owner], subject); ok {
		t.Fatal("the verdict came before the owner could be stopped; For is too short for this test")
	}
	c.members[owner].stop()
	testkit.Eventually(t, 20*time.Second, "kim and lee paged", func() bool {
		return c.sent(subject, 1, true, "kim") > 0 && c.sent(subject, 1, true, "lee") > 0
	})
	for _, name := range c.names {
		if name == owner {
			continue
		}
		testkit.Eventually(t, 10*time.Second, "the verdict on "+name, func() bool {
			v, ok := verdictOn(c.members[name], subject)
			return ok && v.Down
		})
	}
	for _, p := range []string{"kim", "lee"} {
		if n := c.sent(subject, 1, true, p); n != 1 {
			t.Errorf("%s paged %d times", p, n)
		}
	}
}

// A node cut off from the others: the two that still see each other
// page the admins once about it; it sees itself cut off and pages
// nobody. The node cut off is one that owns its own subject, when one
// does, so that it tells of its own return.
func TestSiteDarkPagesOnceAndTheMinorityNobody(t *testing.T) {
	c := startWatchCluster(t, node.Watch{SiteDark: node.SiteDark{After: 500 * time.Millisecond}})
	victim := "tokyo-1"
	for _, name := range c.names {
		if c.owner(relay.SubjectNode+name) == name {
			victim = name
		}
	}
	var others, otherSites []string
	for _, name := range c.names {
		if name != victim {
			others = append(others, name)
			otherSites = append(otherSites, c.sites[name])
		}
	}
	slices.Sort(otherSites)
	cut := c.members[victim]
	c.nw.cut(cut.ms.LocalAddr(), 1)
	subject := relay.SubjectNode + victim
	testkit.Eventually(t, 30*time.Second, "park paged", func() bool { return c.sent(subject, 1, true, "park") > 0 })
	testkit.Eventually(t, 10*time.Second, victim+" sees itself cut off", func() bool { return cut.n.Isolation().Isolated })
	for _, name := range others {
		testkit.Eventually(t, 10*time.Second, "the verdict on "+name, func() bool {
			v, ok := verdictOn(c.members[name], subject)
			return ok && v.Down
		})
		if c.members[name].n.Isolation().Isolated {
			t.Errorf("%s says it is cut off", name)
		}
	}
	v, _ := verdictOn(c.members[others[0]], subject)
	m, err := c.members[others[0]].n.Store().Message(v.Message)
	if err != nil {
		t.Fatal(err)
	}
	if want := "[장애] " + victim + " (" + c.sites[victim] + ") 연결 불가: " + strings.Join(otherSites, ", ") + "에서 "; !strings.HasPrefix(m.Text, want) {
		t.Errorf("page %q, want it to start %q", m.Text, want)
	}
	// The cut-off node has seen the others dead for long enough: it
	// pages nobody.
	testkit.Eventually(t, 10*time.Second, victim+"'s views", func() bool {
		reps, _ := cut.n.Store().WatchReports(relay.SubjectNode + others[0])
		for _, r := range reps {
			if r.Node == victim && !r.Up && time.Since(r.Since) > 2*time.Second {
				return true
			}
		}
		return false
	})
	for _, s := range others {
		if v, ok := verdictOn(cut, relay.SubjectNode+s); ok {
			t.Errorf("the cut-off node decided on %s: %+v", s, v)
		}
	}
	c.nw.heal()
	testkit.Eventually(t, 30*time.Second, "park told it is back", func() bool { return c.sent(subject, 1, false, "park") > 0 })
	if n := c.sent(subject, 1, true, "park"); n != 1 {
		t.Errorf("park paged %d times", n)
	}
	got, _ := c.counts.snapshot()
	for id, n := range got {
		if !strings.Contains(id, "park") || n != 1 {
			t.Errorf("delivery %s sent %d times, by %v", id, n, c.counts.senders(id))
		}
	}
	if len(got) != 2 {
		t.Errorf("deliveries %v, want the page and the recovery to park", got)
	}
}

// A heartbeat that stops is paged once; when it beats again, once more.
func TestHeartbeatStopsAndResumes(t *testing.T) {
	// Beats written on one node reach the owner by replication: the
	// grace leaves room for a loaded machine's lag.
	c := startWatchCluster(t, node.Watch{Heartbeats: []node.Heartbeat{{Name: "watchdog", Every: 2 * time.Second,
		Grace: 3 * time.Second, To: []string{"group:ops"}}}})
	const subject = relay.SubjectHeartbeat + "watchdog"
	seoul := c.members["seoul-1"].n
	if err := seoul.Beat(t.Context(), "nope", "cron"); !errors.Is(err, relay.ErrNotFound) {
		t.Errorf("a beat of an unknown heartbeat: %v", err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	beating := make(chan struct{})
	go func() {
		defer close(beating)
		for i := 0; ctx.Err() == nil; i++ {
			c.members[c.names[i%3]].n.Beat(ctx, "watchdog", "cron")
			select {
			case <-time.After(100 * time.Millisecond):
			case <-ctx.Done():
			}
		}
	}()
	// While it beats, through every node in turn, nobody is paged.
	testkit.Eventually(t, 10*time.Second, "beats on every node", func() bool {
		for _, name := range c.names {
			if at, _ := c.members[name].n.Store().LastBeat("watchdog"); at.IsZero() {
				return false
			}
		}
		return true
	})
	time.Sleep(6 * time.Second) // beats keep coming for longer than every+grace
	cancel()
	<-beating
	if v, ok := verdictOn(c.members["seoul-1"], subject); ok {
		t.Fatalf("paged while beating: %+v", v)
	}
	testkit.Eventually(t, 20*time.Second, "kim and lee paged", func() bool {
		return c.sent(subject, 1, true, "kim") > 0 && c.sent(subject, 1, true, "lee") > 0
	})
	if err := seoul.Beat(t.Context(), "watchdog", "cron"); err != nil {
		t.Fatal(err)
	}
	testkit.Eventually(t, 20*time.Second, "the recovery", func() bool {
		return c.sent(subject, 1, false, "kim") > 0 && c.sent(subject, 1, false, "lee") > 0
	})
	for _, p := range []string{"kim", "lee"} {
		if n, r := c.sent(subject, 1, true, p), c.sent(subject, 1, false, p); n != 1 || r != 1 {
			t.Errorf("%s paged %d times, told of the recovery %d times", p, n, r)
		}
	}
	// The owner posts the recovery, then records the verdict: seoul
	// says so once the verdict has reached it.
	testkit.EventuallyNil(t, 10*time.Second, func() error {
		st, err := seoul.WatchStatus()
		if err != nil {
			return err
		}
		if len(st.Heartbeats) != 1 || st.Heartbeats[0].Down || st.Heartbeats[0].Incident != "watch-heartbeat-watchdog-1" {
			return fmt.Errorf("status %+v", st.Heartbeats)
		}
		return nil
	})
}
