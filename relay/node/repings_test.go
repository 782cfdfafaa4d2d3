package node_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/oob-relay/relay/internal/testkit"
	"github.com/oob-relay/relay/relay"
	"github.com/oob-relay/relay/relay/delivery"
	"github.com/oob-relay/relay/relay/node"
)

// TestRepingsSurviveTheirOwner runs a roll-call's re-pings on three
// members sharing a test clock: round 1 goes by email to the people who
// have not answered, once, posted by one member; that member dies, and
// round 2 goes by SMS from a survivor, once; asking every survivor to
// send the due rounds again sends nothing more.
func TestRepingsSurviveTheirOwner(t *testing.T) {
	clock := testkit.NewClock(time.Now())
	counts := newDeliveryCounts()
	roster := &relay.Roster{}
	for i := range 5 {
		roster.People = append(roster.People, relay.Person{ID: fmt.Sprintf("p%d", i), Phone: fmt.Sprintf("+8210%08d", i),
			Email: fmt.Sprintf("p%d@example.com", i)})
	}
	start := func(name, seed string) *member {
		return startMemberWith(t, name, seed, nil, node.Options{
			Providers: []delivery.Provider{
				{Name: "sms-" + name, Channel: relay.ChannelSMS, Sender: &countingSender{node: name, by: counts}},
				{Name: "email-" + name, Channel: relay.ChannelEmail, Sender: &countingSender{node: name, by: counts}},
			},
			Deadline: func(relay.Severity) time.Duration { return time.Hour },
			Roster:   roster,
			Lease:    2 * time.Second,
			Now:      clock.Now,
		})
	}
	a := start("node-a", "")
	ms := map[string]*member{"node-a": a, "node-b": start("node-b", a.ms.LocalAddr()), "node-c": start("node-c", a.ms.LocalAddr())}
	settleMembership(t, ms["node-a"], ms["node-b"], ms["node-c"])

	st, err := a.n.StartRollCall(t.Context(), &relay.RollCallStart{Incident: "fire", Question: "안전하면 1",
		Options: []relay.RollCallOption{{Digit: 1, Label: "안전"}, {Digit: 2, Label: "도움 필요"}},
		To:      []string{"everyone"}, Reping: "1m", Until: "10m"}, node.Author{Name: "bot", Via: relay.ViaAPI}, "")
	if err != nil {
		t.Fatal(err)
	}
	rc := st.RollCall
	testkit.Eventually(t, 10*time.Second, "the roll-call on every member", func() bool {
		for _, m := range ms {
			if _, err := m.n.Store().RollCall(rc.ID); err != nil {
				return false
			}
		}
		return true
	})
	if _, err := ms["node-b"].n.AnswerRollCall(t.Context(), rc.ID, "p0", 1, relay.ChannelAPI, "bot"); err != nil {
		t.Fatal(err)
	}
	testkit.Eventually(t, 10*time.Second, "the answer on every member", func() bool {
		for _, m := range ms {
			if _, err := m.n.Store().RollCallAnswer(rc.ID, "p0"); err != nil {
				return false
			}
		}
		return true
	})

	round := func(r int, channel string, live []*member) string {
		t.Helper()
		id := relay.IdempotentMessageID(relay.ViaRollCall, "bot", fmt.Sprintf("rollcall:%s:reping:%d:%s", rc.ID, r, channel))
		for _, m := range live {
			if _, err := m.n.SendRepings(t.Context()); err != nil {
				t.Fatal(err)
			}
		}
		var msg *relay.Message
		testkit.Eventually(t, 10*time.Second, fmt.Sprintf("round %d by %s sent to the silent", r, channel), func() bool {
			if msg, err = live[0].n.Store().Message(id); err != nil {
				return false
			}
			sent, _ := counts.snapshot()
			for i := 1; i < 5; i++ {
				if sent[relay.DeliveryID(id, channel, fmt.Sprintf("p%d", i))] == 0 {
					return false
				}
			}
			return true
		})
		if len(msg.Recipients) != 4 || msg.Recipients[0].Person.ID != "p1" {
			t.Errorf("round %d asks %+v; want p1-p4, who did not answer", r, msg.Recipients)
		}
		if msg.RollCall != rc.ID {
			t.Errorf("round %d is marked as a question of roll-call %q, want %q", r, msg.RollCall, rc.ID)
		}
		for _, m := range live { // again: nothing more
			if n, err := m.n.SendRepings(t.Context()); err != nil || n != 0 {
				t.Errorf("%s sent %d more messages of round %d (%v)", m.n.Name(), n, r, err)
			}
		}
		sent, _ := counts.snapshot()
		for i := range 5 {
			d := relay.DeliveryID(id, channel, fmt.Sprintf("p%d", i))
			if want := min(i, 1); sent[d] != want {
				t.Errorf("round %d reached p%d %d times by %s, want %d", r, i, sent[d], channel, want)
			}
		}
		return msg.AcceptedBy
	}

	clock.Add(time.Minute)
	owner := round(1, relay.ChannelEmail, []*member{ms["node-a"], ms["node-b"], ms["node-c"]})
	ms[owner].stop()
	var live []*member
	for name, m := range ms {
		if name != owner {
			live = append(live, m)
		}
	}
	testkit.Eventually(t, 10*time.Second, "the survivors see "+owner+" gone", func() bool {
		return len(live[0].ms.Alive()) == 2 && len(live[1].ms.Alive()) == 2
	})
	for _, m := range live {
		m.n.MembershipChanged()
	}
	clock.Add(time.Minute)
	if by := round(2, relay.ChannelSMS, live); by == owner {
		t.Errorf("round 2 was posted by %s, which is dead", by)
	}
}
