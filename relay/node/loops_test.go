package node_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/oob-relay/relay/internal/testkit"
	"github.com/oob-relay/relay/relay"
	"github.com/oob-relay/relay/relay/cluster"
	"github.com/oob-relay/relay/relay/delivery"
	"github.com/oob-relay/relay/relay/node"
)

// loopRoster is kim, lee and park in the group ops; park reads English.
var loopRoster = &relay.Roster{
	People: []relay.Person{
		{ID: "kim", Name: "김민수", Phone: "+821011110001", Email: "kim@example.com"},
		{ID: "lee", Name: "이서연", Phone: "+821011110002", Email: "lee@example.com"},
		{ID: "park", Name: "박지훈", Phone: "+821011110003", Email: "park@example.com", Lang: "en"},
	},
	Groups: []relay.Group{{ID: "ops", Members: []string{"kim", "lee", "park"}}},
}

// loopNode is a node of loopRoster on dir, with the time clock tells and
// the reply limits given (zero: the defaults).
type loopNode struct {
	*node.Node
	rec *testkit.Sender
	reg *prometheus.Registry
}

func openLoopNode(t *testing.T, dir string, clock *testkit.Clock, limits relay.ReplyLimits) *loopNode {
	t.Helper()
	ln := &loopNode{rec: &testkit.Sender{ProviderID: func(out *relay.Outgoing) string { return "p-" + out.DeliveryID }},
		reg: prometheus.NewRegistry()}
	n, err := node.Open(node.Options{
		Name: "seoul-1", DataDir: dir, Roster: loopRoster, PublicURL: "https://relay.example.com",
		Providers: []delivery.Provider{{Name: "sms", Channel: relay.ChannelSMS, Sender: ln.rec}},
		Deadline:  func(relay.Severity) time.Duration { return time.Hour },
		Replies:   limits, Now: clock.Now, Registerer: ln.reg, Logger: testLogger("seoul-1"),
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := n.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	ln.Node = n
	t.Cleanup(func() { n.Close(context.Background()) })
	return ln
}

// alert posts the incident's first message to ops.
func alert(t *testing.T, n *node.Node, incident string) *relay.Message {
	t.Helper()
	acc, err := n.Post(t.Context(), &relay.Post{Incident: incident, Text: "서울 IDC 화재", To: []string{"group:ops"},
		Severity: relay.SeverityCritical}, node.Author{Name: "bot"}, "")
	if err != nil {
		t.Fatal(err)
	}
	return acc.Message
}

func sms(from, text, id string) *relay.Inbound {
	return &relay.Inbound{Channel: relay.ChannelSMS, From: from, Text: text, ID: id}
}

// withheld asserts that ans recorded a reply withheld for why: a message
// of the incident with no recipients and no deliveries.
func withheld(t *testing.T, n *node.Node, ans *relay.Answer, why relay.Withheld) {
	t.Helper()
	m := ans.Message
	if m == nil || m.Reply == nil || m.Reply.Withheld != why {
		t.Fatalf("answer %+v, want a reply recorded as %s", ans, why)
	}
	if len(m.Recipients) != 0 || len(m.Deliveries()) != 0 {
		t.Fatalf("a %s reply goes to %d people", why, len(m.Recipients))
	}
	if ds, err := n.Store().Deliveries(m.ID); err != nil || len(ds) != 0 {
		t.Fatalf("a %s reply has deliveries %v (err %v)", why, ds, err)
	}
	if _, err := n.Store().Message(m.ID); err != nil {
		t.Fatalf("a %s reply is not in the store: %v", why, err)
	}
}

func TestAutomaticRepliesAndRepeatsAreRecordedAndSentToNobody(t *testing.T) {
	clock := testkit.NewClock(time.Now())
	n := openLoopNode(t, t.TempDir(), clock, relay.ReplyLimits{})
	ctx := t.Context()
	first := alert(t, n.Node, "idc-fire")
	received(t, n.rec, first.ID, 3)

	// A phone's driving-mode answer: recorded, not posted, not answered.
	ans, err := n.Receive(ctx, sms("+821011110001", "운전 중입니다", "SM-a1"))
	if err != nil {
		t.Fatal(err)
	}
	withheld(t, n.Node, ans, relay.WithheldAutomatic)
	if ans.Reply != "" || ans.Message.Text != "김민수: 운전 중입니다" || ans.Message.Reply.Channel != relay.ChannelSMS {
		t.Errorf("automatic answer: reply %q, recorded as %q on %q", ans.Reply, ans.Message.Text, ans.Message.Reply.Channel)
	}
	// A mail the channel knows is automatic, whatever it says; not even
	// an ACK in it counts.
	for _, text := range []string{"Back on Monday.", "1"} {
		ans, err = n.Receive(ctx, &relay.Inbound{Channel: relay.ChannelEmail, From: "park@example.com", Text: text,
			ID: "ooo-" + text + "@example.com", Automatic: true})
		if err != nil {
			t.Fatal(err)
		}
		withheld(t, n.Node, ans, relay.WithheldAutomatic)
		if len(ans.Acked) != 0 || ans.Reply != "" {
			t.Errorf("an automatic %q acknowledged %v and was answered %q", text, ans.Acked, ans.Reply)
		}
	}
	if ok, _ := n.Store().Acked(first.ID, "park"); ok {
		t.Error("an out-of-office mail acknowledged the alert")
	}

	// An auto-responder relay does not know: its first answer is posted,
	// the same text again is a repeat, in any case and spacing.
	ans, err = n.Receive(ctx, sms("+821011110002", "Back Monday - Lee", "SM-b1"))
	if err != nil || ans.Message == nil || ans.Message.Reply.Withheld != "" || len(ans.Message.Recipients) != 2 {
		t.Fatalf("first answer of an unknown auto-responder: %+v, %v; want it posted to kim and park", ans, err)
	}
	clock.Add(9 * time.Minute)
	ans, err = n.Receive(ctx, sms("+821011110002", "  back monday -  Lee ", "SM-b2"))
	if err != nil {
		t.Fatal(err)
	}
	withheld(t, n.Node, ans, relay.WithheldRepeat)
	if ans.Reply != "" {
		t.Errorf("a repeat was answered %q", ans.Reply)
	}
	// Twilio retrying the first webhook gets the first answer back, not
	// a repeat.
	again, err := n.Receive(ctx, sms("+821011110002", "Back Monday - Lee", "SM-b1"))
	if err != nil || again.Message.Reply.Withheld != "" {
		t.Fatalf("a retried webhook: %+v, %v", again, err)
	}
	// Once the repeat window passed since the text last came, the same
	// words are a new reply.
	clock.Add(10 * time.Minute)
	ans, err = n.Receive(ctx, sms("+821011110002", "Back Monday - Lee", "SM-b3"))
	if err != nil || ans.Message.Reply.Withheld != "" {
		t.Fatalf("the same text after the repeat window: %+v, %v; want it posted", ans, err)
	}

	// Nothing withheld reached anyone: the sender got the alert and the
	// two posted replies alone.
	msgs, err := n.Store().IncidentMessages("idc-fire")
	if err != nil {
		t.Fatal(err)
	}
	var kinds []string
	for _, m := range msgs {
		switch {
		case m.Reply == nil:
			kinds = append(kinds, "alert")
		case m.Reply.Withheld != "":
			kinds = append(kinds, string(m.Reply.Withheld))
		default:
			kinds = append(kinds, "posted")
			received(t, n.rec, m.ID, 2)
		}
	}
	if want := []string{"alert", "automatic", "automatic", "automatic", "posted", "repeat", "posted"}; !slices.Equal(kinds, want) {
		t.Errorf("the timeline holds %v, want %v", kinds, want)
	}
	if n.rec.Count() != 3+2+2 {
		t.Errorf("%d SMS sent, want the alert's 3 and 2 for each posted reply", n.rec.Count())
	}
	for _, c := range []struct {
		channel, reason string
		want            float64
	}{{"sms", "text", 1}, {"email", "marked", 2}, {"sms", "repeat", 1}, {"sms", "marked", 0}} {
		if got := testkit.Metric(t, n.reg, "relay_inbound_automatic_total", "channel", c.channel, "reason", c.reason); got != c.want {
			t.Errorf("relay_inbound_automatic_total{channel=%q,reason=%q} = %v, want %v", c.channel, c.reason, got, c.want)
		}
	}
}

func TestAutomaticAnswersAreNeverAnsweredBack(t *testing.T) {
	clock := testkit.NewClock(time.Now())
	n := openLoopNode(t, t.TempDir(), clock, relay.ReplyLimits{})
	ctx := t.Context()
	// No incident is open: a person is told how to name one, a phone's
	// automatic answer is dropped without a word or an error, so that
	// no channel bounces it.
	ans, err := n.Receive(ctx, sms("+821011110001", "판교 도착", "SM-1"))
	if !errors.Is(err, relay.ErrNoIncident) || ans.Reply == "" {
		t.Fatalf("a person's text with no incident: %+v, %v", ans, err)
	}
	for _, in := range []*relay.Inbound{
		sms("+821011110002", "I'm driving with Driving Focus turned on. I'll see your message when I get where I'm going.", "SM-2"),
		{Channel: relay.ChannelEmail, From: "park@example.com", Text: "Out of office", Automatic: true},
	} {
		ans, err := n.Receive(ctx, in)
		if err != nil || ans.Reply != "" || ans.Message != nil {
			t.Errorf("automatic %q with no incident: %+v, %v; want nothing and no error", in.Text, ans, err)
		}
	}
	// A stranger's phone answering on its own gets no answer either.
	ans, err = n.Receive(ctx, sms("+821099990000", "운전 중입니다", "SM-3"))
	if !errors.Is(err, relay.ErrUnknownSender) || ans.Reply != "" {
		t.Errorf("an unknown auto-responder: %+v, %v; want ErrUnknownSender and no answer", ans, err)
	}
	if msgs, _ := n.Store().Incidents(); len(msgs) != 0 {
		t.Errorf("incidents %v", msgs)
	}
}

func TestRepliesOverTheLimitAreHeldThroughARestartAndSentOnInOneSummary(t *testing.T) {
	t0 := time.Now().Truncate(time.Second)
	clock := testkit.NewClock(t0)
	dir := t.TempDir()
	n := openLoopNode(t, dir, clock, relay.ReplyLimits{})
	ctx := t.Context()
	received(t, n.rec, alert(t, n.Node, "idc-fire").ID, 3)

	// Kim sends 8 replies in 8 seconds: the first 6 are posted, the last
	// 2 held until the first leaves the minute.
	var held []*relay.Message
	for i := range 8 {
		clock.Set(t0.Add(time.Duration(i+1) * time.Second))
		ans, err := n.Receive(ctx, sms("+821011110001", fmt.Sprintf("상황 %d: 2층 확인", i+1), fmt.Sprintf("SM-%d", i)))
		if err != nil {
			t.Fatal(err)
		}
		if i < 6 {
			if ans.Message.Reply.Withheld != "" || len(ans.Message.Recipients) != 2 {
				t.Fatalf("reply %d: %+v, want it posted", i+1, ans.Message.Reply)
			}
			continue
		}
		withheld(t, n.Node, ans, relay.WithheldHeld)
		if due := t0.Add(time.Second + time.Minute); !ans.Message.Reply.Due.Equal(due) {
			t.Errorf("reply %d is due %v, want %v", i+1, ans.Message.Reply.Due, due)
		}
		// Kim is told once; an auto-responder this wakes would repeat.
		if want := i == 6; (ans.Reply != "") != want {
			t.Errorf("held reply %d answered %q", i+1, ans.Reply)
		}
		held = append(held, ans.Message)
	}
	if got := testkit.Metric(t, n.reg, "relay_inbound_held_total", "channel", "sms"); got != 2 {
		t.Errorf("relay_inbound_held_total = %v, want 2", got)
	}
	// Not due yet.
	clock.Set(t0.Add(30 * time.Second))
	if sent, err := n.SendSummaries(ctx); err != nil || sent != 0 {
		t.Fatalf("SendSummaries before the window ends: %d, %v", sent, err)
	}

	// The node is down when the window ends: the held replies are in its
	// log, and its timer sends them on when it starts again.
	if err := n.Close(ctx); err != nil {
		t.Fatal(err)
	}
	clock.Set(t0.Add(time.Second + time.Minute))
	n = openLoopNode(t, dir, clock, relay.ReplyLimits{})
	var sum relay.Message
	testkit.EventuallyNil(t, 10*time.Second, func() error {
		msgs, err := n.Store().IncidentMessages("idc-fire")
		if err != nil {
			return err
		}
		if sum = msgs[len(msgs)-1]; sum.Reply == nil || sum.Reply.Summarises == nil {
			return fmt.Errorf("the last of %d messages is no summary", len(msgs))
		}
		return nil
	})
	if sent, err := n.SendSummaries(ctx); err != nil || sent != 0 {
		t.Fatalf("SendSummaries after the summary: %d, %v; want nothing more", sent, err)
	}
	if sum.Reply == nil || !slices.Equal(sum.Reply.Summarises, []string{held[0].ID, held[1].ID}) || sum.Author != "kim" {
		t.Fatalf("last message %+v, want kim's summary of both held replies", sum)
	}
	if sum.ID != relay.SummaryID("kim", held[0].ID) {
		t.Errorf("summary id %s, want relay.SummaryID's", sum.ID)
	}
	want := "김민수 님이 지난 1분 동안 답장 2건을 더 보냈습니다:\n1) 상황 7: 2층 확인\n2) 상황 8: 2층 확인"
	if sum.Text != want {
		t.Errorf("summary text\n%s\nwant\n%s", sum.Text, want)
	}
	got := received(t, n.rec, sum.ID, 2)
	if got["kim"] != nil {
		t.Error("kim got their own summary")
	}
	if v := testkit.Metric(t, n.reg, "relay_inbound_summaries_total"); v != 1 {
		t.Errorf("relay_inbound_summaries_total = %v, want 1", v)
	}

	// The window slides: a second later the earliest posted reply has
	// left it, and the next reply goes out.
	clock.Set(t0.Add(2*time.Second + time.Minute))
	ans, err := n.Receive(ctx, sms("+821011110001", "상황 9: 정리 중", "SM-9"))
	if err != nil || ans.Message.Reply.Withheld != "" {
		t.Fatalf("reply after the window: %+v, %v; want it posted", ans, err)
	}
}

func TestRepliesBeyondTheHighPriorityBudgetGoAtNormalPriority(t *testing.T) {
	clock := testkit.NewClock(time.Now())
	n := openLoopNode(t, t.TempDir(), clock, relay.ReplyLimits{HighPriority: 2})
	ctx := t.Context()
	alert(t, n.Node, "idc-fire")
	var prios []relay.Priority
	for i, from := range []string{"+821011110001", "+821011110002", "+821011110003", "+821011110001"} {
		clock.Add(time.Second)
		ans, err := n.Receive(ctx, sms(from, fmt.Sprintf("update %d", i), fmt.Sprintf("SM-%d", i)))
		if err != nil {
			t.Fatal(err)
		}
		prios = append(prios, ans.Message.Priority)
		ds, err := n.Store().Deliveries(ans.Message.ID)
		if err != nil || len(ds) == 0 || ds[0].Priority != ans.Message.Priority {
			t.Fatalf("deliveries %v (err %v) of a reply at %v", ds, err, ans.Message.Priority)
		}
	}
	if want := []relay.Priority{relay.PriorityHigh, relay.PriorityHigh, relay.PriorityNormal, relay.PriorityNormal}; !slices.Equal(prios, want) {
		t.Errorf("replies went at %v, want %v", prios, want)
	}
	// A minute on, the budget is whole again.
	clock.Add(time.Minute)
	ans, err := n.Receive(ctx, sms("+821011110002", "update 5", "SM-5"))
	if err != nil || ans.Message.Priority != relay.PriorityHigh {
		t.Fatalf("reply a minute later: %+v, %v; want high priority", ans, err)
	}
	if h, m := testkit.Metric(t, n.reg, "relay_inbound_replies_total", "priority", "high"),
		testkit.Metric(t, n.reg, "relay_inbound_replies_total", "priority", "normal"); h != 3 || m != 2 {
		t.Errorf("relay_inbound_replies_total high %v, normal %v; want 3 and 2", h, m)
	}
}

func TestReplyLimitsOutOfRangeAreRefused(t *testing.T) {
	_, err := node.Open(node.Options{Name: "seoul-1", DataDir: t.TempDir(), Deadline: func(relay.Severity) time.Duration { return time.Hour },
		Replies: relay.ReplyLimits{PerPerson: -1}})
	if err == nil || !strings.Contains(err.Error(), "node: replies: per_person: -1 must be from 1 to 1000") {
		t.Fatalf("Open with per_person -1: %v", err)
	}
}

// TestASummaryWhoseOwnerDiesIsSentByASurvivor holds a person's replies on
// a cluster of three whose clocks are one test clock, stops the member
// that owns the summary before it is due, and finds the summary sent
// once, by a survivor, to each of the others.
func TestASummaryWhoseOwnerDiesIsSentByASurvivor(t *testing.T) {
	t0 := time.Now().Truncate(time.Second)
	clock := testkit.NewClock(t0)
	counts := newDeliveryCounts()
	limits := relay.ReplyLimits{PerPerson: 2}
	members := map[string]*member{}
	seed := ""
	var all []*member
	for _, name := range []string{"node-a", "node-b", "node-c"} {
		m := startMemberWith(t, name, seed, nil, node.Options{
			Providers: []delivery.Provider{{Name: "sms-" + name, Channel: relay.ChannelSMS, Sender: &countingSender{node: name, by: counts}}},
			Deadline:  func(relay.Severity) time.Duration { return time.Hour },
			Roster:    loopRoster, Lease: 2 * time.Second, Replies: limits, Now: clock.Now,
		})
		if seed == "" {
			seed = m.ms.LocalAddr()
		}
		members[name] = m
		all = append(all, m)
	}
	settleMembership(t, all...)
	ctx := t.Context()
	alert(t, members["node-a"].n, "idc-fire")

	// Kim's four replies come in through each node in turn, each on
	// every node before the next: the count is the cluster's.
	var held []string
	for i, name := range []string{"node-a", "node-b", "node-c", "node-a"} {
		clock.Set(t0.Add(time.Duration(i+1) * time.Second))
		ans, err := members[name].n.Receive(ctx, sms("+821011110001", fmt.Sprintf("상황 %d", i+1), fmt.Sprintf("SM-%d", i)))
		if err != nil {
			t.Fatal(err)
		}
		if (ans.Message.Reply.Withheld == relay.WithheldHeld) != (i >= 2) {
			t.Fatalf("reply %d through %s: %+v", i+1, name, ans.Message.Reply)
		}
		if i >= 2 {
			held = append(held, ans.Message.ID)
		}
		for _, m := range all {
			testkit.Eventually(t, 5*time.Second, "reply on "+m.n.Name(), func() bool {
				_, err := m.n.Store().Message(ans.Message.ID)
				return err == nil
			})
		}
	}
	id := relay.SummaryID("kim", held[0])
	own := cluster.NewOwnership("node-a", time.Second, nil)
	own.SetAlive([]string{"node-a", "node-b", "node-c"})
	owner := own.Owner(&relay.Delivery{ID: id})
	var survivors []*member
	for name, m := range members {
		if name != owner {
			survivors = append(survivors, m)
		}
	}
	// The owner dies before the window ends; then it ends. The
	// survivors wait while they count the owner alive, then one of them
	// owns the summary.
	members[owner].stop()
	clock.Set(t0.Add(time.Second + time.Minute))
	for _, m := range survivors {
		if _, err := m.n.SendSummaries(ctx); err != nil {
			t.Fatal(err)
		}
	}
	testkit.Eventually(t, 20*time.Second, "the summary on both survivors", func() bool {
		for _, m := range survivors {
			if _, err := m.n.Store().Message(id); err != nil {
				return false
			}
		}
		return true
	})
	sum, err := survivors[0].n.Store().Message(id)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(sum.Reply.Summarises, held) || sum.AcceptedBy == owner {
		t.Fatalf("summary %+v accepted by %s, want both held replies by a survivor", sum.Reply, sum.AcceptedBy)
	}
	testkit.Eventually(t, 20*time.Second, "the summary sent to lee and park", func() bool {
		m, _ := counts.snapshot()
		return m[relay.DeliveryID(id, relay.ChannelSMS, "lee")] > 0 && m[relay.DeliveryID(id, relay.ChannelSMS, "park")] > 0
	})
	m, _ := counts.snapshot()
	for _, p := range []string{"lee", "park"} {
		if k := m[relay.DeliveryID(id, relay.ChannelSMS, p)]; k != 1 {
			t.Errorf("the summary reached %s %d times", p, k)
		}
	}
	if _, ok := m[relay.DeliveryID(id, relay.ChannelSMS, "kim")]; ok {
		t.Error("the summary reached kim")
	}
	for _, mb := range survivors {
		msgs, _ := mb.n.Store().IncidentMessages("idc-fire")
		n := 0
		for _, msg := range msgs {
			if msg.Reply != nil && msg.Reply.Summarises != nil {
				n++
			}
		}
		if n != 1 {
			t.Errorf("%s holds %d summaries, want 1", mb.n.Name(), n)
		}
	}
}
