package node_test

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/oob-relay/relay/channels/twilio"
	"github.com/oob-relay/relay/channels/twilio/emulator"
	"github.com/oob-relay/relay/internal/testkit"
	"github.com/oob-relay/relay/relay"
	"github.com/oob-relay/relay/relay/drill"
	"github.com/oob-relay/relay/relay/node"
)

var (
	surnames = []string{"김", "이", "박", "최", "정", "강", "조", "윤", "장", "임"}
	givens   = []string{"민수", "서연", "지훈", "하은", "도윤", "수아", "예준", "지우", "시우", "서윤"}
)

// A drill to 500 people through two emulated Twilio accounts, the first
// slow, with invalid numbers, people who sent STOP, receipts that never
// come, people with no phone, and people who answer: the report's
// numbers are what the emulators recorded.
func TestDrillReportMatchesTheEmulator(t *testing.T) {
	const total = 500
	var ps []relay.Person
	for i := range total {
		p := relay.Person{ID: fmt.Sprintf("p%03d", i), Name: surnames[i%10] + givens[(i/10)%10], Phone: fmt.Sprintf("+8210%08d", i)}
		if i >= total-5 {
			p.Phone, p.Email = "", p.ID+"@example.com" // no contact method the drill uses
		}
		ps = append(ps, p)
	}
	r := startRig(t, rigOptions{People: ps, Deadline: time.Hour})
	a, b := r.a().em, r.b().em
	phone := func(i int) string { return ps[i].Phone }
	for i := range 20 {
		a.RejectNumber(phone(i), 21211)
		b.RejectNumber(phone(i), 21211)
	}
	for i := 20; i < 30; i++ {
		a.RejectNumber(phone(i), 21610)
		b.RejectNumber(phone(i), 21610)
	}
	lost := map[string]bool{}
	for i := 30; i < 45; i++ {
		a.LoseCallbacks(phone(i))
		b.LoseCallbacks(phone(i))
		lost[phone(i)] = true
	}
	a.SlowNext(100, 100*time.Millisecond)

	st, err := r.node.StartDrill(t.Context(), &relay.DrillStart{To: []string{"everyone"}, Channels: []string{relay.ChannelSMS},
		Text: "정기 비상 연락 훈련입니다. 받으셨으면 답해 주세요."}, node.Author{Name: "ops"}, "")
	if err != nil {
		t.Fatal(err)
	}
	d := st.Drill
	if len(st.Message.Recipients) != total-5 || len(st.Message.Unreachable) != 5 {
		t.Fatalf("%d recipients and %d unreachable", len(st.Message.Recipients), len(st.Message.Unreachable))
	}
	// Every delivery settles, and every receipt the emulators posted is
	// recorded.
	testkit.EventuallyNil(t, 60*time.Second, func() error {
		ds, err := r.node.Store().Deliveries(d.Message)
		if err != nil {
			return err
		}
		open := 0
		for _, dl := range ds {
			if !dl.Status.Settled() {
				open++
			}
		}
		delivered := 0
		for _, dl := range ds {
			if dl.Status == relay.StatusDelivered {
				delivered++
			}
		}
		want := 0
		for _, em := range []*emulator.Emulator{a, b} {
			for _, m := range em.Messages() {
				if m.Status == "delivered" && m.Callbacks > 0 {
					want++
				}
			}
		}
		if open > 0 || delivered < want || want < total-5-45 {
			return fmt.Errorf("%d deliveries open, %d delivered of the %d the emulators confirmed", open, delivered, want)
		}
		return nil
	})
	// 30 people answer by SMS: "1", or any text, which a drill takes as
	// an acknowledgement.
	var answered []string
	for i := 100; i < 130; i++ {
		body := "1"
		if i%2 == 1 {
			body = "받았습니다"
		}
		if _, err := a.SendInbound(t.Context(), emulator.Inbound{URL: r.publicURL + twilio.InboundSMSPath, From: phone(i), To: rigFrom, Body: body}); err != nil {
			t.Fatal(err)
		}
		answered = append(answered, ps[i].ID)
	}

	rep, err := r.node.DrillReport(d.ID, st.Message.Deadline.Add(time.Second))
	if err != nil {
		t.Fatal(err)
	}
	// What the emulators recorded, by provider.
	want := map[string]drill.Group{}
	byTo := map[string]emulator.Message{}
	for i, em := range []*emulator.Emulator{a, b} {
		name := rigAccounts[i].sms
		g := drill.Group{Name: name}
		for _, m := range em.Messages() {
			if m.Direction != emulator.DirectionAPI {
				continue
			}
			byTo[m.To] = m
			g.Deliveries++
			switch {
			case m.Status == "delivered" && !lost[m.To]:
				g.Delivered++
			default:
				g.Failed++ // its receipt never came
			}
		}
		want[name] = g
	}
	// The account tried first refused the 30 numbers it was told to: it
	// recorded no message for them, and the report counts them failed.
	first := want[rigAccounts[0].sms]
	first.Deliveries += 30
	first.Failed += 30
	want[rigAccounts[0].sms] = first
	for _, g := range rep.Providers {
		w := want[g.Name]
		if g.Deliveries != w.Deliveries || g.Delivered != w.Delivered || g.Failed != w.Failed {
			t.Errorf("provider %s: report %d deliveries, %d delivered, %d failed; emulator %d, %d, %d",
				g.Name, g.Deliveries, g.Delivered, g.Failed, w.Deliveries, w.Delivered, w.Failed)
		}
	}
	// One node sent it all: one site, the node's.
	if len(rep.Sites) != 1 || rep.Sites[0].Name != r.node.Site() || rep.Sites[0].Deliveries != total-5 {
		t.Errorf("sites: %+v, want one, %s, with %d deliveries", rep.Sites, r.node.Site(), total-5)
	}
	for _, p := range ps[:30] {
		if _, ok := byTo[p.Phone]; ok {
			t.Errorf("the emulator accepted a message to %s, whose number it refuses", p.Phone)
		}
	}
	reached := 0
	for _, m := range byTo {
		if m.Status == "delivered" && !lost[m.To] {
			reached++
		}
	}
	wantOutcomes := map[string]int{
		drill.OutcomeInvalid: 20, drill.OutcomeStopped: 10, drill.OutcomeNoReceipt: 15, drill.OutcomeNoContact: 5,
		drill.OutcomeAcked: len(answered), drill.OutcomeReached: reached - len(answered),
	}
	for o, n := range wantOutcomes {
		if rep.Outcomes[o] != n {
			t.Errorf("outcome %s: %d people, want %d (all: %v)", o, rep.Outcomes[o], n, rep.Outcomes)
		}
	}
	if rep.Summary.People != total || rep.Reached != reached || rep.Acked != len(answered) {
		t.Errorf("summary: %d people, %d reached, %d acknowledged; want %d, %d, %d", rep.Summary.People, rep.Reached, rep.Acked,
			total, reached, len(answered))
	}
	for _, p := range rep.People {
		if slices.Contains(answered, p.ID) && (p.Outcome != drill.OutcomeAcked || p.AckChannel != relay.ChannelSMS) {
			t.Errorf("%s answered; report: %s by %q", p.ID, p.Outcome, p.AckChannel)
		}
	}
	// The answers acknowledged the drill and were posted to nobody.
	msgs, err := r.node.Store().IncidentMessages(d.Incident)
	if err != nil {
		t.Fatal(err)
	}
	if len(msgs) != 1 {
		t.Errorf("the drill's incident holds %d messages, want only the drill's", len(msgs))
	}
	// The emulators' message bodies carry the drill's mark.
	for _, m := range byTo {
		if want := relay.DrillMarker("ko") + " " + d.Incident; len(m.Body) < len(want) || m.Body[:len(want)] != want {
			t.Fatalf("SMS body %q does not start with %q", m.Body, want)
		}
	}
}
