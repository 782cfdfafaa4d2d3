package main

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/oob-relay/relay/internal/testkit"
	"github.com/oob-relay/relay/relay"
	"github.com/oob-relay/relay/relay/api"
	"github.com/oob-relay/relay/relay/client"
	"github.com/oob-relay/relay/relay/store"
)

// TestClusterPostOnAReadOnC posts on node A of three and reads the message
// on node C as soon as the 202 is in. With copies: 2 every peer holds the
// message on disk before A answers, so C has it at once; the fan-out then
// reaches every person once on each channel, sent by all three nodes.
func TestClusterPostOnAReadOnC(t *testing.T) {
	testkit.NoLeaks(t)
	const people = 20
	cl := startCluster(t, clusterSpec{nodes: 3, people: people, copies: 2})
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	a, c := cl.nodes[0], cl.nodes[2]

	const text = "판교 센터 전환 완료: 사내 메신저 복구 중"
	acc, err := a.c.Post(ctx, &relay.Post{Incident: "idc-fire", Text: text, To: []string{"group:all"},
		Severity: relay.SeverityCritical}, "")
	if err != nil {
		t.Fatal(err)
	}
	m, err := c.c.Message(ctx, acc.ID)
	if err != nil {
		t.Fatalf("message %s not on node C right after the 202 from A: %v", acc.ID, err)
	}
	if m.Text != text || len(m.Deliveries) != 2*people {
		t.Errorf("node C holds %q with %d deliveries, want %q with %d", m.Text, len(m.Deliveries), text, 2*people)
	}
	// copies >= 2 and no only_copy, as asked; 3 as copies: 2 waits for
	// both peers.
	if acc.Copies != 3 || acc.OnlyCopy {
		t.Errorf("accepted with copies %d and only_copy %v, want 3 copies and no only_copy", acc.Copies, acc.OnlyCopy)
	}

	// The raw answer carries neither the only-copy header nor the field.
	body, _ := json.Marshal(relay.Post{Incident: "idc-fire", Text: "두 번째 공지", To: []string{"person:p00001"},
		Severity: relay.SeverityCritical})
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, a.api+"/v1/messages", bytes.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+testToken)
	req.Header.Set("Content-Type", "application/json")
	resp, err := cl.http.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var raw map[string]any
	err = json.NewDecoder(resp.Body).Decode(&raw)
	resp.Body.Close()
	if err != nil || resp.StatusCode != http.StatusAccepted {
		t.Fatalf("raw post: HTTP %d, %v", resp.StatusCode, err)
	}
	if h := resp.Header.Get("Relay-Only-Copy"); h != "" {
		t.Errorf("Relay-Only-Copy: %q with two peers alive", h)
	}
	if _, ok := raw["only_copy"]; ok || raw["copies"] != float64(3) {
		t.Errorf("raw answer has copies %v and only_copy %v, want 3 and none", raw["copies"], raw["only_copy"])
	}

	// Everyone reached, once, by the three nodes together.
	testkit.Eventually(t, 30*time.Second, "every person's SMS and mail", func() bool {
		return len(perRecipient(cl.s.smsArrivals(text))) == people && len(perRecipient(cl.s.mailArrivals(text))) == people
	})
	var m2 *api.MessageView
	testkit.Eventually(t, 30*time.Second, "the message settled on node C", func() bool {
		m2, err = c.c.Message(ctx, acc.ID)
		return err == nil && m2.Settled
	})
	senders := map[string]int{}
	for _, d := range m2.Deliveries {
		if d.Status != relay.StatusSent {
			t.Errorf("delivery %s is %s (%s), want sent", d.ID, d.Status, d.Error)
		}
		senders[d.Node]++
	}
	if len(senders) != 3 {
		t.Errorf("deliveries sent by %v, want a share for each of the three nodes", senders)
	}
	sms, mails := cl.s.smsArrivals(text), cl.s.mailArrivals(text)
	for i := range people {
		if perRecipient(sms)[phone(i)] != 1 || perRecipient(mails)[email(i)] != 1 {
			t.Errorf("person %d got %d SMS and %d mails, want one each", i, perRecipient(sms)[phone(i)], perRecipient(mails)[email(i)])
		}
	}
	t.Logf("accepted on A with %d copies; read on C at once; sent by %v", acc.Copies, senders)
}

// TestClusterSIGKILLOwnerDuringFanOut posts a fan-out to 2,000 people by
// SMS and email on node A of three, kills node C with SIGKILL when about a
// third of it is at the sinks, and checks that A and B finish every
// delivery, C's share included, with no SMS repeated and no more mails
// than C had attempts in flight. Its failure detector is the one for a
// machine shared with the whole test run (sharedMachineGossip).
func TestClusterSIGKILLOwnerDuringFanOut(t *testing.T) {
	testkit.NoLeaks(t)
	const people = 2000
	cl := startCluster(t, clusterSpec{nodes: 3, people: people, gossip: sharedMachineGossip()})
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	const victim = 2
	v := cl.nodes[victim]

	const blast = "전사 공지: 서울 IDC 화재, 판교로 전환 중"
	acc, err := cl.nodes[0].c.Post(ctx, &relay.Post{Incident: "idc-fire", Text: blast, To: []string{"group:all"},
		Severity: relay.SeverityCritical}, "")
	if err != nil {
		t.Fatal(err)
	}
	if acc.Deliveries != 2*people {
		t.Fatalf("fan-out has %d deliveries, want %d", acc.Deliveries, 2*people)
	}
	// A third at the sinks, some of it from C: on a loaded machine C may
	// start its share late.
	testkit.WaitFor(t, ctx, "a third of the fan-out at the sinks, some from node C", func() bool {
		return cl.s.emu.Requests()+len(cl.s.mail.Mails()) >= 2*people/3 &&
			countFrom(cl.s.smsArrivals(blast), v.smsFrom)+countFrom(cl.s.mailArrivals(blast), v.mailFrom) > 0
	})
	killedAt := time.Now()
	cl.kill(victim)
	smsAtKill, mailAtKill := cl.s.smsArrivals(blast), cl.s.mailArrivals(blast)
	atKill := len(smsAtKill) + len(mailAtKill)
	byVictim := countFrom(smsAtKill, v.smsFrom) + countFrom(mailAtKill, v.mailFrom)
	if atKill >= 2*people {
		t.Fatalf("the fan-out had finished (%d at the sinks) before the kill; the test proves nothing", atKill)
	}
	if byVictim == 0 {
		t.Fatalf("node C had sent nothing of the fan-out when it was killed; the test proves nothing")
	}

	testkit.WaitFor(t, ctx, "every person's SMS and mail after the kill", func() bool {
		return len(perRecipient(cl.s.smsArrivals(blast))) == people && len(perRecipient(cl.s.mailArrivals(blast))) == people
	})
	done := time.Since(killedAt)
	for _, i := range []int{0, 1} {
		n := cl.nodes[i]
		testkit.WaitFor(t, ctx, "the fan-out settled on "+n.name, func() bool {
			m, err := n.c.Message(ctx, acc.ID)
			if err != nil {
				t.Fatalf("%s: %v", n.name, err)
			}
			if !m.Settled {
				return false
			}
			// An SMS of C's found at the provider after the kill is
			// recorded as the provider has it by then: delivered.
			if ok := m.Summary[relay.StatusSent] + m.Summary[relay.StatusDelivered]; ok != 2*people {
				t.Fatalf("%s: settled with %v, want %d sent or delivered", n.name, m.Summary, 2*people)
			}
			return true
		})
	}

	sms, mails := cl.s.smsArrivals(blast), cl.s.mailArrivals(blast)
	dupSMS, dupMail := duplicates(sms), duplicates(mails)
	// No SMS repeats: the survivors look up at the provider what C had
	// in flight before sending it again. A mail can repeat if C had it in
	// flight: at most a claim slot each (the channel has no rate limit:
	// sixteen per worker); its Message-ID lets receivers drop the repeat.
	if slots := 16 * cl.workers; dupSMS > 0 || dupMail > slots {
		t.Errorf("duplicates: %d SMS (want none) and %d mails (node C had at most %d attempts in flight)",
			dupSMS, dupMail, slots)
	}
	// What C's own disk says of each repeated delivery tells an attempt in
	// flight (still sending) from a result C recorded but had not passed
	// on when it died.
	why := victimRecords(t, v, acc.ID, repeated(sms, people, phone), repeated(mails, people, email))
	t.Logf("repeated deliveries as node C's disk left them: %v", why)
	if d := survivorDuplicates(sms, v.smsFrom) + survivorDuplicates(mails, v.mailFrom); d != 0 {
		t.Errorf("%d deliveries repeated by the survivors themselves, not after node C's attempt", d)
	}
	m0, m1 := cl.metrics(0), cl.metrics(1)
	takeovers := m0["relay_cluster_takeovers_total"] + m1["relay_cluster_takeovers_total"]
	t.Logf("killed node C with %d of %d deliveries at the sinks (%d of them sent by C); all sent %v after the kill; "+
		"%d claims of C taken over; duplicates %d SMS, %d mails (bound %d)",
		atKill, 2*people, byVictim, done.Round(time.Millisecond), int(takeovers), dupSMS, dupMail, 16*cl.workers)
}

// repeated returns the ids of the people, of the first n, with more
// than one arrival; contact gives person i's number or address.
func repeated(as []arrival, n int, contact func(int) string) []string {
	counts := perRecipient(as)
	var out []string
	for i := range n {
		if counts[contact(i)] > 1 {
			out = append(out, fmt.Sprintf("p%05d", i))
		}
	}
	return out
}

// victimRecords opens the killed node's store and counts the repeated
// deliveries by the status and owner it had recorded for them.
func victimRecords(t *testing.T, v *clusterNode, msgID string, smsTo, mailTo []string) map[string]int {
	t.Helper()
	st, err := store.Open(store.Options{Dir: filepath.Join(v.dir, "data"), Node: v.name})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	out := map[string]int{}
	for ch, people := range map[string][]string{relay.ChannelSMS: smsTo, relay.ChannelEmail: mailTo} {
		for _, p := range people {
			d, err := st.Delivery(relay.DeliveryID(msgID, ch, p))
			if err != nil {
				t.Fatal(err)
			}
			out[fmt.Sprintf("%s %s by %s", ch, d.Status, cmp.Or(d.Owner, "nobody"))]++
		}
	}
	return out
}

// countFrom counts the arrivals sent from one node's sender.
func countFrom(as []arrival, from string) int {
	n := 0
	for _, a := range as {
		if a.from == from {
			n++
		}
	}
	return n
}

// survivorDuplicates counts repeats of a recipient among arrivals not
// sent by the killed node's sender: each person's first survivor arrival
// is legitimate, whatever the killed node sent.
func survivorDuplicates(as []arrival, killed string) int {
	var rest []arrival
	for _, a := range as {
		if a.from != killed {
			rest = append(rest, a)
		}
	}
	return duplicates(rest)
}

// TestClusterWrongKeyOrLabel starts a fourth node with the cluster's seeds
// but a wrong gossip key, and another with the right key but a wrong
// label: neither becomes a member of the real cluster, and a message
// posted on it never reaches the real nodes, though it keeps trying.
func TestClusterWrongKeyOrLabel(t *testing.T) {
	testkit.NoLeaks(t)
	cl := startCluster(t, clusterSpec{nodes: 3, people: 5})
	var seeds []string
	for _, n := range cl.nodes {
		seeds = append(seeds, n.gossip)
	}
	for i, rogue := range []struct{ name, key, label string }{
		{"wrong-key", newGossipKey(t), cl.label},
		{"wrong-label", cl.key, "relay-staging"},
	} {
		t.Run(rogue.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			refusedBefore := memberlistErrors(cl)
			n := cl.newNode(cl.root, rogue.name, 10+i)
			n.rejoin = 100 * time.Millisecond
			n.keysFile = filepath.Join(n.dir, "trusted-keys")
			cl.writeKeys(n.keysFile, append(slices.Clone(cl.nodes), n)...)
			cl.writeConfig(n, seeds, rogue.key, rogue.label, 0, 0)
			n.p = serve(t, n.cfg, n.api)

			joinFailures := func() float64 { return scrape(cl.http, n.api)["relay_gossip_join_failures_total"] }
			testkit.WaitFor(t, ctx, "the rogue's joins to fail", func() bool { return joinFailures() >= 2 })
			acc, err := n.c.Post(ctx, &relay.Post{Incident: "rogue", Text: "이 메시지는 클러스터에 들어가면 안 됨",
				To: []string{"person:p00001"}, Severity: relay.SeverityCritical}, "")
			if err != nil {
				t.Fatal(err)
			}
			if !acc.OnlyCopy || acc.Copies != 1 {
				t.Errorf("the rogue accepted with copies %d, only_copy %v; want it alone", acc.Copies, acc.OnlyCopy)
			}
			// Let it try to join several times more with the message on
			// board, then look for it on every real node.
			after := joinFailures()
			testkit.WaitFor(t, ctx, "the rogue to try joining again", func() bool { return joinFailures() >= after+3 })
			if memberlistErrors(cl) <= refusedBefore {
				t.Errorf("no real node logged a refused connection, so the rogue may never have reached them")
			}
			for j := range cl.nodes {
				m := cl.metrics(j)
				if alive, all := m[`relay_gossip_members{state="alive"}`], sum(m, "relay_gossip_members"); alive != 3 || all != 3 {
					t.Errorf("%s knows %v members (%v alive), want the 3 real ones", cl.nodes[j].name, all, alive)
				}
				_, err := cl.nodes[j].c.Message(ctx, acc.ID)
				var ce *client.Error
				if !errors.As(err, &ce) || ce.Status != http.StatusNotFound {
					t.Errorf("%s: the rogue's message: %v, want not found", cl.nodes[j].name, err)
				}
			}
			if m := scrape(cl.http, n.api); m[`relay_gossip_members{state="alive"}`] != 1 || m["relay_cluster_peers"] != 0 {
				t.Errorf("the rogue sees %v members alive and %v peers, want itself alone",
					m[`relay_gossip_members{state="alive"}`], m["relay_cluster_peers"])
			}
			n.p.stop(t)
		})
	}
}

// TestClusterMemberWithoutNodeKey starts a fourth node with the cluster's
// gossip key and label, which trusts the real nodes, but whose own node
// key no real node lists: the real nodes keep it out of their membership,
// refuse what it sends, send it nothing, and a message posted on it never
// reaches them.
func TestClusterMemberWithoutNodeKey(t *testing.T) {
	testkit.NoLeaks(t)
	cl := startCluster(t, clusterSpec{nodes: 3, people: 5})
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	var seeds []string
	for _, n := range cl.nodes {
		seeds = append(seeds, n.gossip)
	}
	rogue := cl.newNode(cl.root, "intruder", 10)
	rogue.rejoin = 100 * time.Millisecond
	rogue.keysFile = filepath.Join(rogue.dir, "trusted-keys")
	cl.writeKeys(rogue.keysFile, append(slices.Clone(cl.nodes), rogue)...)
	cl.writeConfig(rogue, seeds, cl.key, cl.label, 0, 0)
	rogue.p = serve(t, rogue.cfg, rogue.api)
	defer rogue.p.stop(t)

	realSum := func(name string) float64 {
		total := 0.0
		for j := range cl.nodes {
			total += cl.metrics(j)[name]
		}
		return total
	}
	testkit.WaitFor(t, ctx, "the real nodes to keep the intruder out", func() bool {
		return realSum("relay_gossip_refused_members_total") >= 1
	})
	testkit.WaitFor(t, ctx, "the real nodes to refuse the intruder's messages", func() bool {
		return realSum(`relay_cluster_refused_messages_total{reason="unknown_node"}`) >= 1
	})
	acc, err := rogue.c.Post(ctx, &relay.Post{Incident: "intrusion", Text: "모두 대피 해제: 정상 근무",
		To: []string{"group:all"}, Severity: relay.SeverityCritical}, "")
	if err != nil {
		t.Fatal(err)
	}
	if !acc.OnlyCopy {
		t.Errorf("the intruder's message has copies elsewhere: %+v", acc)
	}
	// Let the intruder keep trying for a while: its hellos go on every
	// second.
	refused := realSum(`relay_cluster_refused_messages_total{reason="unknown_node"}`)
	testkit.WaitFor(t, ctx, "the intruder to try again", func() bool {
		return realSum(`relay_cluster_refused_messages_total{reason="unknown_node"}`) >= refused+3
	})
	for j := range cl.nodes {
		m := cl.metrics(j)
		if alive, all := m[`relay_gossip_members{state="alive"}`], sum(m, "relay_gossip_members"); alive != 3 || all != 3 {
			t.Errorf("%s knows %v members (%v alive), want the 3 real ones", cl.nodes[j].name, all, alive)
		}
		if m["relay_cluster_peers"] != 2 {
			t.Errorf("%s replicates to %v peers, want the 2 real ones", cl.nodes[j].name, m["relay_cluster_peers"])
		}
		_, err := cl.nodes[j].c.Message(ctx, acc.ID)
		var ce *client.Error
		if !errors.As(err, &ce) || ce.Status != http.StatusNotFound {
			t.Errorf("%s: the intruder's message: %v, want not found", cl.nodes[j].name, err)
		}
	}
	// Nothing of the real nodes reached it.
	if m := scrape(cl.http, rogue.api); m["relay_cluster_merged_events_total"] != 0 {
		t.Errorf("the intruder merged %v events of the real nodes", m["relay_cluster_merged_events_total"])
	}
}

// memberlistErrors counts the error lines memberlist logged on the real
// nodes: refused streams and packets.
func memberlistErrors(cl *testCluster) int {
	n := 0
	for _, c := range cl.nodes {
		for line := range strings.SplitSeq(c.p.log(), "\n") {
			if strings.Contains(line, "level=ERROR") && strings.Contains(line, "component=memberlist") {
				n++
			}
		}
	}
	return n
}

// TestClusterRollingRestart restarts each of three nodes in turn (SIGTERM,
// exit, start) while a bot posts every 50 ms to a random node, retrying on
// another node with the same idempotency key when one fails. Every post
// must be accepted somewhere; afterwards every accepted message is on
// every node with its deliveries settled and at the sinks. Then one node
// comes back with an empty data dir and catches up.
func TestClusterRollingRestart(t *testing.T) {
	testkit.NoLeaks(t)
	const people = 30
	cl := startCluster(t, clusterSpec{nodes: 3, people: people})
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	b := startBot(cl, "재시작 점검", people)
	defer b.halt()
	for i := range cl.nodes {
		n := b.count()
		testkit.WaitFor(t, ctx, "posts before restarting "+cl.nodes[i].name, func() bool { return b.count() >= n+5 })
		cl.stop(i)
		n = b.count()
		testkit.WaitFor(t, ctx, "posts while "+cl.nodes[i].name+" is down", func() bool { return b.count() >= n+5 })
		cl.start(i)
		cl.waitWhole()
	}
	n := b.count()
	testkit.WaitFor(t, ctx, "posts after the restarts", func() bool { return b.count() >= n+5 })
	posts, failed := b.halt()
	for _, f := range failed {
		t.Errorf("post refused by every node: %s", f)
	}
	onlyCopies := 0
	for _, p := range posts {
		if p.onlyCopy {
			onlyCopies++
		}
	}
	t.Logf("%d posts accepted during the rolling restart (%d as the only copy)", len(posts), onlyCopies)

	everywhere := func(nodes []int) {
		t.Helper()
		for _, i := range nodes {
			nd := cl.nodes[i]
			for _, p := range posts {
				testkit.WaitFor(t, ctx, fmt.Sprintf("message %s settled on %s", p.id, nd.name), func() bool {
					m, err := nd.c.Message(ctx, p.id)
					var ce *client.Error
					if errors.As(err, &ce) && ce.Status == http.StatusNotFound {
						return false
					}
					if err != nil {
						t.Fatalf("%s: %v", nd.name, err)
					}
					return m.Settled && m.Summary[relay.StatusSent] == 2
				})
			}
		}
	}
	everywhere([]int{0, 1, 2})
	lost, dups := 0, 0
	for _, p := range posts {
		for _, k := range []int{len(cl.s.smsArrivals(p.marker)), len(cl.s.mailArrivals(p.marker))} {
			if k == 0 {
				lost++
			}
			dups += max(0, k-1)
		}
	}
	if lost > 0 {
		t.Errorf("%d deliveries of accepted messages never reached the sinks", lost)
	}
	// Duplicates are counted, not refused: while a restarted node rejoins,
	// it and its peers can each take itself for a delivery's owner for a
	// moment.
	t.Logf("rolling restart: %d deliveries at the sinks, %d duplicates", len(posts)*2-lost+dups, dups)

	// A node that lost its disk comes back empty, catches up before it
	// delivers, and sends nothing again.
	before := cl.s.emu.Requests() + len(cl.s.mail.Mails())
	cl.stop(1)
	cl.wipe(1)
	cl.start(1)
	everywhere([]int{1})
	if strings.Contains(cl.nodes[1].p.log(), "not reconciled with the cluster in time") {
		t.Errorf("the emptied node started delivering before it had caught up")
	}
	if after := cl.s.emu.Requests() + len(cl.s.mail.Mails()); after != before {
		t.Errorf("%d more SMS and mails at the sinks after the emptied node came back", after-before)
	}
}

// arrival is one message at a sink: to whom, from which node's sender.
type arrival struct {
	to, from string
	at       time.Time
}

// smsArrivals returns the SMS whose body contains marker, in order.
func (s *sinks) smsArrivals(marker string) []arrival {
	var out []arrival
	for _, m := range s.emu.Messages() {
		if strings.Contains(m.Body, marker) {
			out = append(out, arrival{to: m.To, from: m.From, at: m.Created})
		}
	}
	return out
}

// mailArrivals returns the mails whose subject or text contains marker, in
// order, one per recipient.
func (s *sinks) mailArrivals(marker string) []arrival {
	var out []arrival
	for _, m := range s.mail.Mails() {
		if strings.Contains(m.Subject+m.Text, marker) {
			for _, to := range m.Envelope.To {
				out = append(out, arrival{to: to, from: m.Envelope.From})
			}
		}
	}
	return out
}

// perRecipient counts arrivals by recipient.
func perRecipient(as []arrival) map[string]int {
	out := map[string]int{}
	for _, a := range as {
		out[a.to]++
	}
	return out
}

// duplicates counts arrivals beyond the first for each recipient.
func duplicates(as []arrival) int {
	n := 0
	for _, k := range perRecipient(as) {
		n += k - 1
	}
	return n
}

// phone and email are person i's contacts in writeRoster's roster.
func phone(i int) string { return fmt.Sprintf("+8210%08d", i) }
func email(i int) string { return fmt.Sprintf("p%05d@example.com", i) }
