package api

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/oob-relay/relay/relay"
	"github.com/oob-relay/relay/relay/node"
	"github.com/oob-relay/relay/relay/problem"
	"github.com/oob-relay/relay/relay/secret"
)

// DefaultMaxBodyBytes bounds request bodies when Options leave it zero:
// room for a 64 KiB message, and for a roster of a few thousand people.
const DefaultMaxBodyBytes = 1 << 20

// Token is an API bearer token.
type Token struct {
	// Name identifies the token in logs and as the author of its posts.
	Name   string
	Role   relay.Role
	Secret secret.String
}

// Options configures the API.
type Options struct {
	Node   *node.Node
	Tokens []Token
	// MaxBodyBytes bounds request bodies; zero means DefaultMaxBodyBytes.
	MaxBodyBytes int64
	// Ready reports whether the node serves traffic, for /readyz; nil
	// means always.
	Ready func() error
	// Gatherer serves /metrics; nil means no metrics endpoint.
	Gatherer   prometheus.Gatherer
	Registerer prometheus.Registerer
	Logger     *slog.Logger
}

// API is the HTTP handler of a node.
type API struct {
	opts   Options
	log    *slog.Logger
	mux    *http.ServeMux
	tokens []tokenHash

	requests *prometheus.CounterVec
	latency  *prometheus.HistogramVec
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
	if opts.MaxBodyBytes <= 0 {
		opts.MaxBodyBytes = DefaultMaxBodyBytes
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Registerer == nil {
		opts.Registerer = prometheus.NewRegistry()
	}
	a := &API{opts: opts, log: opts.Logger, mux: http.NewServeMux()}
	for _, t := range opts.Tokens {
		a.tokens = append(a.tokens, tokenHash{Token: t, sum: sha256.Sum256([]byte(t.Secret.Reveal()))})
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
	if err := registerAll(opts.Registerer, a.requests, a.latency); err != nil {
		return nil, err
	}

	a.route("POST /v1/messages", relay.RoleBot, a.postMessage)
	a.route("GET /v1/messages/{id}", relay.RoleViewer, a.getMessage)
	a.route("GET /v1/incidents", relay.RoleViewer, a.listIncidents)
	a.route("GET /v1/incidents/{id}", relay.RoleViewer, a.getIncident)
	a.route("GET /v1/roster", relay.RoleViewer, a.getRoster)
	a.route("PUT /v1/roster", relay.RoleAdmin, a.putRoster)
	a.route("GET /v1/cluster", relay.RoleViewer, a.getCluster)
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
	a.allow("/v1/cluster", "GET")
	a.allow("/healthz", "GET")
	a.allow("/readyz", "GET")
	if opts.Gatherer != nil {
		a.allow("/metrics", "GET")
	}
	a.mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		a.fail(w, http.StatusNotFound, problem.Problem{Code: problem.CodeNotFound, Message: "no such endpoint: " + r.Method + " " + r.URL.Path})
	})
	return a, nil
}

// allow answers other methods on a path with 405 and the methods it has.
func (a *API) allow(path, methods string) {
	a.mux.HandleFunc(path, func(w http.ResponseWriter, r *http.Request) {
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

// route registers a handler behind authentication (when need is set),
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
			c, ok := a.authenticate(rec, r)
			if !ok {
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

func (a *API) authenticate(w http.ResponseWriter, r *http.Request) (caller, bool) {
	h := r.Header.Get("Authorization")
	scheme, tok, ok := strings.Cut(h, " ")
	if h == "" || !ok || !strings.EqualFold(scheme, "Bearer") || tok == "" {
		w.Header().Set("WWW-Authenticate", `Bearer realm="relay"`)
		msg := "missing bearer token: send Authorization: Bearer <token>"
		switch {
		case h != "" && strings.EqualFold(strings.TrimSpace(h), "Bearer"):
			msg = "bearer token is empty"
		case h != "":
			msg = "Authorization header is not a bearer token"
		}
		a.fail(w, http.StatusUnauthorized, problem.Problem{Code: problem.CodeUnauthorized, Message: msg})
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
		w.Header().Set("WWW-Authenticate", `Bearer realm="relay", error="invalid_token"`)
		a.fail(w, http.StatusUnauthorized, problem.Problem{Code: problem.CodeUnauthorized, Message: "bearer token is not valid on this node"})
		return caller{}, false
	}
	return caller{name: found.Name, role: found.Role}, true
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
