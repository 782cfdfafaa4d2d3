package main

import (
	"context"
	"testing"
	"time"

	"github.com/oob-relay/relay/internal/testkit"
	"github.com/oob-relay/relay/relay"
)

// TestClusterReceiptsSurviveTheBusiestNode posts a fan-out to 2,000
// people by SMS and email on three relay serve processes whose receipts
// go to a callback URL every node answers, stops the node that has sent
// the most SMS in the middle of it (SIGKILL, or SIGTERM), and checks what
// the two survivors make of it: nobody missed anything, no SMS was sent
// twice (an SMS the stopped node had in flight is looked up at Twilio
// before it is sent again), and no SMS is left sent without its receipt
// (a receipt lost with the node is fetched from Twilio after
// delivery.receipt_timeout).
func TestClusterReceiptsSurviveTheBusiestNode(t *testing.T) {
	for _, how := range []string{"SIGKILL", "SIGTERM"} {
		t.Run(how, func(t *testing.T) {
			testkit.NoLeaks(t)
			const people = 2000
			cl := startCluster(t, clusterSpec{nodes: 3, people: people, receipts: true, gossip: sharedMachineGossip()})
			ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
			defer cancel()

			const blast = "전사 공지: 판교 데이터센터 화재, 수신 확인 시험"
			acc, err := cl.nodes[0].c.Post(ctx, &relay.Post{Incident: "receipts", Text: blast, To: []string{"group:all"},
				Severity: relay.SeverityCritical}, "")
			if err != nil {
				t.Fatal(err)
			}
			testkit.WaitFor(t, ctx, "a third of the fan-out at the sinks", func() bool {
				return len(cl.s.smsArrivals(blast))+len(cl.s.mailArrivals(blast)) >= 2*people/3
			})
			victim, most := 0, -1
			for i, n := range cl.nodes {
				if k := countFrom(cl.s.smsArrivals(blast), n.smsFrom); k > most {
					victim, most = i, k
				}
			}
			if how == "SIGKILL" {
				cl.kill(victim)
			} else {
				cl.stop(victim)
			}
			atStop := len(cl.s.smsArrivals(blast)) + len(cl.s.mailArrivals(blast))
			if atStop >= 2*people {
				t.Fatalf("the fan-out had finished (%d at the sinks) when the node stopped; the test proves nothing", atStop)
			}

			testkit.WaitFor(t, ctx, "every person's SMS and mail", func() bool {
				return len(perRecipient(cl.s.smsArrivals(blast))) == people && len(perRecipient(cl.s.mailArrivals(blast))) == people
			})
			var left int
			for _, i := range cl.running() {
				n := cl.nodes[i]
				testkit.WaitFor(t, ctx, "every SMS delivered on "+n.name, func() bool {
					m, err := n.c.Message(ctx, acc.ID)
					if err != nil {
						t.Fatalf("%s: %v", n.name, err)
					}
					left = 0
					for _, d := range m.Deliveries {
						switch {
						case d.Channel == relay.ChannelSMS && d.Status != relay.StatusDelivered,
							d.Channel == relay.ChannelEmail && d.Status != relay.StatusSent:
							left++
						}
					}
					return left == 0
				})
			}
			sms, mails := cl.s.smsArrivals(blast), cl.s.mailArrivals(blast)
			if d := duplicates(sms); d != 0 {
				t.Errorf("%d SMS sent twice", d)
			}
			if d, bound := duplicates(mails), 16*cl.workers; d > bound {
				t.Errorf("%d mails sent twice, more than the %d the stopped node could have had in flight", d, bound)
			}
			var fetched, found, forwarded float64
			for _, i := range cl.running() {
				m := cl.metrics(i)
				fetched += m[`relay_delivery_receipt_checks_total{channel="sms",result="final"}`]
				found += m[`relay_delivery_lookups_total{channel="sms",result="found"}`]
			}
			forwarded = float64(cl.balanced.Load())
			t.Logf("%s of %s with %d of %d deliveries at the sinks: 0 lost, %d SMS and %d mails repeated; "+
				"%v receipts through the balancer, %v fetched from Twilio, %v SMS in flight found at Twilio",
				how, cl.nodes[victim].name, atStop, 2*people, duplicates(sms), duplicates(mails), forwarded, fetched, found)
		})
	}
}
