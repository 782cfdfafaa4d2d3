package console_test

import (
	"context"
	"crypto/ed25519"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/oob-relay/relay/gossip"
	"github.com/oob-relay/relay/internal/testkit"
	"github.com/oob-relay/relay/relay"
	"github.com/oob-relay/relay/relay/api"
	"github.com/oob-relay/relay/relay/console"
	"github.com/oob-relay/relay/relay/delivery"
	"github.com/oob-relay/relay/relay/node"
	"github.com/oob-relay/relay/relay/secret"
	"github.com/oob-relay/relay/relay/session"
	"github.com/oob-relay/relay/relay/trust"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

const (
	adminToken  = "relay-console-admin-token-4f0b2c"
	viewerToken = "relay-console-viewer-token-9e1d7a"
	incident    = "db-outage"
	koText      = "DB 장애: 결제 지연 <script>alert(1)</script>"
)

// testRoster has a responder reading Korean, a commander reading
// English, an admin, and a person nobody gave a role.
func testRoster() *relay.Roster {
	return &relay.Roster{
		People: []relay.Person{
			{ID: "kim", Name: "김민준", Phone: "+821011112222", Email: "kim@example.com"},
			{ID: "lee", Name: "Lee Seo-yeon", Phone: "+821033334444", Email: "lee@example.com", Lang: "en", Roles: []string{relay.PersonCommander}},
			{ID: "park", Name: "박지훈", Email: "park@example.com", Roles: []string{relay.PersonAdmin}},
			{ID: "choi", Name: "최유나", Phone: "+821055556666"},
		},
		Groups: []relay.Group{{ID: "db-oncall", Name: "DB 당직", Members: []string{"kim", "lee"}}},
	}
}

// tnode is one node with its API and console behind a real HTTP server.
type tnode struct {
	n   *node.Node
	url string
	srv *httptest.Server
	con *console.Console
	ms  *gossip.Membership
	sms *testkit.Sender
}

// startCluster starts nodes named names, each trusting the others' keys,
// joined in one gossip cluster, each serving the API and the console.
func startCluster(t testing.TB, names ...string) []*tnode {
	t.Helper()
	return startClusterWith(t, testRoster(), names...)
}

// startClusterWith is startCluster with the roster given.
func startClusterWith(t testing.TB, roster *relay.Roster, names ...string) []*tnode {
	t.Helper()
	return startClusterOpts(t, clusterOpts{roster: roster}, names...)
}

// clusterOpts are what startClusterOpts may change.
type clusterOpts struct {
	roster *relay.Roster
	// sites gives nodes their site; a node not named is its own.
	sites map[string]string
}

// startClusterOpts is startCluster with opts.
func startClusterOpts(t testing.TB, opts clusterOpts, names ...string) []*tnode {
	t.Helper()
	roster := opts.roster
	if roster == nil {
		roster = testRoster()
	}
	keys := map[string][]ed25519.PublicKey{}
	signers := map[string]*trust.Signer{}
	for _, name := range names {
		_, k, _ := ed25519.GenerateKey(nil)
		signers[name] = trust.NewSigner(name, k)
		keys[name] = []ed25519.PublicKey{signers[name].Public()}
	}
	ring := trust.NewKeyring(keys)
	var out []*tnode
	seed := ""
	for _, name := range names {
		tn := &tnode{sms: &testkit.Sender{}}
		tn.srv = httptest.NewUnstartedServer(nil)
		tn.url = "http://" + tn.srv.Listener.Addr().String()
		n, err := node.Open(node.Options{
			Name: name, DataDir: t.TempDir(), Signer: signers[name], Keys: ring,
			Providers: []delivery.Provider{
				{Name: "sms-" + name, Channel: relay.ChannelSMS, Sender: tn.sms},
				{Name: "mail-" + name, Channel: relay.ChannelEmail, Sender: &testkit.Sender{}},
			},
			Deadline:  func(relay.Severity) time.Duration { return time.Minute },
			Roster:    roster,
			PublicURL: tn.url,
			Site:      opts.sites[name],
		})
		if err != nil {
			t.Fatal(err)
		}
		tn.n = n
		cfg := gossip.Config{Bind: "127.0.0.1:0", Preset: gossip.PresetLAN, RejoinInterval: time.Second}
		if seed != "" {
			cfg.Seeds = []string{seed}
		}
		tn.ms, err = gossip.New(gossip.Options{Name: name, Config: cfg, Dev: true, Meta: gossip.NodeMeta{API: tn.url}.Encode(),
			OnMessage: n.Replicator().OnMessage, OnDatagram: n.Replicator().OnDatagram,
			LocalState: n.Replicator().LocalState, MergeState: n.Replicator().MergeState,
			OnChange: n.MembershipChanged})
		if err != nil {
			t.Fatal(err)
		}
		n.Attach(tn.ms.Cluster())
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		if err := tn.ms.Start(ctx); err != nil {
			cancel()
			t.Fatal(err)
		}
		n.MembershipChanged()
		if err := n.Start(ctx); err != nil {
			cancel()
			t.Fatal(err)
		}
		cancel()
		if seed == "" {
			seed = tn.ms.LocalAddr()
		}
		a, err := api.New(api.Options{Node: n, Tokens: []api.Token{
			{Name: "ops-admin", Role: relay.RoleAdmin, Secret: secret.New(adminToken)},
			{Name: "dashboard", Role: relay.RoleViewer, Secret: secret.New(viewerToken)},
		}, Limits: api.Limits{PerAddress: api.NoLimit, PerToken: api.NoLimit}})
		if err != nil {
			t.Fatal(err)
		}
		tn.con, err = console.New(console.Options{Node: n, Gate: a, PublicURL: tn.url, Heartbeat: time.Second, RenderEvery: 50 * time.Millisecond})
		if err != nil {
			t.Fatal(err)
		}
		mux := http.NewServeMux()
		mux.Handle("/", tn.con)
		for _, p := range []string{"/v1/", "/healthz", "/readyz"} {
			mux.Handle(p, a)
		}
		tn.srv.Config.Handler = mux
		tn.srv.Start()
		t.Cleanup(tn.stop)
		out = append(out, tn)
	}
	testkit.Eventually(t, 10*time.Second, "every member sees the others", func() bool {
		for _, tn := range out {
			if len(tn.ms.Alive()) != len(out) {
				return false
			}
		}
		return true
	})
	for _, tn := range out {
		tn.n.MembershipChanged()
	}
	return out
}

// stop stops the node: its console's streams, its server, its
// membership and the node.
func (tn *tnode) stop() {
	if tn.n == nil {
		return
	}
	tn.con.Close()
	tn.srv.CloseClientConnections()
	tn.srv.Close()
	tn.ms.Shutdown()
	tn.n.Close(context.Background())
	tn.n = nil
}

// browser is a client with a cookie jar that does not follow redirects,
// sending what a browser sends on a same-origin form post.
type browser struct {
	t    *testing.T
	jar  *cookiejar.Jar
	http *http.Client
}

func newBrowser(t *testing.T) *browser {
	jar, _ := cookiejar.New(nil)
	tr := &http.Transport{}
	t.Cleanup(tr.CloseIdleConnections)
	return &browser{t: t, jar: jar, http: &http.Client{Jar: jar, Transport: tr, Timeout: 10 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

// page is an answer read whole.
type page struct {
	status int
	header http.Header
	body   string
}

func (b *browser) do(req *http.Request) page {
	b.t.Helper()
	resp, err := b.http.Do(req)
	if err != nil {
		b.t.Fatalf("%s %s: %v", req.Method, req.URL, err)
	}
	defer resp.Body.Close()
	var sb strings.Builder
	buf := make([]byte, 32<<10)
	for {
		n, err := resp.Body.Read(buf)
		sb.Write(buf[:n])
		if err != nil {
			break
		}
	}
	return page{status: resp.StatusCode, header: resp.Header, body: sb.String()}
}

func (b *browser) get(u string) page {
	b.t.Helper()
	req, _ := http.NewRequest(http.MethodGet, u, nil)
	return b.do(req)
}

// post sends a form as a browser does from a page of origin.
func (b *browser) post(u string, form url.Values, origin string) page {
	b.t.Helper()
	req, _ := http.NewRequest(http.MethodPost, u, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if origin != "" {
		req.Header.Set("Origin", origin)
		req.Header.Set("Sec-Fetch-Site", "same-origin")
	}
	return b.do(req)
}

// login gives b a session of person signed by tn, as a finished login
// does, and returns its claims.
func (b *browser) login(tn *tnode, person string) session.Claims {
	b.t.Helper()
	tok, cl := tn.n.Tokens().Issue(session.KindSession, "", person, "", time.Hour)
	b.setSession(tn, tok)
	return cl
}

func (b *browser) setSession(tn *tnode, tok string) {
	u, _ := url.Parse(tn.url)
	b.jar.SetCookies(u, []*http.Cookie{{Name: "relay_session", Value: tok, Path: "/"}})
}

var csrfField = regexp.MustCompile(`name="csrf" value="([^"]*)"`)

// csrf returns the form token of a page.
func csrf(t *testing.T, p page) string {
	t.Helper()
	m := csrfField.FindStringSubmatch(p.body)
	if m == nil || m[1] == "" {
		t.Fatalf("no csrf field in the page:\n%s", p.body)
	}
	return m[1]
}

// post posts to the incident on tn and returns the message.
func postIncident(t testing.TB, tn *tnode, text string, to ...string) *relay.Message {
	t.Helper()
	acc, err := tn.n.Post(t.Context(), &relay.Post{Incident: incident, Text: text, To: to, Severity: relay.SeverityCritical},
		node.Author{Name: "alert-bot"}, "")
	if err != nil {
		t.Fatal(err)
	}
	return acc.Message
}

func nodeAuthor() node.Author { return node.Author{Name: "alert-bot"} }
