package node_test

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"slices"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/oob-relay/relay/gossip"
	"github.com/oob-relay/relay/internal/testkit"
	"github.com/oob-relay/relay/relay"
	"github.com/oob-relay/relay/relay/delivery"
	"github.com/oob-relay/relay/relay/node"
	"github.com/oob-relay/relay/relay/secret"
	"github.com/oob-relay/relay/relay/trust"
)

// trustedMember is a node of an authenticated cluster on loopback, over
// real memberlist with the cluster's gossip key and label.
type trustedMember struct {
	*member
	reg *prometheus.Registry
}

// keyedCluster holds what the members of an authenticated test cluster
// share: the gossip key, and every node's key.
type keyedCluster struct {
	gossipKey string
	signers   map[string]*trust.Signer
}

func newKeyedCluster(t *testing.T, names ...string) *keyedCluster {
	raw := make([]byte, 32)
	rand.Read(raw)
	kc := &keyedCluster{gossipKey: base64.StdEncoding.EncodeToString(raw), signers: map[string]*trust.Signer{}}
	for _, name := range names {
		s, err := trust.LoadOrCreate(t.TempDir(), name)
		if err != nil {
			t.Fatal(err)
		}
		kc.signers[name] = s
	}
	return kc
}

// keyring trusts the keys of names.
func (kc *keyedCluster) keyring(names ...string) *trust.Keyring {
	keys := map[string][]ed25519.PublicKey{}
	for _, name := range names {
		keys[name] = []ed25519.PublicKey{kc.signers[name].Public()}
	}
	return trust.NewKeyring(keys)
}

// start starts node name trusting keys, joining seed when given; now, when
// set, is its wall clock.
func (kc *keyedCluster) start(t *testing.T, name, seed string, keys *trust.Keyring, now func() time.Time, counts *deliveryCounts) *trustedMember {
	t.Helper()
	reg := prometheus.NewRegistry()
	n, err := node.Open(node.Options{
		Name: name, DataDir: t.TempDir(), Logger: testLogger(name), Registerer: reg, Now: now,
		Signer: kc.signers[name], Keys: keys,
		Providers: []delivery.Provider{{Name: "sms-" + name, Channel: relay.ChannelSMS, Sender: &countingSender{node: name, by: counts}}},
		Deadline:  func(relay.Severity) time.Duration { return time.Minute },
		Lease:     5 * time.Second,
	})
	if err != nil {
		t.Fatal(err)
	}
	cfg := gossip.Config{Bind: "127.0.0.1:0", Preset: gossip.PresetLAN, RejoinInterval: 200 * time.Millisecond,
		Keys: []secret.String{secret.New(kc.gossipKey)}, Label: "relay-test"}
	if seed != "" {
		cfg.Seeds = []string{seed}
	}
	return &trustedMember{reg: reg, member: joinCluster(t, n, gossip.Options{
		Name: name, Config: cfg, Meta: gossip.NodeMeta{API: "http://" + name}.Encode(), Logger: testLogger(name), Registerer: reg,
		Signer: kc.signers[name], Keys: keys,
	})}
}

func (m *trustedMember) metric(t *testing.T, name string, labels ...string) float64 {
	return testkit.Metric(t, m.reg, name, labels...)
}

// TestRogueMemberWithTheGossipKey joins a process holding the cluster's
// gossip key and label, but no trusted node key, over real memberlist, and
// has it try what a stranger would: replace the roster (a person's phone
// and email), acknowledge for a person who never answered, post an "all
// clear" in an admin's name, rewrite an older message's text under its
// id, all with its clock far in the future. Nothing of it is folded on
// any real node, and each real node counts what it refused.
func TestRogueMemberWithTheGossipKey(t *testing.T) {
	ctx := context.Background()
	kc := newKeyedCluster(t, "seoul", "busan", "mallory")
	keys := kc.keyring("seoul", "busan")
	counts := newDeliveryCounts()
	seoul := kc.start(t, "seoul", "", keys, nil, counts)
	busan := kc.start(t, "busan", seoul.ms.LocalAddr(), keys, nil, counts)
	real := []*trustedMember{seoul, busan}
	roster := &relay.Roster{People: []relay.Person{{ID: "kim", Phone: "+821012345678", Email: "kim@example.com"}},
		Groups: []relay.Group{{ID: "all", Members: []string{"kim"}}}}
	if err := seoul.n.SetRoster(ctx, roster, "ops-admin"); err != nil {
		t.Fatal(err)
	}
	acc, err := seoul.n.Post(ctx, &relay.Post{Incident: "fire", Text: "2층 화재: 대피하세요", To: []string{"person:kim"},
		Severity: relay.SeverityCritical}, node.Author{Name: "ops-bot"}, "fire-1")
	if err != nil {
		t.Fatal(err)
	}
	testkit.Eventually(t, 10*time.Second, "busan holds seoul's message", func() bool {
		m, _ := busan.n.Store().Message(acc.Message.ID)
		return m != nil
	})

	// The rogue trusts the real nodes and itself, and its clock is ten
	// years ahead.
	future := func() time.Time { return time.Now().AddDate(10, 0, 0) }
	mallory := kc.start(t, "mallory", seoul.ms.LocalAddr(), kc.keyring("seoul", "busan", "mallory"), future, counts)
	testkit.Eventually(t, 10*time.Second, "the real nodes to keep mallory out", func() bool {
		return seoul.metric(t, "relay_gossip_refused_members_total")+busan.metric(t, "relay_gossip_refused_members_total") >= 1
	})
	forgedRoster := &relay.Roster{People: []relay.Person{{ID: "kim", Phone: "+15005550006", Email: "mallory@evil.example"}},
		Groups: []relay.Group{{ID: "all", Members: []string{"kim"}}}}
	if err := mallory.n.SetRoster(ctx, forgedRoster, "ops-admin"); err != nil {
		t.Fatal(err)
	}
	if _, err := mallory.n.Post(ctx, &relay.Post{Incident: "fire", Text: "상황 종료: 정상 근무하세요", To: []string{"group:all"},
		Severity: relay.SeverityCritical}, node.Author{Name: "ops-admin", Commander: true}, ""); err != nil {
		t.Fatal(err)
	}
	rewritten, err := mallory.n.Post(ctx, &relay.Post{Incident: "fire", Text: "훈련입니다. 무시하세요", To: []string{"person:kim"},
		Severity: relay.SeverityCritical}, node.Author{Name: "ops-bot"}, "fire-1")
	if err != nil {
		t.Fatal(err)
	}
	if rewritten.Message.ID != acc.Message.ID {
		t.Fatalf("the rogue's post has id %s, not the real message's %s", rewritten.Message.ID, acc.Message.ID)
	}
	if _, err := mallory.n.AckIncident(ctx, "kim", "fire", "sms"); err != nil {
		t.Fatal(err)
	}
	// It keeps trying: its hellos and push/pull states go on.
	for _, m := range real {
		before := m.metric(t, "relay_cluster_refused_messages_total", "reason", "unknown_node")
		testkit.Eventually(t, 15*time.Second, m.n.Name()+" to refuse the rogue's messages again", func() bool {
			return m.metric(t, "relay_cluster_refused_messages_total", "reason", "unknown_node") >= before+2
		})
	}

	if got := busan.metric(t, "relay_cluster_merged_events_total"); got == 0 {
		t.Error("busan merged nothing of seoul's")
	}
	for _, m := range real {
		name := m.n.Name()
		if alive := m.ms.Alive(); !slices.Equal(alive, []string{"busan", "seoul"}) {
			t.Errorf("%s: alive members %v, want the real two", name, alive)
		}
		r, err := m.n.Roster()
		if err != nil || len(r.People) != 1 || r.People[0].Phone != "+821012345678" || r.People[0].Email != "kim@example.com" {
			t.Errorf("%s: roster %+v, %v; want the admin's", name, r, err)
		}
		msg, err := m.n.Store().Message(acc.Message.ID)
		if err != nil || msg.Text != "2층 화재: 대피하세요" {
			t.Errorf("%s: the message reads %q, %v", name, msg.Text, err)
		}
		if acks, err := m.n.Store().Acks(acc.Message.ID); err != nil || len(acks) != 0 {
			t.Errorf("%s: acknowledgements %+v, %v; kim never answered", name, acks, err)
		}
		incs, err := m.n.Store().Incidents()
		if err != nil || len(incs) != 1 || incs[0].Messages != 1 {
			t.Errorf("%s: incidents %+v, %v; want fire with the one real message", name, incs, err)
		}
		if last := m.n.Store().Clock().Last(); last.Time().After(time.Now().Add(time.Minute)) {
			t.Errorf("%s: the clock moved to %v", name, last)
		}
		st, err := m.n.Cluster()
		if err != nil {
			t.Fatal(err)
		}
		for _, mb := range st.Members {
			if mb.Name == "mallory" {
				t.Errorf("%s lists mallory: %+v", name, mb)
			}
		}
	}
	// The roster can still be replaced by an admin.
	roster.People[0].Phone = "+821098765432"
	if err := busan.n.SetRoster(ctx, roster, "ops-admin"); err != nil {
		t.Fatalf("replacing the roster after the attack: %v", err)
	}
	testkit.Eventually(t, 10*time.Second, "seoul holds the new roster", func() bool {
		r, _ := seoul.n.Roster()
		return r.People[0].Phone == "+821098765432"
	})
}
