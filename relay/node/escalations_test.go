package node_test

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/oob-relay/relay/internal/testkit"
	"github.com/oob-relay/relay/relay"
	"github.com/oob-relay/relay/relay/cluster"
	"github.com/oob-relay/relay/relay/delivery"
	"github.com/oob-relay/relay/relay/node"
)

// escalationRoster is kim (step 1), lee and park, the commander, with
// policy db: kim, then the group of kim and lee (so lee alone, as kim
// was notified in the round), a minute each, run twice.
var escalationRoster = &relay.Roster{
	People: []relay.Person{
		{ID: "kim", Name: "김민수", Phone: "+821011110001"},
		{ID: "lee", Name: "이서연", Phone: "+821011110002"},
		{ID: "park", Name: "박지훈", Phone: "+821011110003", Lang: "en", Roles: []string{relay.PersonCommander}},
	},
	Groups: []relay.Group{{ID: "dba", Members: []string{"kim", "lee"}}},
	Escalations: []relay.EscalationPolicy{{ID: "db", Name: "DB", Repeat: 1, Steps: []relay.EscalationStep{
		{To: []string{"person:kim"}, Wait: "1m"}, {To: []string{"group:dba"}, Wait: "1m"}}}},
}

func openEscalationNode(t *testing.T, dir string, clock *testkit.Clock) *loopNode {
	t.Helper()
	ln := &loopNode{rec: &testkit.Sender{}, reg: prometheus.NewRegistry()}
	n, err := node.Open(node.Options{
		Name: "seoul-1", DataDir: dir, Roster: escalationRoster, PublicURL: "https://relay.example.com",
		Providers: []delivery.Provider{{Name: "sms", Channel: relay.ChannelSMS, Sender: ln.rec}},
		Deadline:  func(relay.Severity) time.Duration { return time.Hour },
		Now:       clock.Now, Registerer: ln.reg, Logger: testLogger("seoul-1"),
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := n.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	ln.Node = n
	t.Cleanup(func() { n.Close(t.Context()) })
	return ln
}

func page(t *testing.T, n *node.Node) *relay.Message {
	t.Helper()
	acc, err := n.Post(t.Context(), &relay.Post{Incident: "db-down", Text: "결제 DB 응답 없음", To: []string{"escalation:db"},
		Severity: relay.SeverityCritical}, node.Author{Name: "bot"}, "")
	if err != nil {
		t.Fatal(err)
	}
	return acc.Message
}

// smsCount counts the attempts rec made of message msgID to person.
func smsCount(rec *testkit.Sender, msgID, person string) int {
	n := 0
	for _, out := range rec.Sent() {
		if out.Message.ID == msgID && out.Person != nil && out.Person.ID == person {
			n++
		}
	}
	return n
}

// steps waits until n holds want fired steps of message msgID and
// returns them.
func steps(t *testing.T, n *node.Node, msgID string, want int) []relay.Escalated {
	t.Helper()
	var got []relay.Escalated
	testkit.EventuallyNil(t, 10*time.Second, func() error {
		var err error
		if got, err = n.Store().Escalations(msgID); err != nil {
			return err
		}
		if len(got) < want {
			return fmt.Errorf("%d steps fired, want %d", len(got), want)
		}
		return nil
	})
	if len(got) != want {
		t.Fatalf("%d steps fired, want %d: %+v", len(got), want, got)
	}
	return got
}

func progress(t *testing.T, n *node.Node, msgID string) *relay.EscalationProgress {
	t.Helper()
	m, err := n.Store().Message(msgID)
	if err != nil {
		t.Fatal(err)
	}
	x, err := n.Store().Escalations(msgID)
	if err != nil {
		t.Fatal(err)
	}
	acks, err := n.Store().Acks(msgID)
	if err != nil {
		t.Fatal(err)
	}
	return relay.Progress(m, x, acks)
}

func fire(t *testing.T, n *node.Node) {
	t.Helper()
	if _, err := n.FireEscalations(t.Context()); err != nil {
		t.Fatal(err)
	}
}

// Nobody acknowledges: step 2 fires at its wait, then the steps run
// again (kim and lee notified again), through a restart, and the
// commander is told once.
func TestEscalationRunsItsStepsThenTellsTheCommanders(t *testing.T) {
	t0 := time.Now().Truncate(time.Second)
	clock := testkit.NewClock(t0)
	dir := t.TempDir()
	n := openEscalationNode(t, dir, clock)
	m := page(t, n.Node)
	received(t, n.rec, m.ID, 1)

	clock.Set(t0.Add(time.Minute - time.Millisecond))
	fire(t, n.Node)
	if x, _ := n.Store().Escalations(m.ID); len(x) != 0 {
		t.Fatalf("a step fired before its wait: %+v", x)
	}
	clock.Set(t0.Add(time.Minute))
	fire(t, n.Node)
	x := steps(t, n.Node, m.ID, 1)
	if x[0].Round != 0 || x[0].Step != 1 || !slices.Equal(x[0].Notified, []string{"lee"}) || !x[0].Due.Equal(t0.Add(time.Minute).UTC()) {
		t.Errorf("step 2 = %+v", x[0])
	}
	received(t, n.rec, m.ID, 2)
	if smsCount(n.rec, m.ID, "kim") != 1 {
		t.Error("kim was notified again in the same round")
	}

	// The node is down when round 2 is due: it resumes from its log.
	if err := n.Close(t.Context()); err != nil {
		t.Fatal(err)
	}
	clock.Set(t0.Add(2 * time.Minute))
	n = openEscalationNode(t, dir, clock)
	fire(t, n.Node)
	x = steps(t, n.Node, m.ID, 2)
	if x[1].Round != 1 || x[1].Step != 0 || len(x[1].Reopen) != 1 || x[1].Reopen[0].ID != relay.DeliveryID(m.ID, relay.ChannelSMS, "kim") {
		t.Errorf("round 2 step 1 = %+v", x[1])
	}
	testkit.Eventually(t, 10*time.Second, "kim notified again in round 2", func() bool { return smsCount(n.rec, m.ID, "kim") == 1 })

	clock.Set(t0.Add(3 * time.Minute))
	fire(t, n.Node)
	steps(t, n.Node, m.ID, 3)
	testkit.Eventually(t, 10*time.Second, "lee notified again in round 2", func() bool { return smsCount(n.rec, m.ID, "lee") == 1 })

	clock.Set(t0.Add(4 * time.Minute))
	fire(t, n.Node)
	fire(t, n.Node)
	x = steps(t, n.Node, m.ID, 4)
	if !x[3].Exhausted || x[3].Notice == "" {
		t.Fatalf("last step = %+v, want the commanders told", x[3])
	}
	notice, err := n.Store().Message(x[3].Notice)
	if err != nil {
		t.Fatal(err)
	}
	// Commanders read Korean or English: the notice carries both.
	want := "인시던트 db-down: 아무도 확인하지 않았습니다. 에스컬레이션 DB (db)의 4단계가 모두 끝났습니다. 메시지: 결제 DB 응답 없음\n" +
		"Nobody acknowledged incident db-down: escalation DB (db) ran out after 4 steps. Message: 결제 DB 응답 없음"
	if notice.Text != want || notice.Author != "escalation:db" {
		t.Errorf("notice by %s:\n%s\nwant\n%s", notice.Author, notice.Text, want)
	}
	if len(notice.Recipients) != 1 || notice.Recipients[0].Person.ID != "park" || notice.Priority != relay.PriorityHigh ||
		notice.Severity != relay.SeverityCritical || notice.Incident != "db-down" {
		t.Errorf("notice %+v, want park at high priority", notice)
	}
	received(t, n.rec, notice.ID, 1)
	pr := progress(t, n.Node, m.ID)
	if pr.Status != relay.EscalationExhausted || len(pr.Steps) != 4 || pr.Notice != notice.ID {
		t.Errorf("progress %+v", pr)
	}
	clock.Set(t0.Add(time.Hour))
	fire(t, n.Node)
	if x, _ := n.Store().Escalations(m.ID); len(x) != 4 {
		t.Errorf("%d steps after the end, want 4", len(x))
	}
	if ids, _ := n.Store().Escalating(); len(ids) != 0 {
		t.Errorf("still escalating: %v", ids)
	}
}

// An acknowledgement by SMS stops the escalation: no later step fires.
func TestEscalationStopsAtAnAcknowledgement(t *testing.T) {
	t0 := time.Now().Truncate(time.Second)
	clock := testkit.NewClock(t0)
	n := openEscalationNode(t, t.TempDir(), clock)
	m := page(t, n.Node)
	received(t, n.rec, m.ID, 1)
	clock.Set(t0.Add(time.Minute))
	fire(t, n.Node)
	steps(t, n.Node, m.ID, 1)
	received(t, n.rec, m.ID, 2)

	// Lee, added by step 2, acknowledges by SMS.
	clock.Set(t0.Add(90 * time.Second))
	ans, err := n.Receive(t.Context(), sms("+821011110002", "1", "SM-ack"))
	if err != nil {
		t.Fatal(err)
	}
	if acks, _ := n.Store().Acks(m.ID); len(acks) != 1 || acks[0].Person != "lee" {
		t.Fatalf("acks %+v after %+v", acks, ans)
	}
	clock.Set(t0.Add(10 * time.Minute))
	fire(t, n.Node)
	if x, _ := n.Store().Escalations(m.ID); len(x) != 1 {
		t.Errorf("%d steps fired after the ack, want 1", len(x))
	}
	pr := progress(t, n.Node, m.ID)
	if pr.Status != relay.EscalationAcknowledged || len(pr.Steps) != 2 || !slices.Equal(pr.Steps[1].Acknowledged, []string{"lee"}) {
		t.Errorf("progress %+v", pr)
	}
	if smsCount(n.rec, m.ID, "kim") != 1 || smsCount(n.rec, m.ID, "lee") != 1 {
		t.Error("someone was notified after the ack")
	}
}

// The node that owns an escalation dies before its step is due: a
// survivor fires it, once.
func TestEscalationStepWhoseOwnerDiesIsFiredByASurvivor(t *testing.T) {
	t0 := time.Now().Truncate(time.Second)
	clock := testkit.NewClock(t0)
	counts := newDeliveryCounts()
	members := map[string]*member{}
	seed := ""
	var all []*member
	for _, name := range []string{"node-a", "node-b", "node-c"} {
		m := startMemberWith(t, name, seed, nil, node.Options{
			Providers: []delivery.Provider{{Name: "sms-" + name, Channel: relay.ChannelSMS, Sender: &countingSender{node: name, by: counts}}},
			Deadline:  func(relay.Severity) time.Duration { return time.Hour },
			Roster:    escalationRoster, Lease: 2 * time.Second, Now: clock.Now,
		})
		if seed == "" {
			seed = m.ms.LocalAddr()
		}
		members[name] = m
		all = append(all, m)
	}
	settleMembership(t, all...)
	msg := page(t, members["node-a"].n)
	own := cluster.NewOwnership("node-a", time.Second, nil)
	own.SetAlive([]string{"node-a", "node-b", "node-c"})
	owner := own.Owner(&relay.Delivery{ID: relay.EscalationOwnerID(msg.ID)})
	var survivors []*member
	for name, m := range members {
		testkit.Eventually(t, 10*time.Second, "the message on "+name, func() bool {
			_, err := m.n.Store().Message(msg.ID)
			return err == nil
		})
		if name != owner {
			survivors = append(survivors, m)
		}
	}
	members[owner].stop()
	clock.Set(t0.Add(time.Minute))
	testkit.EventuallyNil(t, 20*time.Second, func() error {
		for _, m := range survivors {
			if _, err := m.n.FireEscalations(t.Context()); err != nil {
				return err
			}
		}
		for _, m := range survivors {
			if x, _ := m.n.Store().Escalations(msg.ID); len(x) == 0 {
				return fmt.Errorf("step 2 not on %s", m.n.Name())
			}
		}
		return nil
	})
	for _, m := range survivors {
		x := steps(t, m.n, msg.ID, 1)
		if x[0].Step != 1 || !slices.Equal(x[0].Notified, []string{"lee"}) {
			t.Errorf("%s: step %+v", m.n.Name(), x[0])
		}
	}
	lee := relay.DeliveryID(msg.ID, relay.ChannelSMS, "lee")
	testkit.Eventually(t, 20*time.Second, "lee paged", func() bool {
		got, _ := counts.snapshot()
		return got[lee] > 0
	})
	// More rounds of firing find nothing more to do.
	for _, m := range survivors {
		fire(t, m.n)
	}
	got, _ := counts.snapshot()
	if got[lee] != 1 {
		t.Errorf("lee paged %d times, want 1", got[lee])
	}
	for _, m := range survivors {
		if x, _ := m.n.Store().Escalations(msg.ID); len(x) != 1 {
			t.Errorf("%s holds %d steps, want 1", m.n.Name(), len(x))
		}
	}
}

// A reply to a message posted to an escalation policy goes to the people
// notified so far, and starts no escalation of its own.
func TestReplyToAnEscalationReachesThoseNotified(t *testing.T) {
	t0 := time.Now().Truncate(time.Second)
	clock := testkit.NewClock(t0)
	n := openEscalationNode(t, t.TempDir(), clock)
	m := page(t, n.Node)
	clock.Set(t0.Add(time.Minute))
	fire(t, n.Node)
	steps(t, n.Node, m.ID, 1)
	received(t, n.rec, m.ID, 2)

	clock.Set(t0.Add(70 * time.Second))
	ans, err := n.Receive(t.Context(), sms("+821011110001", "확인 중입니다", "SM-reply"))
	if err != nil {
		t.Fatal(err)
	}
	r := ans.Message
	if r == nil || r.Escalation != nil || len(r.Recipients) != 1 || r.Recipients[0].Person.ID != "lee" {
		t.Fatalf("reply %+v, want it sent to lee alone, escalating nothing", r)
	}
	if ids, _ := n.Store().Escalating(); !slices.Equal(ids, []string{m.ID}) {
		t.Errorf("escalating %v, want the page alone", ids)
	}
}

// A step naming a schedule pages whoever is on call when it fires, the
// overrides added through the API included.
func TestEscalationStepPagesWhoIsOnCallWhenItFires(t *testing.T) {
	t0 := time.Date(2026, 12, 2, 3, 0, 0, 0, time.UTC)
	clock := testkit.NewClock(t0)
	ros := escalationRoster.Clone()
	ros.Schedules = []relay.Schedule{{ID: "db-primary", TimeZone: "UTC",
		Layers: []relay.Layer{{Members: []string{"kim"}, Start: "2026-12-01 00:00", Shift: "daily"}}}}
	ros.Escalations = []relay.EscalationPolicy{{ID: "db", Steps: []relay.EscalationStep{
		{To: []string{"schedule:db-primary"}, Wait: "1m"}, {To: []string{"schedule:db-primary"}, Wait: "1m"}}}}
	rec := &testkit.Sender{}
	n, err := node.Open(node.Options{Name: "seoul-1", DataDir: t.TempDir(), Roster: ros,
		Providers: []delivery.Provider{{Name: "sms", Channel: relay.ChannelSMS, Sender: rec}},
		Deadline:  func(relay.Severity) time.Duration { return time.Hour }, Now: clock.Now, Logger: testLogger("seoul-1")})
	if err != nil {
		t.Fatal(err)
	}
	if err := n.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { n.Close(t.Context()) })
	// Lee covers kim from now on, through the API.
	if _, err := n.AddOverride(t.Context(), "db-primary", relay.Override{Person: "lee", Covers: "kim",
		From: "2026-12-02 03:00", To: "2026-12-02 03:01"}, "ops"); err != nil {
		t.Fatal(err)
	}
	m := page(t, n)
	if len(m.Recipients) != 1 || m.Recipients[0].Person.ID != "lee" {
		t.Fatalf("step 1 reached %+v, want lee, covering kim", m.Recipients)
	}
	// The override ends before step 2: kim is on call again.
	clock.Set(t0.Add(time.Minute))
	fire(t, n)
	x := steps(t, n, m.ID, 1)
	if !slices.Equal(x[0].Notified, []string{"kim"}) {
		t.Errorf("step 2 notified %v, want kim, on call when it fired", x[0].Notified)
	}
}
