package console

import (
	"cmp"
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/netip"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/oob-relay/relay/relay"
	"github.com/oob-relay/relay/relay/node"
)

// Gate is what the console takes from the HTTP API (*api.API is one): the
// client address behind a request, the per-address limit shared with the
// API, and the API's bearer tokens.
type Gate interface {
	ClientAddr(r *http.Request) netip.Addr
	AdmitAddress(addr netip.Addr) time.Duration
	Bearer(r *http.Request) (name string, role relay.Role, wait time.Duration, ok bool)
}

// Defaults of Options, each with its reason.
const (
	// DefaultMaxStreams bounds the live streams a node serves at once:
	// each holds a connection and renders on every change.
	DefaultMaxStreams = 2000
	// DefaultStreamsPerSession lets one person keep a few tabs live.
	DefaultStreamsPerSession = 4
	// DefaultHeartbeat keeps proxies from closing an idle stream and
	// shows a dead node to the page within seconds of the next beat.
	DefaultHeartbeat = 15 * time.Second
	// DefaultHandoffEvery renews the page's hand-off well within its
	// 10 min life.
	DefaultHandoffEvery = 3 * time.Minute
	// DefaultRenderEvery bounds how often a stream renders the room
	// again: changes that come faster are shown together.
	DefaultRenderEvery = 250 * time.Millisecond
	// DefaultMaxFormBytes bounds a posted form; a roster upload has its
	// own bound.
	DefaultMaxFormBytes = 128 << 10
	// DefaultMaxRosterBytes bounds a roster uploaded through the console.
	DefaultMaxRosterBytes = 8 << 20
	// DefaultMatrixRows bounds the delivery matrix's rows on the page
	// (the unreached first); the export has every row.
	DefaultMatrixRows = 300
)

// Options configures the console.
type Options struct {
	Node *node.Node
	// Gate gives the API's address limits and tokens; required.
	Gate Gate
	// Secure marks the node as served over HTTPS: the session cookie is
	// then __Host-relay_session with the Secure attribute.
	Secure bool
	// PublicURL is the node's public base URL, whose origin is accepted
	// on POST besides the request's own host.
	PublicURL string
	// Dev marks relay dev: the login page says where codes go.
	Dev bool

	MaxStreams        int
	StreamsPerSession int
	Heartbeat         time.Duration
	HandoffEvery      time.Duration
	RenderEvery       time.Duration
	MaxFormBytes      int64
	MaxRosterBytes    int64
	MatrixRows        int

	Logger     *slog.Logger
	Registerer prometheus.Registerer
	// Now tells the time; nil means the node's clock.
	Now func() time.Time
}

// Console is the web console's handler. Close ends its live streams.
type Console struct {
	opts     Options
	n        *node.Node
	log      *slog.Logger
	mux      *http.ServeMux
	pages    *templates
	static   *staticFiles
	streams  *streams
	handoff  *usedHandoffs
	rooms    *roomCache
	messages *messageCache
	m        *metrics

	done      chan struct{}
	closeOnce sync.Once
	wg        sync.WaitGroup
}

// New returns the console of opts.Node.
func New(opts Options) (*Console, error) {
	if opts.Node == nil {
		return nil, errors.New("console: Node is required")
	}
	if opts.Gate == nil {
		return nil, errors.New("console: Gate is required")
	}
	opts.MaxStreams = cmp.Or(opts.MaxStreams, DefaultMaxStreams)
	opts.StreamsPerSession = cmp.Or(opts.StreamsPerSession, DefaultStreamsPerSession)
	opts.Heartbeat = cmp.Or(opts.Heartbeat, DefaultHeartbeat)
	opts.HandoffEvery = cmp.Or(opts.HandoffEvery, DefaultHandoffEvery)
	opts.RenderEvery = cmp.Or(opts.RenderEvery, DefaultRenderEvery)
	opts.MaxFormBytes = cmp.Or(opts.MaxFormBytes, DefaultMaxFormBytes)
	opts.MaxRosterBytes = cmp.Or(opts.MaxRosterBytes, DefaultMaxRosterBytes)
	opts.MatrixRows = cmp.Or(opts.MatrixRows, DefaultMatrixRows)
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Registerer == nil {
		opts.Registerer = prometheus.NewRegistry()
	}
	if opts.Now == nil {
		opts.Now = opts.Node.Now
	}
	pages, err := parseTemplates()
	if err != nil {
		return nil, err
	}
	st, err := newStaticFiles()
	if err != nil {
		return nil, err
	}
	m, err := newMetrics(opts.Registerer)
	if err != nil {
		return nil, err
	}
	c := &Console{opts: opts, n: opts.Node, log: opts.Logger, mux: http.NewServeMux(), pages: pages, static: st,
		streams: newStreams(opts.MaxStreams, opts.StreamsPerSession), handoff: newUsedHandoffs(), rooms: newRoomCache(), messages: newMessageCache(),
		m: m, done: make(chan struct{})}
	c.routes()
	return c, nil
}

// Close ends every live stream and waits for them; pages go on being
// served until the HTTP server stops.
func (c *Console) Close() {
	c.closeOnce.Do(func() { close(c.done) })
	c.wg.Wait()
}

// ServeHTTP serves the console, with its security headers on every
// answer.
func (c *Console) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	c.secureHeaders(w)
	c.mux.ServeHTTP(w, r)
}

func (c *Console) routes() {
	// Open to everyone.
	c.mux.HandleFunc("GET /static/{file}", c.serveStatic)
	c.mux.HandleFunc("GET /login", c.open(c.loginPage))
	c.mux.HandleFunc("POST /login", c.open(c.loginPost))
	c.mux.HandleFunc("GET /login/code", c.open(c.codePage))
	c.mux.HandleFunc("POST /login/code", c.open(c.codePost))
	c.mux.HandleFunc("GET /l/{token}", c.open(c.personalLink))
	c.mux.HandleFunc("GET /resume", c.open(c.resumePage))
	c.mux.HandleFunc("POST /resume", c.open(c.resumePost))
	c.mux.HandleFunc("GET /lang", c.open(c.setLang))

	// Everyone logged in.
	c.mux.HandleFunc("GET /{$}", c.page(roleAny, c.incidentsPage))
	c.mux.HandleFunc("POST /logout", c.page(roleAny, c.logout))
	c.mux.HandleFunc("GET /incidents/{id}", c.page(roleAny, c.roomPage))
	c.mux.HandleFunc("GET /incidents/{id}/live", c.page(roleAny, c.live))
	c.mux.HandleFunc("POST /incidents/{id}/reply", c.page(roleAny, c.replyPost))
	c.mux.HandleFunc("POST /incidents/{id}/ack", c.page(roleAny, c.ackPost))
	c.mux.HandleFunc("POST /incidents/{id}/answer", c.page(roleAny, c.answerPost))
	c.mux.HandleFunc("GET /incidents/{id}/export.csv", c.page(roleAny, c.exportCSV))
	c.mux.HandleFunc("GET /incidents/{id}/export.json", c.page(roleAny, c.exportJSON))
	c.mux.HandleFunc("GET /people", c.page(roleAny, c.peoplePage))
	c.mux.HandleFunc("GET /oncall", c.page(roleAny, c.onCallPage))
	c.mux.HandleFunc("GET /me", c.page(roleAny, c.mePage))
	c.mux.HandleFunc("POST /me", c.page(roleAny, c.mePost))

	// Commanders.
	c.mux.HandleFunc("GET /rollcalls/new", c.page(roleCommander, c.rollCallPage))
	c.mux.HandleFunc("POST /rollcalls/new", c.page(roleCommander, c.rollCallPost))
	c.mux.HandleFunc("GET /drills", c.page(roleCommander, c.drillsPage))
	c.mux.HandleFunc("GET /drills/{id}", c.page(roleCommander, c.drillReport))
	c.mux.HandleFunc("GET /drills/{id}/report.csv", c.page(roleCommander, c.drillCSV))

	// Admins.
	c.mux.HandleFunc("GET /admin/roster", c.page(roleAdmin, c.rosterPage))
	c.mux.HandleFunc("POST /admin/roster", c.page(roleAdmin, c.rosterPost))
	c.mux.HandleFunc("GET /admin/cluster", c.page(roleAdmin, c.clusterPage))
	c.mux.HandleFunc("GET /admin/audit", c.page(roleAdmin, c.auditPage))

	c.mux.HandleFunc("/", c.open(c.notFound))
}

// audit records a console action in the replicated trail; a failure is
// logged, never shown.
func (c *Console) audit(ctx context.Context, r *http.Request, u *user, action, target, detail string) {
	e := relay.AuditEntry{Actor: u.actor(), Action: action, Target: target, Detail: detail, Address: c.opts.Gate.ClientAddr(r).String()}
	if err := c.n.Audit(ctx, relay.CleanAudit(e)); err != nil {
		c.log.Warn("audit entry not recorded", "action", action, "actor", e.Actor, "err", err)
	}
}
