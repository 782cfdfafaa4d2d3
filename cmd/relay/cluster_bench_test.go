package main

import (
	"context"
	"crypto/ed25519"
	"fmt"
	mrand "math/rand/v2"
	"slices"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/oob-relay/relay/gossip"
	"github.com/oob-relay/relay/internal/testkit"
	"github.com/oob-relay/relay/relay"
	"github.com/oob-relay/relay/relay/delivery"
	"github.com/oob-relay/relay/relay/node"
	"github.com/oob-relay/relay/relay/secret"
	"github.com/oob-relay/relay/relay/trust"
)

// BenchmarkReplicationLag measures how long a message accepted on node A
// takes to be on node C's disk, with 3 and 5 nodes running in this process
// over real gossip on 127.0.0.1 (encrypted and labelled, LAN preset, the
// default copies: 1). Each iteration posts 300 messages on A one after
// another; the lag of each runs from Post's return on A to the commit on
// C that holds it, seen through C's store observer, and is zero when C
// had it first. It reports p50_ms, p99_ms and max_ms of that, and the same
// of the lag from the commit on A to the commit on C (commit_p50_ms...),
// and of Post's own time on A (accept_p50_ms...), for comparison with
// BenchmarkAcceptWithPeerCopy.
//
// With auth=signed the cluster is authenticated, as relay serve runs it:
// every event and frame signed and verified; with auth=none it is not
// (events are still signed, but nobody verifies them, and frames are not
// signed): the difference is the cost of authentication.
func BenchmarkReplicationLag(b *testing.B) {
	for _, size := range []int{3, 5} {
		for _, signed := range []bool{true, false} {
			b.Run(fmt.Sprintf("nodes=%d/auth=%s", size, map[bool]string{true: "signed", false: "none"}[signed]), func(b *testing.B) {
				// memberlist's Shutdown does not wait for a probe in flight,
				// and such a probe can stay blocked on its ack channel.
				testkit.NoLeaks(b, goleak.IgnoreTopFunction("github.com/hashicorp/memberlist.(*Memberlist).probeNode"))
				var lags, commits, accepts []time.Duration
				for range b.N {
					l, c, a := replicationLags(b, size, 300, signed)
					lags, commits, accepts = append(lags, l...), append(commits, c...), append(accepts, a...)
				}
				reportPercentiles(b, "", lags)
				reportPercentiles(b, "commit_", commits)
				reportPercentiles(b, "accept_", accepts)
			})
		}
	}
}

func replicationLags(b *testing.B, size, posts int, signed bool) (lags, commits, accepts []time.Duration) {
	b.StopTimer()
	roster := &relay.Roster{}
	for i := range 10 {
		roster.People = append(roster.People, relay.Person{ID: fmt.Sprintf("p%05d", i), Phone: phone(i)})
	}
	key := newGossipKey(b)
	seen, origin := newSightings(), newSightings()
	nodeKeys := newIdentities(b, size, signed)
	var members []*inprocMember
	for i := range size {
		var seed string
		var observe func([]relay.Event)
		if i > 0 {
			seed = members[0].ms.LocalAddr()
		}
		switch i {
		case 0:
			observe = origin.observe
		case 2:
			observe = seen.observe
		}
		members = append(members, startInproc(b, fmt.Sprintf("node-%c", 'a'+i), seed, key, roster, observe, nodeKeys))
	}
	testkit.Eventually(b, 10*time.Second, "every member sees the others", func() bool {
		for _, m := range members {
			if len(m.ms.Alive()) != size || len(m.n.Replicator().Peers()) != size-1 {
				return false
			}
		}
		return true
	})
	for _, m := range members {
		m.n.MembershipChanged()
	}

	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	a := members[0]
	accepted := make(map[string]time.Time, posts)
	b.StartTimer()
	for i := range posts {
		t0 := time.Now()
		acc, err := a.n.Post(ctx, &relay.Post{Incident: "lag", Text: fmt.Sprintf("복제 지연 측정 %d", i),
			To: []string{fmt.Sprintf("person:p%05d", i%10)}, Severity: relay.SeverityCritical}, node.Author{Name: "bench"}, "")
		if err != nil {
			b.Fatal(err)
		}
		accepted[acc.Message.ID] = time.Now()
		accepts = append(accepts, time.Since(t0))
		if acc.OnlyCopy {
			b.Fatalf("message %d accepted as the only copy with %d peers alive", i, size-1)
		}
	}
	b.StopTimer()
	var ids []string
	for id := range accepted {
		ids = append(ids, id)
	}
	at, from := seen.wait(b, ctx, ids), origin.wait(b, ctx, ids)
	for id, t := range accepted {
		lags = append(lags, max(0, at[id].Sub(t)))
		commits = append(commits, at[id].Sub(from[id]))
	}
	return lags, commits, accepts
}

// sightings records when messages first reached a store.
type sightings struct {
	mu      sync.Mutex
	at      map[string]time.Time
	changed chan struct{}
}

func newSightings() *sightings {
	return &sightings{at: map[string]time.Time{}, changed: make(chan struct{}, 1)}
}

// observe is a store observer: it runs on the store's writer goroutine
// right after a commit.
func (s *sightings) observe(events []relay.Event) {
	now := time.Now()
	s.mu.Lock()
	for i := range events {
		if m := events[i].Message; m != nil {
			if _, ok := s.at[m.ID]; !ok {
				s.at[m.ID] = now
			}
		}
	}
	s.mu.Unlock()
	select {
	case s.changed <- struct{}{}:
	default:
	}
}

// wait returns the sighting times once every id was seen.
func (s *sightings) wait(tb testing.TB, ctx context.Context, ids []string) map[string]time.Time {
	for {
		s.mu.Lock()
		missing := 0
		for _, id := range ids {
			if _, ok := s.at[id]; !ok {
				missing++
			}
		}
		out := make(map[string]time.Time, len(s.at))
		for k, v := range s.at {
			out[k] = v
		}
		s.mu.Unlock()
		if missing == 0 {
			return out
		}
		select {
		case <-s.changed:
		case <-ctx.Done():
			tb.Fatalf("%d of %d messages never reached the observed node", missing, len(ids))
		}
	}
}

// inprocMember is a node and its gossip membership in this process.
type inprocMember struct {
	n  *node.Node
	ms *gossip.Membership
}

// startInproc starts a node in this process with an SMS provider that
// accepts everything, joined to seed when given; observe, when given,
// watches its store from the first write.
// identities are the node keys of an in-process cluster whose nodes are
// named node-a, node-b…, and the keyring trusting them all, or no keyring
// for a cluster that is not authenticated.
type identities struct {
	signers map[string]*trust.Signer
	keys    *trust.Keyring
}

func newIdentities(tb testing.TB, size int, signed bool) *identities {
	ids := &identities{signers: map[string]*trust.Signer{}}
	pubs := map[string][]ed25519.PublicKey{}
	for i := range size {
		name := fmt.Sprintf("node-%c", 'a'+i)
		s, err := trust.LoadOrCreate(tb.TempDir(), name)
		if err != nil {
			tb.Fatal(err)
		}
		ids.signers[name], pubs[name] = s, []ed25519.PublicKey{s.Public()}
	}
	if signed {
		ids.keys = trust.NewKeyring(pubs)
	}
	return ids
}

func startInproc(tb testing.TB, name, seed, key string, roster *relay.Roster, observe func([]relay.Event), ids *identities) *inprocMember {
	tb.Helper()
	n, err := node.Open(node.Options{
		Name: name, DataDir: tb.TempDir(), Roster: roster, Signer: ids.signers[name], Keys: ids.keys,
		Providers: []delivery.Provider{{Name: "sms-" + name, Channel: relay.ChannelSMS, Sender: &testkit.Sender{CountOnly: true}}},
		Deadline:  func(relay.Severity) time.Duration { return time.Hour },
	})
	if err != nil {
		tb.Fatal(err)
	}
	if observe != nil {
		n.Store().Observe(observe)
	}
	cfg := gossip.Config{Bind: "127.0.0.1:0", Keys: []secret.String{secret.New(key)}, Label: "relay-bench", Preset: gossip.PresetLAN}
	if seed != "" {
		cfg.Seeds = []string{seed}
	}
	r := n.Replicator()
	gopts := gossip.Options{Name: name, Config: cfg, Meta: gossip.NodeMeta{API: "http://" + name}.Encode(),
		OnMessage: r.OnMessage, OnDatagram: r.OnDatagram, LocalState: r.LocalState, MergeState: r.MergeState,
		OnChange: n.MembershipChanged}
	if ids.keys != nil {
		gopts.Signer, gopts.Keys = ids.signers[name], ids.keys
	}
	ms, err := gossip.New(gopts)
	if err != nil {
		tb.Fatal(err)
	}
	n.Attach(ms.Cluster())
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := ms.Start(ctx); err != nil {
		tb.Fatal(err)
	}
	n.MembershipChanged()
	if err := n.Start(ctx); err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		n.Close(ctx)
		ms.Shutdown()
	})
	return &inprocMember{n: n, ms: ms}
}

// BenchmarkAcceptWithPeerCopy measures the accept latency of node A of
// three relay serve processes with copies: 1, as its HTTP API answers
// through relay/client: 300 posts one after another, each answered only
// once a peer holds the message on disk. It reports p50_ms, p99_ms and
// max_ms.
func BenchmarkAcceptWithPeerCopy(b *testing.B) {
	testkit.NoLeaks(b)
	cl := startCluster(b, clusterSpec{nodes: 3, people: 10})
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	a := cl.nodes[0].c
	var lags []time.Duration
	b.ResetTimer()
	for range b.N {
		for i := range 300 {
			t0 := time.Now()
			acc, err := a.Post(ctx, &relay.Post{Incident: "accept", Text: fmt.Sprintf("접수 지연 측정 %d", i),
				To: []string{fmt.Sprintf("person:p%05d", i%10)}, Severity: relay.SeverityCritical}, "")
			lags = append(lags, time.Since(t0))
			if err != nil {
				b.Fatal(err)
			}
			if acc.OnlyCopy || acc.Copies < 2 {
				b.Fatalf("post %d accepted with %d copies (only copy %v) with two peers alive", i, acc.Copies, acc.OnlyCopy)
			}
		}
	}
	b.StopTimer()
	reportPercentiles(b, "", lags)
}

// reportPercentiles reports p50_ms, p99_ms and max_ms of ds, their names
// prefixed with prefix.
func reportPercentiles(b *testing.B, prefix string, ds []time.Duration) {
	if len(ds) == 0 {
		return
	}
	slices.Sort(ds)
	ms := func(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
	b.ReportMetric(ms(ds[len(ds)*50/100]), prefix+"p50_ms")
	b.ReportMetric(ms(ds[min(len(ds)-1, len(ds)*99/100)]), prefix+"p99_ms")
	b.ReportMetric(ms(ds[len(ds)-1]), prefix+"max_ms")
}

// BenchmarkFailover measures how soon two relay serve processes finish
// the deliveries of a third killed with SIGKILL in the middle of an SMS
// fan-out to 600 people. Node C is held to 100 SMS a second while A and B
// have no limit, so A and B are done with their own share before the kill
// and every SMS they send after it is one of C's, taken over. It reports
// ms_kill_to_last_orphan (the kill to the last of those at the emulator,
// on average), max_ms_kill_to_last_orphan (the slowest of the b.N kills:
// with 10 or more, an upper bound of the p99 the target names), orphans,
// and duplicates.
func BenchmarkFailover(b *testing.B) {
	testkit.NoLeaks(b)
	var total, worst time.Duration
	orphans, dups := 0, 0
	for range b.N {
		d, o, k := failoverOnce(b)
		total += d
		worst = max(worst, d)
		orphans += o
		dups += k
	}
	b.ReportMetric(float64(total.Microseconds())/1000/float64(b.N), "ms_kill_to_last_orphan")
	b.ReportMetric(float64(worst.Microseconds())/1000, "max_ms_kill_to_last_orphan")
	b.ReportMetric(float64(orphans)/float64(b.N), "orphans")
	b.ReportMetric(float64(dups)/float64(b.N), "duplicates")
}

func failoverOnce(b *testing.B) (failover time.Duration, orphans, dups int) {
	b.StopTimer()
	const people, victim = 600, 2
	cl := startCluster(b, clusterSpec{nodes: 3, people: people, rate: func(i int) (float64, float64) {
		if i == victim {
			return 100, 0
		}
		return 0, 0
	}})
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	const text = "판교 센터로 전환 완료, 사내 메신저는 계속 중단"
	acc, err := cl.nodes[0].c.Post(ctx, &relay.Post{Incident: "failover", Text: text, To: []string{"group:all"},
		Severity: relay.SeverityCritical, Channels: []string{relay.ChannelSMS}}, "")
	if err != nil {
		b.Fatal(err)
	}
	v := cl.nodes[victim]
	// A and B have worked through their queues and C has sent part of
	// its share.
	testkit.WaitFor(b, ctx, "A and B done with their share, C a third into its own", func() bool {
		for _, i := range []int{0, 1} {
			if sum(cl.metrics(i), "relay_delivery_queue_depth") != 0 {
				return false
			}
		}
		return countFrom(cl.s.smsArrivals(text), v.smsFrom) >= people/9
	})
	before := len(cl.s.smsArrivals(text))
	b.StartTimer()
	killedAt := time.Now()
	cl.kill(victim)
	testkit.WaitFor(b, ctx, "every person's SMS", func() bool { return len(perRecipient(cl.s.smsArrivals(text))) == people })
	b.StopTimer()
	var last time.Time
	for _, a := range cl.s.smsArrivals(text) {
		if a.from != v.smsFrom && a.at.After(killedAt) {
			orphans++
			if a.at.After(last) {
				last = a.at
			}
		}
	}
	if orphans == 0 {
		b.Fatalf("nothing was taken over from node C (%d of %d at the emulator at the kill)", before, people)
	}
	testkit.WaitFor(b, ctx, "the fan-out settled on A", func() bool {
		m, err := cl.nodes[0].c.Message(ctx, acc.ID)
		// An SMS of C's found at Twilio after the kill is recorded as
		// Twilio has it by then: delivered.
		return err == nil && m.Settled && m.Summary[relay.StatusSent]+m.Summary[relay.StatusDelivered] == people
	})
	return last.Sub(killedAt), orphans, duplicates(cl.s.smsArrivals(text))
}

// BenchmarkKillLoop runs 20 rounds on three relay serve processes: a
// fan-out to 300 people by SMS and email is posted on a random node, a
// random node is killed with SIGKILL when a random share of the fan-out
// is at the sinks, and restarted. It reports kills, lost (deliveries that
// never reached their sink within 30 s of the kill; target 0) and
// duplicates over all rounds, per kill and the most in one round, and the
// SMS among them (sms_duplicates; target 0).
func BenchmarkKillLoop(b *testing.B) {
	testkit.NoLeaks(b)
	const people, rounds = 300, 20
	cl := startCluster(b, clusterSpec{nodes: 3, people: people})
	seed := uint64(time.Now().UnixNano())
	b.Logf("random seed %d", seed)
	rng := mrand.New(mrand.NewPCG(seed, 7))
	kills, lost, dups, worst, smsDups := 0, 0, 0, 0, 0
	b.ResetTimer()
	for range b.N {
		for r := range rounds {
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			text := fmt.Sprintf("킬 루프 점검 %02d: 판교 센터 전환", r)
			poster, victim := rng.IntN(3), rng.IntN(3)
			_, err := cl.nodes[poster].c.Post(ctx, &relay.Post{Incident: "kill-loop", Text: text, To: []string{"group:all"},
				Severity: relay.SeverityCritical}, "")
			if err != nil {
				b.Fatal(err)
			}
			share := rng.IntN(2 * people)
			testkit.WaitFor(b, ctx, "part of the fan-out at the sinks", func() bool {
				return len(cl.s.smsArrivals(text))+len(cl.s.mailArrivals(text)) >= share
			})
			cl.kill(victim)
			kills++
			testkit.Poll(ctx, 30*time.Second, func() bool {
				return len(perRecipient(cl.s.smsArrivals(text)))+len(perRecipient(cl.s.mailArrivals(text))) == 2*people
			})
			sms, mails := cl.s.smsArrivals(text), cl.s.mailArrivals(text)
			missing := 2*people - len(perRecipient(sms)) - len(perRecipient(mails))
			lost += missing
			dups += duplicates(sms) + duplicates(mails)
			smsDups += duplicates(sms)
			worst = max(worst, duplicates(sms)+duplicates(mails))
			b.Logf("round %d: killed %s (posted on %s) with %d of %d at the sinks: %d lost, %d SMS and %d mails repeated",
				r, cl.nodes[victim].name, cl.nodes[poster].name, share, 2*people, missing, duplicates(sms), duplicates(mails))
			cl.start(victim)
			cl.waitWhole()
			cancel()
		}
	}
	b.StopTimer()
	b.ReportMetric(float64(kills), "kills")
	b.ReportMetric(float64(lost), "lost")
	b.ReportMetric(float64(dups), "duplicates")
	b.ReportMetric(float64(dups)/float64(kills), "duplicates/kill")
	b.ReportMetric(float64(smsDups), "sms_duplicates")
	b.ReportMetric(float64(worst), "max_duplicates/kill")
}
