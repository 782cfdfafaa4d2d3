package main

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	natsgo "github.com/nats-io/nats.go"

	"github.com/oob-relay/relay/internal/testkit"
	"github.com/oob-relay/relay/relay"
)

// markCommanders gives the people numbered in who the commander role in
// the roster file at path.
func markCommanders(tb testing.TB, path string, who []int) {
	tb.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		tb.Fatal(err)
	}
	doc := string(raw)
	for _, i := range who {
		line := fmt.Sprintf("  - id: %s\n", personID(i))
		doc = strings.Replace(doc, line, line+"    roles: [commander]\n", 1)
	}
	if err := os.WriteFile(path, []byte(doc), 0o600); err != nil {
		tb.Fatal(err)
	}
}

// TestRollCallAcrossTheCluster runs a roll-call of 200 people on three
// relay serve processes. It is started on node A; people answer by SMS
// (signed webhooks, the digit alone or with their reply code), by mail
// replies, through the API of a bot answering for them and over NATS
// (ack requests of a bot with an answer), spread over the three nodes; some change their answer, some pick the urgent
// option, twenty stay silent. The tally is the same on every node, the
// commander is told of each urgent answer once, answers never reach the
// incident as replies, and the first re-ping round after the answers
// reaches exactly the silent, once each, on their next channel.
func TestRollCallAcrossTheCluster(t *testing.T) {
	testkit.NoLeaks(t)
	const people, commander = 200, 0
	cl := startCluster(t, clusterSpec{nodes: 3, people: people, replies: true, commanders: []int{commander},
		nats: true, natsAck: true})
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	a := cl.nodes[0]

	const incident = "pangyo-fire"
	const question = "판교 화재 점호. 안전하면 1, 도움이 필요하면 2"
	st, err := a.c.StartRollCall(ctx, &relay.RollCallStart{Incident: incident, Question: question,
		Options: []relay.RollCallOption{{Digit: 1, Label: "안전"}, {Digit: 2, Label: "도움 필요", Urgent: true}},
		To:      []string{"group:all"}, Reping: "1m", Until: "10m"}, "fire-rollcall")
	if err != nil {
		t.Fatal(err)
	}
	rc := st.RollCall
	testkit.Eventually(t, 60*time.Second, "the question by SMS and mail to everyone", func() bool {
		return len(perRecipient(cl.s.smsArrivals(question))) == people && len(perRecipient(cl.s.mailArrivals(question))) == people
	})
	incs, err := a.c.Incidents(ctx)
	if err != nil {
		t.Fatal(err)
	}
	questionSMS := smsTo(cl, question)
	if body := questionSMS[phone(7)].Body; !strings.Contains(body, "1 = 안전\n2 = 도움 필요") || !strings.Contains(body, "답하는 법") {
		t.Errorf("the question's SMS reads\n%s", body)
	}

	nc, err := natsgo.Connect(cl.s.nats.ClientURL())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()

	// Who answers how: i%10 < 4 by SMS (even i with the reply code), 4-6
	// by mail, 7 through the API, 8 over NATS; 9 stays silent. Every seventh
	// answers 2, and a few answer 2 first and then 1.
	type plan struct {
		way    string
		digit  int
		change bool
	}
	plans := map[int]plan{}
	for i := range people {
		p := plan{digit: 1}
		switch r := i % 10; {
		case r < 4:
			p.way = "sms"
		case r < 7:
			p.way = "email"
		case r < 8:
			p.way = "api"
		case r < 9:
			p.way = "nats"
		default:
			continue
		}
		if i%7 == 3 {
			p.digit = 2
		}
		if i%23 == 5 && p.digit == 1 {
			p.change = true
		}
		plans[i] = p
	}
	answer := func(i, digit int, n *clusterNode) error {
		switch plans[i].way {
		case "sms":
			body := fmt.Sprint(digit)
			if i%2 == 0 {
				body = relay.ReplyCodes(personID(i), incs)[incident] + " " + body
			}
			status, text := cl.deliver(t, ctx, n, incomingSMS(t, n, phone(i), questionSMS[phone(i)].From, body))
			if status != http.StatusOK {
				return fmt.Errorf("person %d's SMS %q: HTTP %d", i, body, status)
			}
			if !strings.HasPrefix(text, "응답을 기록했습니다: ") && text != "" {
				return fmt.Errorf("person %d's SMS %q was answered %q", i, body, text)
			}
			return nil
		case "email":
			orig := mailTo(t, cl, question, email(i))
			return sendMail(n.smtpIn, email(i), orig.ReplyTo[0].Address, replyMail(t, "직원", email(i), orig, fmt.Sprint(digit)))
		case "nats":
			msg, err := nc.RequestWithContext(ctx, "relay.ack.ops-bot",
				fmt.Appendf(nil, `{"person":%q,"incident":%q,"answer":%d}`, personID(i), incident, digit))
			if err != nil {
				return err
			}
			if !strings.Contains(string(msg.Data), `"acked"`) {
				return fmt.Errorf("person %d's answer over NATS: %s", i, msg.Data)
			}
			return nil
		default:
			_, err := n.c.AnswerRollCall(ctx, rc.ID, personID(i), digit)
			return err
		}
	}
	var wg sync.WaitGroup
	errs := make(chan error, 2*people)
	sem := make(chan struct{}, 8)
	for i, p := range plans {
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			n := cl.nodes[i%3]
			if p.change {
				if err := answer(i, 2, n); err != nil {
					errs <- err
					return
				}
				n = cl.nodes[(i+1)%3] // the new answer reaches another node
			}
			if err := answer(i, p.digit, n); err != nil {
				errs <- err
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if t.Failed() {
		t.FailNow()
	}

	// The same tally on every node.
	want := map[int]int{}
	urgent := map[string]bool{}
	for i, p := range plans {
		want[p.digit]++
		if p.digit == 2 || p.change {
			urgent[personID(i)] = true
		}
	}
	var tallies []*relay.Tally
	for _, n := range cl.nodes {
		var tl *relay.Tally
		testkit.Eventually(t, 60*time.Second, "the whole tally on "+n.name, func() bool {
			tl, err = n.c.RollCall(ctx, rc.ID)
			return err == nil && tl.Answered == len(plans) && tl.Options[0].Count == want[1] && tl.Options[1].Count == want[2] &&
				tl.Unanswered == people-len(plans) && tl.Unreachable == 0
		})
		tallies = append(tallies, tl)
	}
	answeredAt := time.Now()
	for _, tl := range tallies[1:] {
		if !reflect.DeepEqual(tl.People, tallies[0].People) {
			t.Errorf("the nodes count people differently")
		}
	}
	for _, p := range tallies[0].People {
		var i int
		fmt.Sscanf(p.Person, "p%05d", &i)
		pl, asked := plans[i]
		switch {
		case !asked && p.State != relay.RollCallUnanswered:
			t.Errorf("silent %s is %s", p.Person, p.State)
		case asked && (p.Digit != pl.digit || p.Channel != pl.way):
			t.Errorf("%s's answer is %d by %s; want %d by %s", p.Person, p.Digit, p.Channel, pl.digit, pl.way)
		}
	}

	// Each urgent answer makes one notice, to the commander on their own
	// channels (not broadcast on NATS), naming the person, and its SMS
	// reaches them. (Counted by message: a delivery
	// the engine repeats, as it may when membership flaps under load, is
	// the engine's to answer for, not the roll-call's.)
	notices := map[string][]string{} // person -> notice message ids
	testkit.Eventually(t, 60*time.Second, "a notice of each urgent answer", func() bool {
		v, err := cl.nodes[2].c.Incident(ctx, incident)
		if err != nil {
			return false
		}
		clear(notices)
		for _, e := range v.Timeline {
			for p := range urgent {
				if strings.Contains(e.Text, "[긴급 응답") && strings.Contains(e.Text, "("+p+"): 2 = 도움 필요") {
					notices[p] = append(notices[p], e.Message)
				}
			}
		}
		return len(notices) == len(urgent)
	})
	for p, ids := range notices {
		if len(ids) != 1 {
			t.Errorf("%s's urgent answer made %d notices, want one", p, len(ids))
			continue
		}
		m, err := a.c.Message(ctx, ids[0])
		if err != nil {
			t.Fatal(err)
		}
		if len(m.Recipients) != 1 || m.Recipients[0].Person != personID(commander) || m.Severity != string(relay.SeverityCritical) {
			t.Errorf("%s's notice goes to %+v (%s); want the commander, critical", p, m.Recipients, m.Severity)
		}
		for _, d := range m.Deliveries {
			if d.Channel == relay.ChannelNATS {
				t.Errorf("%s's notice, which carries their contact, went out on NATS", p)
			}
		}
	}
	testkit.Eventually(t, 60*time.Second, "every notice by SMS at the commander", func() bool {
		got := map[string]bool{}
		for _, m := range cl.s.emu.Messages() {
			for p := range urgent {
				if m.To == phone(commander) && strings.Contains(m.Body, "("+p+"): 2 = 도움 필요") {
					got[p] = true
				}
			}
		}
		return len(got) == len(urgent)
	})

	// No answer became a reply: the incident holds the question and the
	// notices only.
	v, err := cl.nodes[1].c.Incident(ctx, incident)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range v.Timeline {
		if e.Author != "ops-bot" {
			t.Errorf("the incident holds a message by %s: %q", e.Author, e.Text)
		}
	}
	if len(v.RollCalls) != 1 || v.RollCalls[0].Answered != len(plans) {
		t.Errorf("the incident shows roll-calls %+v", v.RollCalls)
	}

	// The first round after the last answer asks the silent only, once
	// each, on their next channel: mail in odd rounds (the question went
	// by SMS first), SMS in even ones; every one of them gets it.
	round := int(answeredAt.Sub(rc.StartedAt)/time.Minute) + 1
	marker := fmt.Sprintf("Asking again %d]", round)
	channel, silent := relay.ChannelEmail, map[string]string{} // person -> address
	if round%2 == 0 {
		channel = relay.ChannelSMS
	}
	for i := range people {
		if _, ok := plans[i]; !ok {
			silent[personID(i)] = map[string]string{relay.ChannelEmail: email(i), relay.ChannelSMS: phone(i)}[channel]
		}
	}
	asked := map[string]int{}
	testkit.Eventually(t, 3*time.Minute, "re-ping round "+fmt.Sprint(round), func() bool {
		v, err := cl.nodes[1].c.Incident(ctx, incident)
		if err != nil {
			return false
		}
		clear(asked)
		for _, e := range v.Timeline {
			if !strings.Contains(e.Text, marker) {
				continue
			}
			m, err := cl.nodes[1].c.Message(ctx, e.Message)
			if err != nil {
				return false
			}
			for _, r := range m.Recipients {
				asked[r.Person]++
				if !slices.Equal(r.Channels, []string{channel}) {
					t.Errorf("round %d asks %s on %v, want %s", round, r.Person, r.Channels, channel)
				}
			}
		}
		return len(asked) >= len(silent)
	})
	for p, n := range asked {
		if _, ok := silent[p]; !ok || n != 1 {
			t.Errorf("round %d asks %s %d times; want the silent once each", round, p, n)
		}
	}
	testkit.Eventually(t, time.Minute, "round "+fmt.Sprint(round)+" at every silent person", func() bool {
		var got map[string]int
		if channel == relay.ChannelEmail {
			got = perRecipient(cl.s.mailArrivals(marker))
		} else {
			got = perRecipient(cl.s.smsArrivals(marker))
		}
		for _, addr := range silent {
			if got[addr] == 0 {
				return false
			}
		}
		return len(got) == len(silent)
	})
}
