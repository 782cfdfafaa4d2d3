package main

import (
	"bufio"
	"bytes"
	"cmp"
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/base64"
	"fmt"
	"io"
	mrand "math/rand/v2"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/oob-relay/relay/channels/twilio/emulator/emulatortest"
	"github.com/oob-relay/relay/internal/testkit"
	"github.com/oob-relay/relay/relay"
	"github.com/oob-relay/relay/relay/client"
	"github.com/oob-relay/relay/relay/trust"
)

// clusterSpec describes a cluster of relay serve processes delivering to
// one set of sinks.
type clusterSpec struct {
	nodes  int
	people int
	// copies is cluster.copies; zero means the default (1).
	copies int
	// workers is delivery.workers; zero means 16.
	workers int
	// rate gives node i's SMS and email rate limits; nil or zero means
	// none.
	rate func(i int) (sms, email float64)
	// replies makes the nodes take replies: http.public_url is each
	// node's own API URL, which mounts the Twilio webhooks and gives SMS
	// their reply codes, and each node runs an SMTP server for replies by
	// email under replyDomain, all with one reply key.
	replies bool
	// inbound holds extra keys of the inbound section of a cluster that
	// takes replies, such as inbound.replies, one "key: value" per line.
	inbound []string
	// receipts makes the nodes ask for receipts: http.public_url is each
	// node's own API URL, and http.callback_url the URL of a balancer in
	// front of the running nodes, as a load balancer would be, so that a
	// receipt reaches the cluster when the node that sent is down;
	// delivery.receipt_timeout is receiptTimeout.
	receipts bool
	// gossip holds extra keys of the cluster section, such as failure
	// detector timers, one "key: value" per line.
	gossip []string
	// shipped runs relay built as it ships (shippedRelay) rather than
	// the tests' own binary, which carries the race detector.
	shipped bool
	// nats gives every node a NATS provider publishing to the sinks'
	// server; natsIngest makes it take posts from bot ops-bot on
	// relay.post.ops-bot too.
	nats       bool
	natsIngest bool
	// natsAck lets ingest's ops-bot acknowledge (and answer roll-calls)
	// for everyone on relay.ack.ops-bot too.
	natsAck bool
	// alertmanager mounts Alertmanager's webhook on every node, with the
	// token alertmanagerToken and every alert routed to group:all.
	alertmanager bool
	// shippedLimits leaves the limits section out, so that the API's
	// limits are relay's defaults. Otherwise the nodes take requests at
	// any rate: the tests' clients poll in tight loops, all from
	// 127.0.0.1.
	shippedLimits bool
	// tls makes every node serve HTTPS (http.tls) with a certificate
	// from a CA made for the test, which the tests' client trusts; the
	// CA's certificate is in the cluster's folder as ca.pem.
	tls bool
	// rosterExtra is YAML appended to the roster file, such as a
	// schedules section.
	rosterExtra string
	// admin gives the test token the admin role, so that it may apply a
	// roster.
	admin bool
	// voice gives every node a voice provider calling through the
	// emulator, whose busy or unanswered calls are made again only after
	// half an hour (within a critical message's deadline of an hour), and
	// every person the channels sms and voice.
	voice bool
	// capture keeps every request the callback URL's balancer forwards
	// (see captured), as someone who can read that traffic would.
	capture bool
	// commanders are the people (by number) the roster makes
	// commanders.
	commanders []int
	// roster, when set, is the roster file instead of people numbered
	// ones; escalationSpeedup is delivery.escalation_speedup.
	roster            string
	escalationSpeedup int
	// console is the console section of every node's config, such as
	// "console:\n  links: false\n"; empty leaves it out.
	console string
	// sites gives node i the node.site sites[i]; extra is YAML appended
	// to every node's config (a watch section, say); env gives node i's
	// process more environment.
	sites []string
	extra string
	env   func(i int) []string
	// smsProviders, when set, gives node n's channels.sms.providers list
	// (its items, each starting on a new line indented by six spaces)
	// instead of one provider twilio-<node> sending from n.smsFrom.
	smsProviders func(s *sinks, n *clusterNode) string
	// sinks, when set, is called with the sinks before any node starts,
	// to script the emulator.
	sinks func(s *sinks)
}

// capturedHook is a webhook request the balancer forwarded: what an
// eavesdropper on the way to the cluster holds.
type capturedHook struct {
	path   string
	form   url.Values
	header http.Header
	// node is the name of the node that answered it, status its answer.
	node   string
	status int
}

// alertmanagerToken is the webhook's bearer token when a cluster mounts
// Alertmanager's webhook.
const alertmanagerToken = "alertmanager-token-0123456789"

// unlimitedRates is the limits section of a test node that takes API
// requests at any rate.
const unlimitedRates = `limits:
  per_address: {rate: 0}
  per_token: {rate: 0}
`

// receiptTimeout is delivery.receipt_timeout in a cluster that asks for
// receipts: short, so that a lost receipt is fetched within a test.
const receiptTimeout = 2 * time.Second

// replyDomain is the mail domain of reply addresses in a cluster that
// takes replies.
const replyDomain = "relay.test"

// clusterNode is one member of a test cluster.
type clusterNode struct {
	name     string
	dir      string // holds the config and the data dir
	cfg      string
	api      string
	gossip   string
	smsFrom  string // the SMS sender number, so the sinks tell nodes apart
	mailFrom string // the mail sender address, likewise
	// smtpIn is the address of the node's SMTP server for replies, when
	// the cluster takes replies.
	smtpIn string
	// rejoin is cluster.rejoin_interval: how often the node retries the
	// seeds it has not reached.
	rejoin time.Duration
	// keyLine is the node's line for a trusted keys file, and keysFile
	// the trusted keys file its config names.
	keyLine  string
	keysFile string
	p        *proc // nil while stopped
	c        *client.Client
}

// testCluster is a cluster of relay serve processes on 127.0.0.1.
type testCluster struct {
	tb      testing.TB
	s       *sinks
	spec    clusterSpec
	root    string
	key     string
	label   string
	roster  string
	nodes   []*clusterNode
	http    *http.Client
	workers int
	// ca issues the nodes' certificates when the spec asks for TLS.
	ca *testkit.CA
	// replyKey signs reply addresses on every node when the cluster
	// takes replies.
	replyKey string
	// balancer is the callback URL's server when the cluster asks for
	// receipts; balanced counts the requests it forwarded.
	balancer *httptest.Server
	balanced atomic.Int64
	// captured holds the requests the balancer forwarded, when the spec
	// asks for it.
	capMu    sync.Mutex
	captured []capturedHook
	// binary is relay as it ships, when the spec asks for it.
	binary string
}

// startCluster starts the sinks and spec.nodes relay serve processes that
// know each other as seeds, and waits until every node sees every other
// one alive.
func startCluster(tb testing.TB, spec clusterSpec) *testCluster {
	tb.Helper()
	root := tb.TempDir()
	tr := &http.Transport{}
	tb.Cleanup(tr.CloseIdleConnections)
	cl := &testCluster{tb: tb, s: startSinks(tb), spec: spec, root: root, key: newGossipKey(tb), label: "relay-test",
		roster: filepath.Join(root, "roster.yaml"), http: &http.Client{Transport: tr, Timeout: 30 * time.Second},
		workers: cmp.Or(spec.workers, 16)}
	if spec.sinks != nil {
		spec.sinks(cl.s)
	}
	if spec.replies {
		cl.replyKey = newGossipKey(tb) // 44 characters; reply keys need 32 bytes
	}
	if spec.roster != "" {
		if err := os.WriteFile(filepath.Join(root, "roster.yaml"), []byte(spec.roster), 0o600); err != nil {
			tb.Fatal(err)
		}
	} else {
		var channels []string
		if spec.voice {
			channels = []string{relay.ChannelSMS, relay.ChannelVoice}
		}
		writeRosterOf(tb, root, spec.people, channels)
	}
	if spec.rosterExtra != "" {
		f, err := os.OpenFile(filepath.Join(root, "roster.yaml"), os.O_APPEND|os.O_WRONLY, 0)
		if err == nil {
			_, err = f.WriteString(spec.rosterExtra)
			err = cmp.Or(err, f.Close())
		}
		if err != nil {
			tb.Fatal(err)
		}
	}
	if len(spec.commanders) > 0 {
		markCommanders(tb, cl.roster, spec.commanders)
	}
	if spec.receipts {
		cl.balancer = httptest.NewServer(http.HandlerFunc(cl.balance))
		tb.Cleanup(cl.balancer.Close)
	}
	if spec.tls {
		cl.ca = testkit.NewCA(tb, "relay test CA")
		tr.TLSClientConfig = &tls.Config{RootCAs: cl.ca.Pool}
		if err := os.WriteFile(filepath.Join(root, "ca.pem"), cl.ca.PEM, 0o600); err != nil {
			tb.Fatal(err)
		}
	}
	for i := range spec.nodes {
		cl.nodes = append(cl.nodes, cl.newNode(root, "node-"+string(rune('a'+i)), i+1))
	}
	cl.writeKeys(filepath.Join(root, "trusted-keys"), cl.nodes...)
	for _, n := range cl.nodes {
		n.keysFile = filepath.Join(root, "trusted-keys")
	}
	var seeds []string
	for _, n := range cl.nodes {
		seeds = append(seeds, n.gossip)
	}
	for i, n := range cl.nodes {
		sms, mail := 0.0, 0.0
		if spec.rate != nil {
			sms, mail = spec.rate(i)
		}
		cl.writeConfig(n, seeds, cl.key, cl.label, sms, mail)
	}
	for i := range cl.nodes {
		cl.start(i)
	}
	cl.waitWhole()
	return cl
}

// newNode lays out a node's folder and addresses; num numbers its SMS
// sender.
func (cl *testCluster) newNode(root, name string, num int) *clusterNode {
	cl.tb.Helper()
	scheme := "http://"
	if cl.spec.tls {
		scheme = "https://"
	}
	api := cl.unusedAddr()
	n := &clusterNode{name: name, dir: filepath.Join(root, name), api: scheme + api,
		gossip: cl.unusedGossipAddr(api), smsFrom: fmt.Sprintf("+8227000%05d", num), mailFrom: name + "@relay.example.com",
		rejoin: time.Second}
	if err := os.MkdirAll(n.dir, 0o700); err != nil {
		cl.tb.Fatal(err)
	}
	n.cfg = filepath.Join(n.dir, "relay.yaml")
	// The node's key, made before it starts, as `relay node id` does.
	signer, err := trust.LoadOrCreate(filepath.Join(n.dir, "data"), name)
	if err != nil {
		cl.tb.Fatal(err)
	}
	n.keyLine = signer.Line()
	if cl.spec.replies {
		n.smtpIn = cl.unusedAddr(n.listen(), n.gossip)
	}
	if cl.spec.tls {
		certPEM, keyPEM := cl.ca.Issue(cl.tb, "127.0.0.1")
		for f, data := range map[string][]byte{"relay.pem": certPEM, "relay-key.pem": keyPEM} {
			if err := os.WriteFile(filepath.Join(n.dir, f), data, 0o600); err != nil {
				cl.tb.Fatal(err)
			}
		}
	}
	u, _ := url.Parse(n.api)
	n.c = client.New([]*url.URL{u}, testToken, cl.http)
	return n
}

// listen is the address of the node's API, host:port.
func (n *clusterNode) listen() string {
	u, _ := url.Parse(n.api)
	return u.Host
}

// writeKeys writes a trusted keys file at path listing nodes' keys.
func (cl *testCluster) writeKeys(path string, nodes ...*clusterNode) {
	cl.tb.Helper()
	var b strings.Builder
	for _, n := range nodes {
		b.WriteString(n.keyLine + "\n")
	}
	if err := os.WriteFile(path, []byte(b.String()), 0o600); err != nil {
		cl.tb.Fatal(err)
	}
}

// unusedAddr returns a free 127.0.0.1 address that is not in taken and
// that no node of the cluster has for its API, its SMTP server or its
// gossip yet: addresses are picked before the nodes start, and the kernel
// may hand a closed port out again.
func (cl *testCluster) unusedAddr(taken ...string) string {
	cl.tb.Helper()
	for {
		if addr := freeAddr(cl.tb); !slices.Contains(taken, addr) && !cl.holds(addr) {
			return addr
		}
	}
}

// unusedGossipAddr is unusedAddr for a gossip address, free for both TCP
// and UDP.
func (cl *testCluster) unusedGossipAddr(taken ...string) string {
	cl.tb.Helper()
	for {
		if addr := gossipAddr(cl.tb); !slices.Contains(taken, addr) && !cl.holds(addr) {
			return addr
		}
	}
}

// holds reports whether a node of the cluster has addr for its API, its
// SMTP server or its gossip.
func (cl *testCluster) holds(addr string) bool {
	return slices.ContainsFunc(cl.nodes, func(n *clusterNode) bool {
		return n.listen() == addr || n.smtpIn == addr || n.gossip == addr
	})
}

// writeConfig writes node n's config: its providers deliver to the sinks
// under the node's own sender addresses, and its cluster section joins
// seeds with key and label.
func (cl *testCluster) writeConfig(n *clusterNode, seeds []string, key, label string, smsRate, emailRate float64) {
	cl.tb.Helper()
	copies := cl.spec.copies
	if copies == 0 {
		copies = 1
	}
	publicURL, inbound, receipts, voice := "", "", "", ""
	if cl.spec.receipts {
		publicURL = "\n  public_url: " + n.api + "\n  callback_url: " + cl.balancer.URL
		receipts = fmt.Sprintf("\n  receipt_timeout: %s", receiptTimeout)
	}
	if cl.spec.escalationSpeedup > 0 {
		receipts += fmt.Sprintf("\n  escalation_speedup: %d", cl.spec.escalationSpeedup)
	}
	if cl.spec.voice {
		receipts += "\n  calls: {retries: 2, retry_after: 30m}"
		voice = fmt.Sprintf("\n  voice:\n    providers:\n      - name: voice-%s\n        twilio:\n          account_sid: %s\n"+
			"          auth_token_env: TEST_TWILIO_TOKEN\n          from: \"%s\"\n          api_url: %s",
			n.name, emulatortest.AccountSID, n.smsFrom, cl.s.emu.URL())
	}
	if cl.spec.replies {
		if !cl.spec.receipts {
			publicURL = "\n  public_url: " + n.api
		}
		inbound = fmt.Sprintf("  email:\n    listen: %s\n    domain: %s\n    reply_keys: [\"%s\"]\n",
			n.smtpIn, replyDomain, cl.replyKey)
		for _, k := range cl.spec.inbound {
			inbound += "  " + k + "\n"
		}
	}
	if cl.spec.alertmanager {
		inbound += "  alertmanager:\n    token: " + alertmanagerToken + "\n    default:\n      to: [group:all]\n"
	}
	if inbound != "" {
		inbound = "inbound:\n" + inbound
	}
	if !cl.spec.shippedLimits {
		inbound += unlimitedRates
	}
	tlsSection := ""
	if cl.spec.tls {
		tlsSection = "\n  tls:\n    cert_file: relay.pem\n    key_file: relay-key.pem"
	}
	role := "bot\n      answer_for: [everyone]" // the bot answers roll-calls for anyone; an admin may anyway
	if cl.spec.admin {
		role = "admin"
	}
	site := ""
	if i := slices.Index(cl.nodes, n); i >= 0 && i < len(cl.spec.sites) {
		site = "\n  site: " + cl.spec.sites[i]
	}
	smsProviders := fmt.Sprintf(`
      - name: twilio-%s
        %s
        twilio:
          account_sid: %s
          auth_token_env: TEST_TWILIO_TOKEN
          from: "%s"
          api_url: %s`, n.name, limit(smsRate), emulatortest.AccountSID, n.smsFrom, cl.s.emu.URL())
	if cl.spec.smsProviders != nil {
		smsProviders = cl.spec.smsProviders(cl.s, n)
	}
	cfg := fmt.Sprintf(`node:
  name: %s%s
  data_dir: data
http:
  listen: %s%s%s
api:
  tokens:
    - name: ops-bot
      role: %s
      token_env: TEST_RELAY_TOKEN
roster_file: %s
delivery:
  workers: %d
  backoff: {initial: 50ms, max: 500ms}%s
channels:
  sms:
    providers:%s
  email:
    providers:
      - name: smtp-%s
        %s
        smtp:
          address: %s
          tls: none
          from: "relay <%s>"%s%s
cluster:
  bind: %s
  advertise: %s
  seeds: [%s]
  rejoin_interval: %s
  keys: ["%s"]
  label: %s
  trusted_keys_file: %s
  preset: lan
  copies: %d%s
%s%s`, n.name, site, n.listen(), publicURL, tlsSection, role, cl.roster, cl.workers, receipts,
		smsProviders,
		n.name, limit(emailRate), cl.s.mail.Addr(), n.mailFrom, cl.natsProvider(n), voice,
		n.gossip, n.gossip, strings.Join(seeds, ", "), n.rejoin, key, label, n.keysFile, copies, gossipExtra(cl.spec.gossip), inbound, cl.spec.extra)
	cfg += cl.spec.console
	if err := os.WriteFile(n.cfg, []byte(cfg), 0o600); err != nil {
		cl.tb.Fatal(err)
	}
}

// natsProvider is node n's NATS provider section when the cluster has
// one.
func (cl *testCluster) natsProvider(n *clusterNode) string {
	if !cl.spec.nats {
		return ""
	}
	ingest := ""
	switch {
	case cl.spec.natsAck:
		ingest = "\n          ingest: {enabled: true, bots: [{name: ops-bot, allow: [post, ack], ack_for: [everyone]}]}"
	case cl.spec.natsIngest:
		ingest = "\n          ingest: {enabled: true, bots: [{name: ops-bot}]}"
	}
	return fmt.Sprintf("\n  nats:\n    providers:\n      - name: nats-%s\n        nats:\n          urls: [%s]%s", n.name, cl.s.nats.ClientURL(), ingest)
}

// gossipExtra indents extra cluster keys under the cluster section.
// sharedMachineGossip returns failure detector timers for the tests that
// kill a node and assert that its takeover repeats no SMS. Their three
// nodes share two cores with the whole parallel test run under the race
// detector, where the lan preset's probes (every 200 ms, 100 ms to
// answer) now and then see a live member miss them and declare it dead;
// a survivor counted dead is a different failure, which
// TestNoFalseDeathsWhenSaturated and relay/cluster's tests of members
// that still speak cover. These timers let a starved member answer late,
// and still declare the killed one dead in a few seconds.
func sharedMachineGossip() []string {
	return []string{"probe_interval: 1s", "probe_timeout: 500ms", "suspicion_mult: 4"}
}

func gossipExtra(keys []string) string {
	var b strings.Builder
	for _, k := range keys {
		b.WriteString("\n  " + k)
	}
	return b.String()
}

// balance forwards a request to a running node, as a load balancer in
// front of the cluster would: the first that answers, starting from a
// different node each time.
func (cl *testCluster) balance(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	start := int(cl.balanced.Add(1))
	for k := range cl.nodes {
		n := cl.nodes[(start+k)%len(cl.nodes)]
		req, err := http.NewRequestWithContext(r.Context(), r.Method, n.api+r.URL.RequestURI(), bytes.NewReader(body))
		if err != nil {
			continue
		}
		req.Header = r.Header.Clone()
		resp, err := cl.http.Do(req)
		if err != nil {
			continue // down: the next one
		}
		if cl.spec.capture {
			form, _ := url.ParseQuery(string(body))
			cl.capMu.Lock()
			cl.captured = append(cl.captured, capturedHook{path: r.URL.RequestURI(), form: form, header: r.Header.Clone(),
				node: n.name, status: resp.StatusCode})
			cl.capMu.Unlock()
		}
		for k, vs := range resp.Header {
			w.Header()[k] = vs
		}
		w.WriteHeader(resp.StatusCode)
		io.Copy(w, resp.Body)
		resp.Body.Close()
		return
	}
	http.Error(w, "no node answers", http.StatusBadGateway)
}

// hooks returns the requests the balancer forwarded that match, in the
// order it forwarded them.
func (cl *testCluster) hooks(match func(capturedHook) bool) []capturedHook {
	cl.capMu.Lock()
	defer cl.capMu.Unlock()
	var out []capturedHook
	for _, h := range cl.captured {
		if match(h) {
			out = append(out, h)
		}
	}
	return out
}

// start starts node i and waits until it is ready: reconciled with the
// members it reached.
func (cl *testCluster) start(i int) {
	cl.tb.Helper()
	n := cl.nodes[i]
	var env []string
	if cl.spec.env != nil {
		env = cl.spec.env(i)
	}
	if cl.spec.shipped {
		if cl.binary == "" {
			cl.binary = shippedRelay(cl.tb)
		}
		n.p = serveClient(cl.tb, cl.binary, n.cfg, n.api, cl.http, env...)
		return
	}
	bin, err := exec.LookPath("relay")
	if err != nil {
		cl.tb.Fatal(err)
	}
	n.p = serveClient(cl.tb, bin, n.cfg, n.api, cl.http, env...)
}

// kill ends node i with SIGKILL.
func (cl *testCluster) kill(i int) {
	cl.tb.Helper()
	cl.nodes[i].p.kill(cl.tb)
	cl.nodes[i].p = nil
}

// stop ends node i with SIGTERM and waits for its clean exit.
func (cl *testCluster) stop(i int) {
	cl.tb.Helper()
	cl.nodes[i].p.stop(cl.tb)
	cl.nodes[i].p = nil
}

// wipe deletes the data dir of stopped node i.
//
// The node's key is kept, as an operator restores it from the backup of
// the node's secrets: a node with a new key is a stranger until every
// node lists that key.
func (cl *testCluster) wipe(i int) {
	cl.tb.Helper()
	data := filepath.Join(cl.nodes[i].dir, "data")
	key, err := os.ReadFile(filepath.Join(data, trust.KeyFile))
	if err != nil {
		cl.tb.Fatal(err)
	}
	if err := os.RemoveAll(data); err != nil {
		cl.tb.Fatal(err)
	}
	if err := os.MkdirAll(data, 0o700); err != nil {
		cl.tb.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(data, trust.KeyFile), key, 0o600); err != nil {
		cl.tb.Fatal(err)
	}
}

// running returns the indexes of the nodes running now.
func (cl *testCluster) running() []int {
	var out []int
	for i, n := range cl.nodes {
		if n.p != nil {
			out = append(out, i)
		}
	}
	return out
}

// waitWhole waits until every running node sees exactly the running nodes
// alive and replicates to all of the others.
func (cl *testCluster) waitWhole() {
	cl.tb.Helper()
	run := cl.running()
	want := float64(len(run))
	testkit.Eventually(cl.tb, 15*time.Second, fmt.Sprintf("%d members alive on every running node", len(run)), func() bool {
		for _, i := range run {
			m := cl.metrics(i)
			if m[`relay_gossip_members{state="alive"}`] != want || m["relay_cluster_peers"] != want-1 {
				return false
			}
		}
		return true
	})
}

// metrics reads node i's /metrics into a map from series (name and
// labels as printed) to value. A node that does not answer gives an empty
// map.
func (cl *testCluster) metrics(i int) map[string]float64 {
	return scrape(cl.http, cl.nodes[i].api)
}

func scrape(hc *http.Client, base string) map[string]float64 {
	out := map[string]float64{}
	resp, err := hc.Get(base + "/metrics")
	if err != nil {
		return out
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || line[0] == '#' {
			continue
		}
		sp := strings.LastIndexByte(line, ' ')
		if sp < 0 {
			continue
		}
		if v, err := strconv.ParseFloat(line[sp+1:], 64); err == nil {
			out[line[:sp]] = v
		}
	}
	return out
}

// sum adds the values of every series of a metric.
func sum(m map[string]float64, name string) float64 {
	total := 0.0
	for series, v := range m {
		if base, _, _ := strings.Cut(series, "{"); base == name {
			total += v
		}
	}
	return total
}

// gossipAddr returns 127.0.0.1:port with the port free for both TCP and
// UDP, as memberlist needs.
func gossipAddr(tb testing.TB) string {
	tb.Helper()
	return net.JoinHostPort("127.0.0.1", strconv.Itoa(testkit.FreePort(tb, "127.0.0.1")))
}

// newGossipKey returns a random base64 AES-256 key.
func newGossipKey(tb testing.TB) string {
	tb.Helper()
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		tb.Fatal(err)
	}
	return base64.StdEncoding.EncodeToString(b)
}

// botPost is one post a trickle bot got a 202 for.
type botPost struct {
	id, marker, node string
	person           int
	onlyCopy         bool
}

// trickleBot posts a numbered message to one person every 50 ms, each to
// a random node; when that node fails, it tries the others in turn with
// the same idempotency key.
type trickleBot struct {
	cl     *testCluster
	prefix string
	people int
	quit   chan struct{}
	done   chan struct{}

	mu       sync.Mutex
	accepted []botPost
	failed   []string
}

// startBot starts a bot whose texts start with prefix.
func startBot(cl *testCluster, prefix string, people int) *trickleBot {
	b := &trickleBot{cl: cl, prefix: prefix, people: people, quit: make(chan struct{}), done: make(chan struct{})}
	go b.run()
	return b
}

func (b *trickleBot) run() {
	defer close(b.done)
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	nodes := b.cl.nodes
	for i := 0; ; i++ {
		select {
		case <-b.quit:
			return
		case <-tick.C:
		}
		person := i % b.people
		marker := fmt.Sprintf("%s #%05d", b.prefix, i)
		p := &relay.Post{Incident: "rolling-restart", Text: marker, To: []string{fmt.Sprintf("person:p%05d", person)},
			Severity: relay.SeverityCritical}
		key := fmt.Sprintf("trickle-%05d", i)
		first := mrand.IntN(len(nodes))
		var errs []string
		for k := range nodes {
			n := nodes[(first+k)%len(nodes)]
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			acc, err := n.c.Post(ctx, p, key)
			cancel()
			if err != nil {
				errs = append(errs, fmt.Sprintf("%s: %v", n.name, err))
				continue
			}
			b.mu.Lock()
			b.accepted = append(b.accepted, botPost{id: acc.ID, marker: marker, node: n.name, person: person, onlyCopy: acc.OnlyCopy})
			b.mu.Unlock()
			errs = nil
			break
		}
		if errs != nil {
			b.mu.Lock()
			b.failed = append(b.failed, marker+": "+strings.Join(errs, "; "))
			b.mu.Unlock()
		}
	}
}

// count returns how many posts were accepted so far.
func (b *trickleBot) count() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return len(b.accepted)
}

// halt stops the bot and returns the posts accepted and those every node
// refused. It may be called more than once.
func (b *trickleBot) halt() (accepted []botPost, failed []string) {
	select {
	case <-b.quit:
	default:
		close(b.quit)
	}
	<-b.done
	b.mu.Lock()
	defer b.mu.Unlock()
	return slices.Clone(b.accepted), slices.Clone(b.failed)
}
