package api

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"log/slog"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"golang.org/x/time/rate"

	"github.com/oob-relay/relay/relay"
	"github.com/oob-relay/relay/relay/loggate"
	"github.com/oob-relay/relay/relay/node"
	"github.com/oob-relay/relay/relay/problem"
	"github.com/oob-relay/relay/relay/secret"
)

// DefaultMaxBodyBytes bounds request bodies when Options leave it zero:
// room for a 64 KiB message, and for a roster of a few thousand people.
const DefaultMaxBodyBytes = 1 << 20

// DefaultMaxRosterBytes bounds a roster sent to PUT /v1/roster when
// Options leave it zero: a roster of relay.MaxPeople people fits.
const DefaultMaxRosterBytes = 32 << 20

// Token is an API bearer token.
type Token struct {
	// Name identifies the token in logs and as the author of its posts.
	Name   string
	Role   relay.Role
	Secret secret.String
	// AnswerFor lists the people a bot token may answer roll-calls and
	// acknowledge incidents for, as audience targets; an admin may for
	// anyone.
	AnswerFor []string
}

// Options configures the API.
type Options struct {
	Node   *node.Node
	Tokens []Token
	// MaxBodyBytes bounds request bodies; zero means DefaultMaxBodyBytes.
	MaxBodyBytes int64
	// MaxRosterBytes bounds a roster sent to PUT /v1/roster; zero means
	// DefaultMaxRosterBytes.
	MaxRosterBytes int64
	// Ready reports whether the node serves traffic, for /readyz; nil
	// means always.
	Ready func() error
	// Gatherer serves /metrics; nil means no metrics endpoint.
	Gatherer   prometheus.Gatherer
	Registerer prometheus.Registerer
	Logger     *slog.Logger
	// Limits bound how fast clients may use the API; the zero value
	// takes every default.
	Limits Limits
	// TrustedProxies are the proxies in front of the node whose
	// X-Forwarded-For header names the client: without them, every
	// client behind a proxy shares the proxy's limits.
	TrustedProxies []netip.Prefix
	// Now tells the time for the limits; nil means time.Now.
	Now func() time.Time
}

// API is the HTTP handler of a node.
type API struct {
	opts   Options
	log    *slog.Logger
	mux    *http.ServeMux
	tokens []tokenHash

	requests *prometheus.CounterVec
	latency  *prometheus.HistogramVec

	clients   *clients
	perToken  map[string]*rate.Limiter
	logGate   *loggate.Gate
	authFails *prometheus.CounterVec
	throttled *prometheus.CounterVec
	// answerFor is each token's AnswerFor, by name.
	answerFor map[string][]string
}

// tokenHash keeps a token's digest, so lookups compare in constant time
// and the token itself is not kept around.
type tokenHash struct {
	Token
	sum [32]byte
}

// New returns the API handler.
func New(opts Options) (*API, error) {
	if opts.Node == nil {
		return nil, errors.New("api: Node is required")
	}
	if opts.MaxRosterBytes <= 0 {
		opts.MaxRosterBytes = DefaultMaxRosterBytes
	}
	if opts.MaxBodyBytes <= 0 {
		opts.MaxBodyBytes = DefaultMaxBodyBytes
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Registerer == nil {
		opts.Registerer = prometheus.NewRegistry()
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	opts.Limits.setDefaults()
	a := &API{opts: opts, log: opts.Logger, mux: http.NewServeMux(), clients: newClients(opts.Limits),
		perToken: map[string]*rate.Limiter{}, logGate: loggate.New(2, 10), answerFor: map[string][]string{}}
	for _, t := range opts.Tokens {
		a.tokens = append(a.tokens, tokenHash{Token: t, sum: sha256.Sum256([]byte(t.Secret.Reveal()))})
		a.perToken[t.Name] = opts.Limits.PerToken.bucket()
		a.answerFor[t.Name] = t.AnswerFor
	}
	a.requests = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: "relay", Subsystem: "http", Name: "requests_total",
		Help: "HTTP API requests by route and status code.",
	}, []string{"route", "code"})
	a.latency = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Namespace: "relay", Subsystem: "http", Name: "request_duration_seconds",
		Help:    "HTTP API request duration by route.",
		Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5},
	}, []string{"route"})
	a.authFails = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: "relay", Subsystem: "http", Name: "auth_failures_total",
		Help: "HTTP API requests refused for their credentials, by reason: missing, malformed (not a bearer token) or invalid (a token this node does not know).",
	}, []string{"reason"})
	a.throttled = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: "relay", Subsystem: "http", Name: "throttled_total",
		Help: "HTTP API requests answered 429, by the limit they hit: address (requests of one client address), token (requests of one token) or auth (the wait after wrong tokens).",
	}, []string{"limit"})
	for _, r := range []string{authMissing, authMalformed, authInvalid} {
		a.authFails.WithLabelValues(r)
	}
	for _, l := range []string{limitAddress, limitToken, limitAuth} {
		a.throttled.WithLabelValues(l)
	}
	if err := registerAll(opts.Registerer, a.requests, a.latency, a.authFails, a.throttled); err != nil {
		return nil, err
	}

	a.route("POST /v1/messages", relay.RoleBot, a.postMessage)
	a.route("GET /v1/messages/{id}", relay.RoleViewer, a.getMessage)
	a.route("GET /v1/incidents", relay.RoleViewer, a.listIncidents)
	a.route("GET /v1/incidents/{id}", relay.RoleViewer, a.getIncident)
	a.route("POST /v1/incidents/{id}/acks", relay.RoleBot, a.ackIncident)
	a.route("GET /v1/roster", relay.RoleViewer, a.getRoster)
	a.route("PUT /v1/roster", relay.RoleAdmin, a.putRoster)
	a.route("GET /v1/roster/contacts", relay.RoleViewer, a.listContactChanges)
	a.route("GET /v1/people/{id}/contacts", relay.RoleViewer, a.getContacts)
	a.route("PUT /v1/people/{id}/contacts", relay.RoleAdmin, a.putContact)
	a.route("DELETE /v1/people/{id}/contacts", relay.RoleAdmin, a.deleteContact)
	a.route("GET /v1/cluster", relay.RoleViewer, a.getCluster)
	a.route("GET /v1/oncall", relay.RoleViewer, a.listOnCall)
	a.route("GET /v1/oncall/{id}", relay.RoleViewer, a.getOnCall)
	a.route("POST /v1/schedules/{id}/overrides", relay.RoleAdmin, a.addOverride)
	a.route("DELETE /v1/schedules/{id}/overrides/{override}", relay.RoleAdmin, a.removeOverride)
	a.route("POST /v1/rollcalls", relay.RoleBot, a.startRollCall)
	a.route("GET /v1/rollcalls/{id}", relay.RoleViewer, a.getRollCall)
	a.route("POST /v1/rollcalls/{id}/answers", relay.RoleBot, a.answerRollCall)
	a.route("GET /v1/watch", relay.RoleViewer, a.getWatch)
	a.route("POST /v1/heartbeats/{name}", relay.RoleBot, a.postBeat)
	a.route("POST /v1/drills", relay.RoleAdmin, a.startDrill)
	a.route("GET /v1/drills", relay.RoleViewer, a.listDrills)
	a.route("GET /v1/drills/{id}", relay.RoleViewer, a.getDrill)
	a.route("GET /v1/drills/{id}/report", relay.RoleViewer, a.getDrillReport)
	a.route("GET /healthz", "", a.healthz)
	a.route("GET /readyz", "", a.readyz)
	if opts.Gatherer != nil {
		a.mux.Handle("GET /metrics", promhttp.HandlerFor(opts.Gatherer, promhttp.HandlerOpts{}))
	}
	a.allow("/v1/messages", "POST")
	a.allow("/v1/messages/{id}", "GET")
	a.allow("/v1/incidents", "GET")
	a.allow("/v1/incidents/{id}", "GET")
	a.allow("/v1/roster", "GET, PUT")
	a.allow("/v1/roster/contacts", "GET")
	a.allow("/v1/people/{id}/contacts", "GET, PUT, DELETE")
	a.allow("/v1/cluster", "GET")
	a.allow("/v1/oncall", "GET")
	a.allow("/v1/oncall/{id}", "GET")
	a.allow("/v1/schedules/{id}/overrides", "POST")
	a.allow("/v1/schedules/{id}/overrides/{override}", "DELETE")
	a.allow("/v1/rollcalls", "POST")
	a.allow("/v1/rollcalls/{id}", "GET")
	a.allow("/v1/rollcalls/{id}/answers", "POST")
	a.allow("/v1/watch", "GET")
	a.allow("/v1/heartbeats/{name}", "POST")
	a.allow("/v1/drills", "GET, POST")
	a.allow("/v1/drills/{id}", "GET")
	a.allow("/v1/drills/{id}/report", "GET")
	a.allow("/healthz", "GET")
	a.allow("/readyz", "GET")
	if opts.Gatherer != nil {
		a.allow("/metrics", "GET")
	}
	a.mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		if !a.admit(w, r, a.clientOf(r)) {
			return
		}
		a.fail(w, http.StatusNotFound, problem.Problem{Code: problem.CodeNotFound, Message: "no such endpoint: " + r.Method + " " + r.URL.Path})
	})
	return a, nil
}

// allow answers other methods on a path with 405 and the methods it has.
func (a *API) allow(path, methods string) {
	a.mux.HandleFunc(path, func(w http.ResponseWriter, r *http.Request) {
		if !a.admit(w, r, a.clientOf(r)) {
			return
		}
		w.Header().Set("Allow", methods)
		a.fail(w, http.StatusMethodNotAllowed, problem.Problem{Code: problem.CodeMethod, Message: r.Method + " " + r.URL.Path + " is not allowed; use " + methods})
	})
}

func registerAll(reg prometheus.Registerer, cs ...prometheus.Collector) error {
	for _, c := range cs {
		if err := reg.Register(c); err != nil {
			return err
		}
	}
	return nil
}

// ServeHTTP serves the API.
func (a *API) ServeHTTP(w http.ResponseWriter, r *http.Request) { a.mux.ServeHTTP(w, r) }

type caller struct {
	name string
	role relay.Role
}

type callerKey struct{}

func callerOf(ctx context.Context) caller {
	c, _ := ctx.Value(callerKey{}).(caller)
	return c
}

// route registers a handler behind the limits and authentication (when
// need is set: health and readiness need nothing and are never limited),
// metrics and the method check.
func (a *API) route(pattern string, need relay.Role, h http.HandlerFunc) {
	method, path, _ := strings.Cut(pattern, " ")
	label := path
	a.mux.HandleFunc(pattern, func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		rec := &statusRecorder{ResponseWriter: w, status: http.StatusOK}
		defer func() {
			a.requests.WithLabelValues(label, strconv.Itoa(rec.status)).Inc()
			a.latency.WithLabelValues(label).Observe(time.Since(start).Seconds())
		}()
		if need != "" {
			from := a.clientOf(r)
			if !a.admit(rec, r, from) {
				return
			}
			c, ok := a.authenticate(rec, r, from)
			if !ok {
				return
			}
			if !a.admitToken(rec, r, c) {
				return
			}
			if !c.role.Allows(need) {
				a.fail(rec, http.StatusForbidden, problem.Problem{Code: problem.CodeForbidden, Message: "token " + c.name + " has role " + string(c.role) + "; " + method + " " + path + " needs " + string(need)})
				return
			}
			r = r.WithContext(context.WithValue(r.Context(), callerKey{}, c))
		}
		h(rec, r)
	})
}

// Reasons of failed authentication, the label values of
// relay_http_auth_failures_total.
const (
	authMissing   = "missing"
	authMalformed = "malformed"
	authInvalid   = "invalid"
)

func (a *API) authenticate(w http.ResponseWriter, r *http.Request, from netip.Addr) (caller, bool) {
	h := r.Header.Get("Authorization")
	scheme, tok, ok := strings.Cut(h, " ")
	if h == "" || !ok || !strings.EqualFold(scheme, "Bearer") || tok == "" {
		w.Header().Set("WWW-Authenticate", `Bearer realm="relay"`)
		msg, reason := "missing bearer token: send Authorization: Bearer <token>", authMissing
		switch {
		case h != "" && strings.EqualFold(strings.TrimSpace(h), "Bearer"):
			msg, reason = "bearer token is empty", authMalformed
		case h != "":
			msg, reason = "Authorization header is not a bearer token", authMalformed
		}
		a.authFailed(r, from, reason, 0, 0)
		a.fail(w, http.StatusUnauthorized, problem.Problem{Code: problem.CodeUnauthorized, Message: msg})
		return caller{}, false
	}
	if wait := a.clients.authWait(from, a.opts.Now()); wait > 0 {
		a.tooMany(w, r, from, limitAuth, wait, "too many wrong tokens from "+addrText(from))
		return caller{}, false
	}
	sum := sha256.Sum256([]byte(strings.TrimSpace(tok)))
	var found *tokenHash
	for i := range a.tokens {
		if subtle.ConstantTimeCompare(sum[:], a.tokens[i].sum[:]) == 1 {
			found = &a.tokens[i]
		}
	}
	if found == nil {
		n, wait := a.clients.failed(from, a.opts.Now())
		a.authFailed(r, from, authInvalid, n, wait)
		w.Header().Set("WWW-Authenticate", `Bearer realm="relay", error="invalid_token"`)
		a.fail(w, http.StatusUnauthorized, problem.Problem{Code: problem.CodeUnauthorized, Message: "bearer token is not valid on this node"})
		return caller{}, false
	}
	return caller{name: found.Name, role: found.Role}, true
}

// authFailed counts and logs a refused credential: never the credential,
// and at most a few lines a second whatever comes.
func (a *API) authFailed(r *http.Request, from netip.Addr, reason string, failures int, wait time.Duration) {
	a.authFails.WithLabelValues(reason).Inc()
	if suppressed, ok := a.logGate.Allow(a.opts.Now()); ok {
		args := []any{"client", addrText(from), "reason", reason, "method", r.Method, "path", r.URL.Path}
		if reason == authInvalid {
			args = append(args, "failures_in_a_row", failures)
		}
		if wait > 0 {
			args = append(args, "wait", wait)
		}
		if suppressed > 0 {
			args = append(args, "lines_suppressed", suppressed)
		}
		a.log.Warn("authentication failed", args...)
	}
}

type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (s *statusRecorder) WriteHeader(code int) {
	s.status = code
	s.ResponseWriter.WriteHeader(code)
}

// Unwrap lets http.ResponseController reach the underlying writer.
func (s *statusRecorder) Unwrap() http.ResponseWriter { return s.ResponseWriter }

func (a *API) healthz(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok", "node": a.opts.Node.Name()})
}

func (a *API) readyz(w http.ResponseWriter, r *http.Request) {
	if a.opts.Ready != nil {
		if err := a.opts.Ready(); err != nil {
			a.fail(w, http.StatusServiceUnavailable, problem.Problem{Code: problem.CodeUnavailable, Message: "not ready: " + err.Error()})
			return
		}
	}
	writeJSON(w, http.StatusOK, map[string]string{"status": "ready", "node": a.opts.Node.Name()})
}
