package main

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/oob-relay/relay/channels/twilio"
	"github.com/oob-relay/relay/channels/twilio/emulator"
	"github.com/oob-relay/relay/internal/testkit"
	"github.com/oob-relay/relay/relay"
	"github.com/oob-relay/relay/relay/api"
	"github.com/oob-relay/relay/relay/cluster"
)

// TestAutoRespondingPhonesStopAnsweringEachOther runs three relay serve
// processes with the production reply limits, and an incident whose
// audience has three phones that answer every SMS by themselves, as the
// Twilio emulator's auto-responders do through the signed messaging
// webhook of the node that texted them: one in Korean driving mode, which
// relay knows, and two with texts of their own, which it does not. Each
// posted answer reaches the other phones, which answer again. The loop
// stops after a few messages: the driving-mode answers and the repeated
// texts are recorded in the incident and sent to nobody, and relay never
// answers an auto-responder. A fourth person's phone is quiet.
func TestAutoRespondingPhonesStopAnsweringEachOther(t *testing.T) {
	testkit.NoLeaks(t)
	const people = 4
	cl := startCluster(t, clusterSpec{nodes: 3, people: people, replies: true})
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	emu := cl.s.emu
	for _, n := range cl.nodes {
		emu.SetMessagingWebhook(n.smsFrom, n.api+twilio.InboundSMSPath, "")
	}
	auto := map[int]string{
		0: "운전 중입니다. 나중에 연락드리겠습니다.",
		1: "Back Monday - Lee",
		2: "Landing at 18:00, will read everything then",
	}
	for i, text := range auto {
		emu.AutoRespond(phone(i), text)
	}
	for _, i := range []int{1, 2} {
		if relay.AutomaticText(auto[i]) {
			t.Fatalf("%q is known as automatic; the test needs texts relay does not know", auto[i])
		}
	}

	const incident = "idc-fire"
	if _, err := cl.nodes[0].c.Post(ctx, &relay.Post{Incident: incident, Text: "판교 데이터센터 화재: 이 채널로 연락하세요",
		To: []string{"group:all"}, Severity: relay.SeverityCritical}, ""); err != nil {
		t.Fatal(err)
	}

	// Quiet: the emulator has nothing under way, no node has a delivery
	// of the incident left to make, every node holds the same timeline,
	// and nothing changed while that was read. A loop that went on would
	// never be quiet.
	var views []*api.IncidentView
	testkit.Eventually(t, 2*time.Minute, "the phones and the cluster quiet", func() bool {
		before := len(emu.Messages()) + len(emu.AutoResponses())
		if !emu.Idle() {
			return false
		}
		views = views[:0]
		for _, n := range cl.nodes {
			v, err := n.c.Incident(ctx, incident)
			if err != nil || !timelineSettled(v) {
				return false
			}
			views = append(views, v)
		}
		for _, v := range views[1:] {
			if len(v.Timeline) != len(views[0].Timeline) {
				return false
			}
		}
		return emu.Idle() && len(emu.Messages())+len(emu.AutoResponses()) == before
	})

	v := views[0]
	posted, withheld := map[string]int{}, map[string][]relay.Withheld{}
	for _, e := range v.Timeline[1:] {
		if e.Withheld == "" {
			posted[e.Author]++
		} else {
			withheld[e.Author] = append(withheld[e.Author], e.Withheld)
		}
	}
	sms, answers := 0, 0
	for _, m := range emu.Messages() {
		switch m.Direction {
		case emulator.DirectionAPI:
			sms++
		case emulator.DirectionReply:
			answers++
			t.Errorf("relay answered an auto-responder at %s: %q", m.To, m.Body)
		}
	}
	responses := emu.AutoResponses()
	t.Logf("quiet after %d SMS from relay, %d answers from the phones; posted %v, withheld %v", sms, len(responses), posted, withheld)

	// The driving-mode phone posted nothing; each of the others posted
	// its text once (twice at most, when its answers to two messages
	// reached two nodes at the same moment), and everything else it sent
	// was a repeat.
	if posted[personID(0)] != 0 || len(withheld[personID(0)]) == 0 ||
		slices.ContainsFunc(withheld[personID(0)], func(w relay.Withheld) bool { return w != relay.WithheldAutomatic }) {
		t.Errorf("the driving-mode phone: posted %d, withheld %v; want every answer withheld as automatic",
			posted[personID(0)], withheld[personID(0)])
	}
	for _, i := range []int{1, 2} {
		p := personID(i)
		// It got the alert and the other auto-responder's text at
		// least, so it answered twice or more.
		if posted[p] < 1 || posted[p] > 2 || posted[p]+len(withheld[p]) < 2 ||
			slices.ContainsFunc(withheld[p], func(w relay.Withheld) bool { return w != relay.WithheldRepeat }) {
			t.Errorf("auto-responder %d: posted %d, withheld %v; want its text posted once (twice at most) and the rest withheld as repeats", i, posted[p], withheld[p])
		}
	}
	if posted[personID(3)] != 0 || len(withheld[personID(3)]) != 0 {
		t.Errorf("the quiet phone has replies in the timeline")
	}
	// The bound: the alert to four, and each posted answer to the three
	// others.
	if limit := people + 4*(people-1); sms > limit {
		t.Errorf("relay sent %d SMS, want at most %d", sms, limit)
	}
	if len(responses) > 12 {
		t.Errorf("the phones answered %d times", len(responses))
	}
	for _, r := range responses {
		if r.Status != http.StatusOK || r.Err != "" {
			t.Errorf("an auto-responder's message was not taken: %+v", r)
		}
	}
	// Every node counts what it withheld; together, every withheld entry.
	counted, hooked := 0.0, 0.0
	for i := range cl.nodes {
		m := cl.metrics(i)
		counted += sum(m, "relay_inbound_automatic_total")
		hooked += m[`relay_webhook_handled_total{kind="sms",outcome="withheld"}`]
	}
	all := 0
	for _, w := range withheld {
		all += len(w)
	}
	if counted != float64(all) || hooked != float64(all) {
		t.Errorf("the nodes count %v automatic replies and %v withheld webhooks, the timeline holds %d", counted, hooked, all)
	}
}

// timelineSettled reports whether no message of the incident has a
// delivery pending or being sent.
func timelineSettled(v *api.IncidentView) bool {
	for _, e := range v.Timeline {
		if e.Summary[relay.StatusPending]+e.Summary[relay.StatusSending] > 0 {
			return false
		}
	}
	return true
}

// TestHeldRepliesAreSentOnBySurvivors has a person answer faster than
// inbound.replies allows, through a different relay serve process each
// time: the cluster counts them together, holds the last two on every
// node, and when the window ends sends them on in one summary, although
// the node that owned the summary was killed before.
func TestHeldRepliesAreSentOnBySurvivors(t *testing.T) {
	testkit.NoLeaks(t)
	const people = 4
	cl := startCluster(t, clusterSpec{nodes: 3, people: people, replies: true,
		inbound: []string{"replies: {per_person: 2, window: 20s}"}})
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	const incident, alert = "idc-fire", "판교 데이터센터 화재"
	if _, err := cl.nodes[0].c.Post(ctx, &relay.Post{Incident: incident, Text: alert, To: []string{"group:all"},
		Severity: relay.SeverityCritical}, ""); err != nil {
		t.Fatal(err)
	}
	testkit.Eventually(t, 30*time.Second, "the alert by SMS to everyone", func() bool {
		return len(perRecipient(cl.s.smsArrivals(alert))) == people
	})
	relayNumber := smsTo(cl, alert)[phone(1)].From

	// Person 1 answers four times, through A, B, C and A; each answer is
	// on every node before the next.
	var ids []string
	for i, n := range []*clusterNode{cl.nodes[0], cl.nodes[1], cl.nodes[2], cl.nodes[0]} {
		text := fmt.Sprintf("%d층 확인 완료", i+2)
		status, answer := cl.deliver(t, ctx, n, incomingSMS(t, n, phone(1), relayNumber, text))
		if status != http.StatusOK {
			t.Fatalf("reply %d through %s: HTTP %d", i+1, n.name, status)
		}
		switch {
		case i < 2 && answer != "":
			t.Errorf("reply %d was answered %q", i+1, answer)
		case i == 2 && !strings.Contains(answer, "모아 두었다가"):
			t.Errorf("the first held reply was answered %q, want the notice that replies are held", answer)
		case i == 3 && answer != "":
			t.Errorf("the second held reply was answered %q; the notice goes once", answer)
		}
		var e api.TimelineEntry
		for _, m := range cl.nodes {
			testkit.Eventually(t, 10*time.Second, fmt.Sprintf("reply %d on %s", i+1, m.name), func() bool {
				v, err := m.c.Incident(ctx, incident)
				if err != nil {
					return false
				}
				k := slices.IndexFunc(v.Timeline, func(e api.TimelineEntry) bool { return strings.HasSuffix(e.Text, text) })
				if k >= 0 {
					e = v.Timeline[k]
				}
				return k >= 0
			})
		}
		if held := e.Withheld == relay.WithheldHeld; held != (i >= 2) {
			t.Fatalf("reply %d is withheld %q", i+1, e.Withheld)
		}
		ids = append(ids, e.Message)
	}

	// Kill the node that owns the summary before the window ends.
	id := relay.SummaryID(personID(1), ids[2])
	own := cluster.NewOwnership(cl.nodes[0].name, time.Second, nil)
	own.SetAlive([]string{cl.nodes[0].name, cl.nodes[1].name, cl.nodes[2].name})
	owner := slices.IndexFunc(cl.nodes, func(n *clusterNode) bool { return n.name == own.Owner(&relay.Delivery{ID: id}) })
	cl.kill(owner)

	const marker = "직원 1 님이 지난 20초 동안 답장 2건을 더 보냈습니다:\n1) 4층 확인 완료\n2) 5층 확인 완료"
	var survivors []int
	for i := range cl.nodes {
		if i != owner {
			survivors = append(survivors, i)
		}
	}
	for _, i := range survivors {
		n := cl.nodes[i]
		testkit.Eventually(t, time.Minute, "the summary on "+n.name, func() bool {
			m, err := n.c.Message(ctx, id)
			return err == nil && m.Settled
		})
	}
	m, err := cl.nodes[survivors[0]].c.Message(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if m.Text != marker || m.Author != personID(1) || m.AcceptedBy == cl.nodes[owner].name {
		t.Errorf("summary %q by %s, accepted by %s (the owner killed was %s)", m.Text, m.Author, m.AcceptedBy, cl.nodes[owner].name)
	}
	v, err := cl.nodes[survivors[0]].c.Incident(ctx, incident)
	if err != nil {
		t.Fatal(err)
	}
	summaries := 0
	for _, e := range v.Timeline {
		if len(e.Summarises) > 0 {
			summaries++
			if !slices.Equal(e.Summarises, ids[2:]) {
				t.Errorf("the summary sends on %v, want %v", e.Summarises, ids[2:])
			}
		}
	}
	if summaries != 1 {
		t.Errorf("the timeline holds %d summaries, want 1", summaries)
	}
	got := perRecipient(cl.s.smsArrivals(marker))
	for i := range people {
		if want := map[bool]int{true: 0, false: 1}[i == 1]; got[phone(i)] != want {
			t.Errorf("person %d got the summary %d times by SMS, want %d", i, got[phone(i)], want)
		}
	}
	sent := 0.0
	for _, i := range survivors {
		sent += sum(cl.metrics(i), "relay_inbound_summaries_total")
	}
	if sent != 1 {
		t.Errorf("the survivors count %v summaries sent, want 1", sent)
	}
}
