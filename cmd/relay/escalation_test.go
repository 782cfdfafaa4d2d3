package main

import (
	"fmt"
	"maps"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/oob-relay/relay/internal/testkit"
	"github.com/oob-relay/relay/relay"
	"github.com/oob-relay/relay/relay/api"
	"github.com/oob-relay/relay/relay/cluster"
)

// escalationSpeedup runs the test policies 30 times faster than written:
// a 3m step waits 6 s.
const escalationSpeedup = 30

// escalationRoster has p00000 to p00003 paged by two policies and
// p00004, the commander, told when one runs out. Each wait is 6 s at
// the test's speed: time to acknowledge after step 2.
const escalationRoster = `people:
  - {id: p00000, phone: "+821000000000", channels: [sms]}
  - {id: p00001, phone: "+821000000001", channels: [sms]}
  - {id: p00002, phone: "+821000000002", channels: [sms]}
  - {id: p00003, phone: "+821000000003", channels: [sms]}
  - {id: p00004, phone: "+821000000004", channels: [sms], roles: [commander]}
escalations:
  - id: db
    name: DB
    steps:
      - {to: [person:p00000], wait: 3m}
      - {to: [person:p00001], wait: 3m}
  - id: web
    steps:
      - {to: [person:p00002], wait: 3m}
      - {to: [person:p00003], wait: 3m}
`

// escalationOwner returns the index of the node that owns message id's
// escalation while every node of cl is alive.
func escalationOwner(cl *testCluster, id string) int {
	own := cluster.NewOwnership(cl.nodes[0].name, time.Second, nil)
	var names []string
	for _, n := range cl.nodes {
		names = append(names, n.name)
	}
	own.SetAlive(names)
	owner := own.Owner(&relay.Delivery{ID: relay.EscalationOwnerID(id)})
	for i, n := range cl.nodes {
		if n.name == owner {
			return i
		}
	}
	cl.tb.Fatalf("no node owns %s", id)
	return -1
}

// escalationOf waits until node n shows message id's escalation with
// step (from 1) fired, and returns it.
func escalationOf(t *testing.T, n *clusterNode, id string, fired int) *relay.EscalationProgress {
	t.Helper()
	var x *relay.EscalationProgress
	testkit.EventuallyNil(t, 60*time.Second, func() error {
		v, err := n.c.Message(t.Context(), id)
		if err != nil {
			return err
		}
		x = v.Escalation
		if x == nil {
			return fmt.Errorf("message %s has no escalation", id)
		}
		got := 0
		for _, s := range x.Steps {
			if !s.FiredAt.IsZero() {
				got++
			}
		}
		if got < fired {
			return fmt.Errorf("%d steps of %s fired on %s, want %d", got, id, n.name, fired)
		}
		return nil
	})
	return x
}

// Three relay serve processes: the node that owns an escalation's timer
// is killed just before step 2 is due, a survivor fires the step, once;
// the person it pages acknowledges by SMS and the escalation stops; a
// second escalation nobody acknowledges runs out and the commander is
// told once.
func TestEscalationFailoverAcrossRelayServe(t *testing.T) {
	cl := startCluster(t, clusterSpec{nodes: 3, roster: escalationRoster, replies: true, escalationSpeedup: escalationSpeedup})
	ctx := t.Context()
	post := func(i int, incident, policy, text string) *api.Accepted {
		acc, err := cl.nodes[i].c.Post(ctx, &relay.Post{Incident: incident, Text: text, To: []string{"escalation:" + policy},
			Severity: relay.SeverityCritical}, "")
		if err != nil {
			t.Fatal(err)
		}
		return acc
	}
	a := post(0, "db-down", "db", "escalation-A 결제 DB 응답 없음")
	owner := escalationOwner(cl, a.ID)
	// The control: posted through another node, acknowledged by nobody.
	b := post((owner+1)%3, "web-down", "web", "escalation-B 웹 응답 없음")
	due := a.AcceptedAt.Add(3 * time.Minute / escalationSpeedup)

	// Step 1 went out.
	testkit.Eventually(t, 30*time.Second, "step 1 of A paged", func() bool { return len(cl.s.smsArrivals("escalation-A")) == 1 })

	// The owner dies a second before step 2 is due.
	time.Sleep(time.Until(due.Add(-time.Second))) // the moment of the failure, not a wait for a result
	cl.kill(owner)
	var survivors []*clusterNode
	var alive []int
	for i, n := range cl.nodes {
		if i != owner {
			survivors, alive = append(survivors, n), append(alive, i)
		}
	}
	x := escalationOf(t, survivors[0], a.ID, 2)
	step := x.Steps[1]
	t.Logf("step 2 due %s, fired %s after the owner %s died: %s late", step.Due.Format(time.StampMilli),
		step.FiredAt.Format(time.StampMilli), cl.nodes[owner].name, step.FiredAt.Sub(step.Due))
	if step.Notified == nil || len(step.Notified) != 1 || step.Notified[0] != "p00001" || step.FiredAt.Before(step.Due) {
		t.Fatalf("step 2 %+v", step)
	}
	testkit.Eventually(t, 30*time.Second, "step 2 of A paged p00001", func() bool {
		for _, s := range cl.s.smsArrivals("escalation-A") {
			if s.to == "+821000000001" {
				return true
			}
		}
		return false
	})

	// p00001 acknowledges by SMS (a signed Twilio webhook) through a
	// survivor: A stops.
	var from string
	for _, s := range cl.s.smsArrivals("escalation-A") {
		if s.to == "+821000000001" {
			from = s.from
		}
	}
	ack := incomingSMS(t, survivors[1], "+821000000001", from, "1")
	if status, text := cl.deliver(t, ctx, survivors[1], ack); status != http.StatusOK || !strings.Contains(text, "db-down") {
		t.Fatalf("ACK: HTTP %d, TwiML %q", status, text)
	}

	// B, posted after A, runs out (no ack): the commander is told, once.
	// A's end was due before B's; acknowledged, it does not run out.
	xb := escalationOf(t, survivors[0], b.ID, 2)
	testkit.EventuallyNil(t, 60*time.Second, func() error {
		v, err := survivors[0].c.Message(ctx, b.ID)
		if err != nil {
			return err
		}
		if xb = v.Escalation; xb.Status != relay.EscalationExhausted {
			return fmt.Errorf("B is %s", xb.Status)
		}
		return nil
	})
	testkit.Eventually(t, 30*time.Second, "the commander told of B", func() bool {
		for _, s := range cl.s.smsArrivals("escalation-B") {
			if s.to == "+821000000004" {
				return true
			}
		}
		return false
	})
	for _, n := range survivors {
		v, err := n.c.Message(ctx, a.ID)
		if err != nil {
			t.Fatal(err)
		}
		if x := v.Escalation; x.Status != relay.EscalationAcknowledged || len(x.Steps) != 2 || len(x.Steps[1].Acknowledged) != 1 || x.Notice != "" {
			t.Errorf("%s: A's escalation %+v, want acknowledged by p00001 after 2 steps", n.name, x)
		}
	}
	// Each step fired once: A's step 2, B's step 2 and B's end, on the
	// survivors (the dead owner fired nothing before it died).
	steps, ends := 0.0, 0.0
	for _, i := range alive {
		m := cl.metrics(i)
		steps += m[`relay_escalation_steps_total{kind="step"}`]
		ends += m[`relay_escalation_steps_total{kind="exhausted"}`]
	}
	if steps != 2 || ends != 1 {
		t.Errorf("survivors fired %v steps and %v ends, want 2 and 1", steps, ends)
	}
	// Everyone paged once: A's two steps, B's two steps and the
	// commander's notice, which quotes B.
	for marker, want := range map[string]map[string]int{
		"escalation-A": {"+821000000000": 1, "+821000000001": 1},
		"escalation-B": {"+821000000002": 1, "+821000000003": 1, "+821000000004": 1},
	} {
		got := map[string]int{}
		for _, s := range cl.s.smsArrivals(marker) {
			got[s.to]++
		}
		if !maps.Equal(got, want) {
			t.Errorf("SMS of %s by number %v, want %v", marker, got, want)
		}
	}
}
