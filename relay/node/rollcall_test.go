package node_test

import (
	"context"
	"maps"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/oob-relay/relay/channels/twilio/emulator"
	"github.com/oob-relay/relay/internal/testkit"
	"github.com/oob-relay/relay/relay"
	"github.com/oob-relay/relay/relay/node"
)

func startRollCall(t *testing.T, n *node.Node, to ...string) *relay.RollCall {
	t.Helper()
	st, err := n.StartRollCall(t.Context(), &relay.RollCallStart{Incident: "idc-fire", Question: "판교 화재. 안전하면 1, 도움이 필요하면 2",
		Options: []relay.RollCallOption{{Digit: 1, Label: "안전"}, {Digit: 2, Label: "도움 필요"}}, To: to},
		node.Author{Name: "bot", Via: relay.ViaAPI}, "")
	if err != nil {
		t.Fatal(err)
	}
	return st.RollCall
}

// TestRollCallAnswersBySMS sends what people text while a roll-call is
// open: a digit it offers (1 included) is an answer that acknowledges
// and posts nothing, with or without the reply code; a digit it does
// not offer, and a digit with words, stay what they were; ACK only
// acknowledges; the latest answer counts.
func TestRollCallAnswersBySMS(t *testing.T) {
	n, rec := conversationNode(t)
	ctx := t.Context()
	rc := startRollCall(t, n, "group:ops")
	received(t, rec, rc.Message, 3)
	code := n.ReplyCode("kim", "idc-fire")
	messages := func() int {
		ms, err := n.Store().IncidentMessages("idc-fire")
		if err != nil {
			t.Fatal(err)
		}
		return len(ms)
	}
	before := messages()
	sms := func(from, text, id string) *relay.Answer {
		t.Helper()
		ans, err := n.Receive(ctx, &relay.Inbound{Channel: relay.ChannelSMS, From: from, Text: text, ID: id})
		if err != nil {
			t.Fatalf("%q: %v", text, err)
		}
		return ans
	}
	if ans := sms("+821011110001", "1", "SM-1"); ans.Message != nil || ans.Reply != "응답을 기록했습니다: 1 = 안전" || len(ans.Acked) != 1 {
		t.Errorf("kim's 1: %+v", ans)
	}
	if ans := sms("+821011110001", code+" 2", "SM-2"); ans.Message != nil || ans.Incident != "idc-fire" {
		t.Errorf("kim's %s 2: %+v", code, ans)
	}
	if ans := sms("+821011110003", "２번", "SM-3"); ans.Message != nil || !strings.HasPrefix(ans.Reply, "Answer recorded: 2 = 도움 필요") {
		t.Errorf("park's ２번: %+v", ans)
	}
	if got := messages(); got != before {
		t.Fatalf("answers posted %d messages to the incident", got-before)
	}
	if ans := sms("+821011110002", "3", "SM-4"); ans.Message == nil {
		t.Errorf("lee's 3, which the roll-call does not offer, is no reply: %+v", ans)
	}
	if ans := sms("+821011110002", "ACK", "SM-5"); len(ans.Acked) == 0 || ans.Message != nil {
		t.Errorf("lee's ACK: %+v", ans)
	}
	tally, err := n.RollCallTally(rc.ID)
	if err != nil {
		t.Fatal(err)
	}
	byPerson := map[string]relay.RollCallPerson{}
	for _, p := range tally.People {
		byPerson[p.Person] = p
	}
	if byPerson["kim"].Digit != 2 || byPerson["park"].Digit != 2 || byPerson["lee"].State != relay.RollCallUnanswered ||
		tally.Options[0].Count != 0 || tally.Options[1].Count != 2 {
		t.Errorf("tally %+v", tally)
	}
}

// TestRollCallAnswerFromTheAPIOrConsoleAcknowledges: an answer given in
// the console, or by a bot or admin through the API, acknowledges the
// incident for the person as an answer by SMS, mail or voice does, so
// escalation stops for someone who said they are safe.
func TestRollCallAnswerFromTheAPIOrConsoleAcknowledges(t *testing.T) {
	n, rec := conversationNode(t)
	rc := startRollCall(t, n, "group:ops")
	received(t, rec, rc.Message, 3)
	for person, channel := range map[string]string{"kim": relay.ChannelAPI, "lee": node.ChannelConsole} {
		if _, err := n.AnswerRollCall(t.Context(), rc.ID, person, 1, channel, ""); err != nil {
			t.Fatal(err)
		}
		acked, err := n.Store().Acked(rc.Message, person)
		if err != nil || !acked {
			t.Errorf("%s answered by %s; the question is acknowledged: %v (%v)", person, channel, acked, err)
		}
	}
	if acked, _ := n.Store().Acked(rc.Message, "park"); acked {
		t.Error("park, who did not answer, acknowledged")
	}
}

// TestRollCallAnswerByKeypress calls a person reachable by voice only
// with a roll-call's question; the key they press is their answer and
// acknowledges the call.
func TestRollCallAnswerByKeypress(t *testing.T) {
	testkit.NoLeaks(t)
	p := rigPerson(1, relay.ChannelVoice)
	r := startRig(t, rigOptions{Accounts: 1, People: []relay.Person{p}, Deadline: time.Minute})
	r.a().em.PressDigits(p.Phone, "2")
	rc := startRollCall(t, r.node, "person:"+p.ID)
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	settleAck(ctx, t, r, []string{relay.DeliveryID(rc.Message, relay.ChannelVoice, p.ID)})
	a, err := r.node.Store().RollCallAnswer(rc.ID, p.ID)
	if err != nil || a.Digit != 2 || a.Channel != relay.ChannelVoice {
		t.Fatalf("answer %+v (%v), want 2 by voice", a, err)
	}
	calls := r.a().em.Calls()
	if len(calls) != 1 || !strings.Contains(calls[0].Twiml, "2 = 도움 필요") {
		t.Errorf("calls %+v: want one reading the options", calls)
	}
}

// TestUrgentAnswerIsWrittenWithItsNotice: the commanders' notice of an
// urgent answer is written in the same commit as the answer, so a node
// that dies after taking the answer cannot lose the notice; a second
// urgent answer of the same person tells them nothing more.
func TestUrgentAnswerIsWrittenWithItsNotice(t *testing.T) {
	n, _ := conversationNode(t)
	ctx := t.Context()
	r, _, err := n.Store().Roster()
	if err != nil {
		t.Fatal(err)
	}
	r = r.Clone()
	r.People[1].Roles = []string{relay.PersonCommander} // lee
	if err := n.SetRoster(ctx, r, "test"); err != nil {
		t.Fatal(err)
	}
	st, err := n.StartRollCall(ctx, &relay.RollCallStart{Incident: "idc-fire", Question: "판교 화재. 안전하면 1, 도움이 필요하면 2",
		Options: []relay.RollCallOption{{Digit: 1, Label: "안전"}, {Digit: 2, Label: "도움 필요", Urgent: true}}, To: []string{"group:ops"}},
		node.Author{Name: "bot", Via: relay.ViaAPI}, "")
	if err != nil {
		t.Fatal(err)
	}
	if q, err := n.Store().Message(st.RollCall.Message); err != nil || q.RollCall != st.RollCall.ID {
		t.Errorf("the question %+v (%v) is not marked as roll-call %s's", q, err, st.RollCall.ID)
	}
	var mu sync.Mutex
	var commits [][]relay.Event
	n.Store().Observe(func(evs []relay.Event) {
		mu.Lock()
		commits = append(commits, slices.Clone(evs))
		mu.Unlock()
	})
	notices := func() (together, apart int) {
		mu.Lock()
		defer mu.Unlock()
		for _, c := range commits {
			answer := slices.ContainsFunc(c, func(e relay.Event) bool { return e.RollCallAnswer != nil && e.RollCallAnswer.Person == "park" })
			for _, e := range c {
				if e.Message != nil && slices.Equal(e.Message.To, []string{"role:commander"}) {
					if answer {
						together++
					} else {
						apart++
					}
				}
			}
		}
		return together, apart
	}
	for _, digit := range []int{2, 1, 2} {
		if _, err := n.AnswerRollCall(ctx, st.RollCall.ID, "park", digit, relay.ChannelSMS, ""); err != nil {
			t.Fatal(err)
		}
	}
	if together, apart := notices(); together != 1 || apart != 0 {
		t.Errorf("notices to the commanders: %d in the answer's commit, %d apart; want one, with the answer", together, apart)
	}
}

// TestRollCallCountsTheUnreachable: people whose question could not be
// delivered (a number Twilio refuses, a handset that never receives) are
// unreachable in the tally, apart from the silent who were reached.
func TestRollCallCountsTheUnreachable(t *testing.T) {
	testkit.NoLeaks(t)
	reached, refused, lost := rigPerson(1, relay.ChannelSMS), rigPerson(2, relay.ChannelSMS), rigPerson(3, relay.ChannelSMS)
	r := startRig(t, rigOptions{Accounts: 1, People: []relay.Person{reached, refused, lost}, Deadline: time.Minute})
	r.a().em.RejectNumber(refused.Phone, 21211)
	r.a().em.FailDelivery(lost.Phone, emulator.Undelivered, 30003)
	rc := startRollCall(t, r.node, "person:"+reached.ID, "person:"+refused.ID, "person:"+lost.ID)
	var tally *relay.Tally
	testkit.Eventually(t, 30*time.Second, "two unreachable in the tally", func() bool {
		var err error
		tally, err = r.node.RollCallTally(rc.ID)
		return err == nil && tally.Unreachable == 2
	})
	states := map[string]string{}
	for _, p := range tally.People {
		states[p.Person] = p.State
	}
	want := map[string]string{reached.ID: relay.RollCallUnanswered, refused.ID: relay.RollCallUnreachable, lost.ID: relay.RollCallUnreachable}
	if tally.Audience != 3 || tally.Unanswered != 1 || tally.Answered != 0 || !maps.Equal(states, want) {
		t.Errorf("tally of %d: answered %d, unanswered %d, unreachable %d, people %v; want %v",
			tally.Audience, tally.Answered, tally.Unanswered, tally.Unreachable, states, want)
	}
}
