package node_test

import (
	"context"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/oob-relay/relay/internal/testkit"
	"github.com/oob-relay/relay/relay"
	"github.com/oob-relay/relay/relay/cluster"
	"github.com/oob-relay/relay/relay/delivery"
	"github.com/oob-relay/relay/relay/node"
)

// blindView is a member's membership whose failure detector counts some
// members dead while they are alive: they are missing from Alive and
// listed dead, though frames to and from them still go.
type blindView struct {
	cluster.Membership
	mu     sync.Mutex
	hidden map[string]bool
}

func (v *blindView) hide(name string, hidden bool) {
	v.mu.Lock()
	defer v.mu.Unlock()
	v.hidden[name] = hidden
}

func (v *blindView) isHidden(name string) bool {
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.hidden[name]
}

func (v *blindView) Alive() []string {
	return slices.DeleteFunc(v.Membership.Alive(), v.isHidden)
}

func (v *blindView) Members() []cluster.Member {
	ms := v.Membership.Members()
	for i := range ms {
		if v.isHidden(ms[i].Name) {
			ms[i].State = "dead"
		}
	}
	return ms
}

// slowSender is a countingSender whose sends take a while, as a
// provider's API calls do.
type slowSender struct {
	countingSender
	delay time.Duration
}

func (s *slowSender) Send(ctx context.Context, out *relay.Outgoing) (relay.Receipt, error) {
	select {
	case <-time.After(s.delay):
	case <-ctx.Done():
		return relay.Receipt{}, relay.Temporary(relay.ReasonTimeout, ctx.Err())
	}
	return s.countingSender.Send(ctx, out)
}

// TestMemberCountedDeadWhileSendingKeepsItsDeliveries: in the middle of
// a fan-out, the failure detectors of two members count the third dead
// for a while, as they do when a busy member misses its probes, while it
// goes on sending. Its frames still come, so its deliveries, those it
// claimed and those it was about to, stay its own: every delivery is
// sent once, and all are sent.
func TestMemberCountedDeadWhileSendingKeepsItsDeliveries(t *testing.T) {
	counts := newDeliveryCounts()
	const crowd = 600
	roster := people(crowd)
	start := func(name, seed string) (*member, *blindView) {
		view := &blindView{hidden: map[string]bool{}}
		m := startMemberView(t, name, seed, nil, func(ms cluster.Membership) cluster.Membership {
			view.Membership = ms
			return view
		}, node.Options{Roster: roster, Deadline: func(relay.Severity) time.Duration { return time.Minute },
			// What is tested is that frames keep a member counted; how
			// long after the last one is a trade against failover, set
			// by the default and measured by the failover benchmarks. A
			// window that a loaded test machine's pauses do not outlast
			// keeps the test about the first.
			SpeakingFor: 3 * time.Second,
			Providers: []delivery.Provider{{Name: "sms-" + name, Channel: relay.ChannelSMS,
				Sender: &slowSender{countingSender: countingSender{node: name, by: counts}, delay: 40 * time.Millisecond}}}})
		return m, view
	}
	a, av := start("node-a", "")
	b, bv := start("node-b", a.ms.LocalAddr())
	x, _ := start("node-x", a.ms.LocalAddr())
	settleMembership(t, a, b, x)

	if _, err := a.n.Post(t.Context(), &relay.Post{Incident: "fire", Text: "대피하십시오", To: []string{"everyone"},
		Severity: relay.SeverityCritical}, node.Author{Name: "bot"}, ""); err != nil {
		t.Fatal(err)
	}
	sentBy := func(name string) int {
		_, own := counts.snapshot()
		k := 0
		for _, o := range own {
			if o == name {
				k++
			}
		}
		return k
	}
	testkit.Eventually(t, 20*time.Second, "node-x sending its share", func() bool { return sentBy("node-x") >= 20 })
	before := sentBy("node-x")
	for _, v := range []*blindView{av, bv} {
		v.hide("node-x", true)
	}
	a.n.MembershipChanged()
	b.n.MembershipChanged()
	time.Sleep(1500 * time.Millisecond)
	if sentBy("node-x") == before {
		t.Fatal("node-x sent nothing while counted dead; the test saw nothing")
	}
	for _, v := range []*blindView{av, bv} {
		v.hide("node-x", false)
	}
	a.n.MembershipChanged()
	b.n.MembershipChanged()
	testkit.Eventually(t, 60*time.Second, "every delivery sent", func() bool {
		m, _ := counts.snapshot()
		return len(m) == crowd
	})
	m, _ := counts.snapshot()
	twice := 0
	for id, k := range m {
		if k != 1 {
			twice++
			if twice <= 5 {
				t.Errorf("%s sent %d times, by %v", id, k, counts.senders(id))
			}
		}
	}
	if twice > 0 {
		t.Errorf("%d of %d deliveries sent more than once", twice, crowd)
	}
}
