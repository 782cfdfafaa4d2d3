package alertmanager

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"mime"
	"net/http"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/oob-relay/relay/relay"
	"github.com/oob-relay/relay/relay/loggate"
	"github.com/oob-relay/relay/relay/problem"
)

// Options configures Handler.
type Options struct {
	// Config is read once, when Handler is called. Its secrets must be
	// resolved (see Config.ResolveSecrets) and it must be valid.
	Config *Config
	// Post stores a post under an idempotency key, as the node's API does
	// for a client's post, and returns the message's id and whether the
	// key found an earlier message. Problems with the post are
	// *relay.FieldError values, possibly joined with errors.Join; any other
	// error means the post could not be stored for now.
	Post func(ctx context.Context, p *relay.Post, key string) (messageID string, replayed bool, err error)
	// Heartbeat, when set, reports whether a receiver is named for one of
	// the node's heartbeats, and beats it. A notification to such a
	// receiver (Alertmanager's always-firing Watchdog alert) is a beat
	// while it fires, never a message.
	Heartbeat func(ctx context.Context, receiver string, firing bool) (handled bool, err error)
	// Logger defaults to a logger that discards.
	Logger *slog.Logger
	// Registerer receives the metrics; nil means a private registry.
	Registerer prometheus.Registerer
}

// Response is the body of a 200 answer.
type Response struct {
	// Incident is the incident the notification's group posts to.
	Incident string `json:"incident"`
	// Messages lists the messages posted, one per matched route.
	Messages []Posted `json:"messages"`
}

// Posted is one message a notification posted.
type Posted struct {
	ID string `json:"id"`
	// Route is the config key of the route that made it.
	Route string `json:"route"`
	// Replayed is true when an earlier delivery of the same notification
	// had already posted it.
	Replayed bool `json:"replayed,omitempty"`
}

// Outcomes of a notification, the values of the metric's outcome label.
var outcomes = []string{"posted", "replayed", "beat", "method_not_allowed", "unauthorized", "unsupported_media_type",
	"too_large", "bad_request", "no_route", "rejected", "unavailable"}

type handler struct {
	opts  Options
	log   *slog.Logger
	rt    *router
	limit int64
	// Digests of the credentials, compared in constant time; nil when
	// that kind of credential is not configured.
	token, user, password *[32]byte
	challenge             []string
	notifications         *prometheus.CounterVec
	logGate               *loggate.Gate
}

// Handler returns the webhook handler Alertmanager posts notifications to.
// It panics when Config or Post is missing, or Config is invalid or has
// unresolved secrets: those are mistakes in the program, not in a request.
//
// It answers 405 to any method but POST; 401 with a WWW-Authenticate
// challenge when the credentials are missing or wrong; 415 for a body
// that is not JSON; 413 for one over Config.MaxBodyBytes; 400 naming the
// field for a payload Decode refuses; 422 when routes or posts are wrong
// (alerts no route takes, an audience the roster lacks), which retrying
// cannot mend; 503 when a post could not be stored, so that Alertmanager
// retries; and 200 with a Response otherwise. Every post is tried even
// when another fails: a retry replays those already stored.
func Handler(opts Options) http.Handler {
	cfg := opts.Config
	switch {
	case cfg == nil:
		panic("alertmanager: Options.Config is required")
	case opts.Post == nil:
		panic("alertmanager: Options.Post is required")
	case cfg.TokenEnv != "" || cfg.TokenFile != "" || cfg.PasswordEnv != "" || cfg.PasswordFile != "":
		panic("alertmanager: Config.ResolveSecrets must be called before Handler")
	}
	rt, err := newRouter(cfg)
	if err != nil {
		panic(fmt.Sprintf("alertmanager: invalid Config: %v", err))
	}
	h := &handler{opts: opts, log: opts.Logger, rt: rt, limit: cfg.MaxBodyBytes, logGate: loggate.New(2, 10)}
	if h.log == nil {
		h.log = slog.New(slog.DiscardHandler)
	}
	if h.limit <= 0 {
		h.limit = DefaultMaxBytes
	}
	digest := func(s string) *[32]byte { sum := sha256.Sum256([]byte(s)); return &sum }
	if !cfg.Token.IsZero() {
		h.token = digest(cfg.Token.Reveal())
		h.challenge = append(h.challenge, `Bearer realm="relay"`)
	}
	if cfg.Username != "" && !cfg.Password.IsZero() {
		h.user, h.password = digest(cfg.Username), digest(cfg.Password.Reveal())
		h.challenge = append(h.challenge, `Basic realm="relay", charset="UTF-8"`)
	}
	reg := opts.Registerer
	if reg == nil {
		reg = prometheus.NewRegistry()
	}
	h.notifications = register(reg, prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: "relay", Subsystem: "alertmanager", Name: "notifications_total",
		Help: "Alertmanager webhook notifications received, by outcome.",
	}, []string{"outcome"}))
	for _, o := range outcomes {
		h.notifications.WithLabelValues(o)
	}
	return h
}

// register registers c, or returns the collector already registered in
// its place, so that a handler made again on the same registry counts on.
func register(reg prometheus.Registerer, c *prometheus.CounterVec) *prometheus.CounterVec {
	err := reg.Register(c)
	var are prometheus.AlreadyRegisteredError
	switch {
	case err == nil:
		return c
	case errors.As(err, &are):
		if existing, ok := are.ExistingCollector.(*prometheus.CounterVec); ok {
			return existing
		}
	}
	panic(fmt.Sprintf("alertmanager: register metrics: %v", err))
}

func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		h.refuse(w, r, http.StatusMethodNotAllowed, "method_not_allowed",
			problem.Problem{Code: problem.CodeMethod, Message: r.Method + " is not allowed; Alertmanager posts notifications with POST"})
		return
	}
	if !h.authenticate(w, r) {
		return
	}
	if ct := r.Header.Get("Content-Type"); ct != "" {
		if mt, _, err := mime.ParseMediaType(ct); err != nil || mt != "application/json" {
			h.refuse(w, r, http.StatusUnsupportedMediaType, "unsupported_media_type",
				problem.Problem{Code: problem.CodeUnsupportedType, Message: fmt.Sprintf("Content-Type %q is not supported; send application/json", ct)})
			return
		}
	}
	if r.ContentLength > h.limit {
		h.refuse(w, r, http.StatusRequestEntityTooLarge, "too_large", tooLarge(h.limit))
		return
	}
	n, err := Decode(r.Body, h.limit)
	if err != nil {
		h.refuseDecode(w, r, err)
		return
	}
	if h.opts.Heartbeat != nil {
		handled, err := h.opts.Heartbeat(r.Context(), n.Receiver, n.Status == "firing")
		switch {
		case err != nil:
			h.log.Error("alertmanager heartbeat not stored", "receiver", n.Receiver, "err", err)
			h.refuse(w, r, http.StatusServiceUnavailable, "unavailable", problem.Problem{Code: problem.CodeUnavailable,
				Message: "the heartbeat could not be stored for now; the node's log has the cause"})
			return
		case handled:
			h.notifications.WithLabelValues("beat").Inc()
			writeJSON(w, http.StatusOK, Response{Messages: []Posted{}})
			return
		}
	}
	h.post(w, r, n)
}

// post makes the notification's posts and answers.
func (h *handler) post(w http.ResponseWriter, r *http.Request, n *Notification) {
	reqs, routeErr := h.rt.posts(n)
	resp := Response{Incident: IncidentID(n), Messages: []Posted{}}
	var (
		details  []problem.Detail
		failures int
		replays  int
	)
	for _, req := range reqs {
		id, replayed, err := h.opts.Post(r.Context(), &req.Post, req.Key)
		if err != nil {
			if ds, ok := fieldDetails(err, req.Route); ok {
				details = append(details, ds...)
				continue
			}
			failures++
			h.log.Error("alertmanager notification not stored", "incident", resp.Incident, "route", req.Route, "err", err)
			continue
		}
		if replayed {
			replays++
		}
		resp.Messages = append(resp.Messages, Posted{ID: id, Route: req.Route, Replayed: replayed})
	}
	var noRoute *NoRouteError
	switch {
	case failures > 0:
		h.refuse(w, r, http.StatusServiceUnavailable, "unavailable", problem.Problem{Code: problem.CodeUnavailable,
			Message: fmt.Sprintf("%d of %d messages could not be stored; the node's log has the cause, and a retry posts the rest once", failures, len(reqs))})
	case len(details) > 0:
		h.refuse(w, r, http.StatusUnprocessableEntity, "rejected", problem.Invalid(details))
	case errors.As(routeErr, &noRoute):
		h.refuse(w, r, http.StatusUnprocessableEntity, "no_route", problem.Problem{Code: problem.CodeNoRoute,
			Message: fmt.Sprintf("%s (%d messages posted for the other alerts)", noRoute.Error(), len(resp.Messages))})
	case routeErr != nil:
		h.refuse(w, r, http.StatusServiceUnavailable, "unavailable", problem.Problem{Code: problem.CodeUnavailable, Message: routeErr.Error()})
	default:
		outcome := "posted"
		if replays > 0 && replays == len(resp.Messages) {
			outcome = "replayed"
		}
		h.notifications.WithLabelValues(outcome).Inc()
		h.log.Info("alertmanager notification posted", "receiver", n.Receiver, "incident", resp.Incident,
			"status", n.Status, "alerts", len(n.Alerts), "messages", len(resp.Messages), "replayed", replays)
		writeJSON(w, http.StatusOK, resp)
	}
}

// fieldDetails lists err's problems when every one is a
// *relay.FieldError, each field prefixed with the route's config key.
func fieldDetails(err error, route string) ([]problem.Detail, bool) {
	var out []problem.Detail
	for _, fe := range problem.FieldErrors(err) {
		out = append(out, problem.Detail{Field: route + "." + fe.Field, Message: fe.Message})
	}
	return out, len(out) > 0
}

// authenticate checks the request's credentials against every kind
// configured, each in constant time, and answers 401 when none passes.
// Neither the expected nor the presented credentials reach the answer or
// the log.
func (h *handler) authenticate(w http.ResponseWriter, r *http.Request) bool {
	header := r.Header.Get("Authorization")
	ok := 0
	if h.token != nil {
		scheme, tok, _ := strings.Cut(header, " ")
		tok = strings.TrimSpace(tok)
		if strings.EqualFold(scheme, "Bearer") && tok != "" {
			sum := sha256.Sum256([]byte(tok))
			ok |= subtle.ConstantTimeCompare(sum[:], h.token[:])
		}
	}
	if h.user != nil {
		if user, pass, basic := r.BasicAuth(); basic {
			u, p := sha256.Sum256([]byte(user)), sha256.Sum256([]byte(pass))
			ok |= subtle.ConstantTimeCompare(u[:], h.user[:]) & subtle.ConstantTimeCompare(p[:], h.password[:])
		}
	}
	if ok == 1 {
		return true
	}
	for _, c := range h.challenge {
		w.Header().Add("WWW-Authenticate", c)
	}
	msg := "credentials are not valid for this receiver"
	if header == "" {
		msg = "missing credentials: configure Alertmanager's http_config with this receiver's bearer token or basic auth"
	}
	h.refuse(w, r, http.StatusUnauthorized, "unauthorized", problem.Problem{Code: problem.CodeUnauthorized, Message: msg})
	return false
}

// refuseDecode answers a payload Decode refused.
func (h *handler) refuseDecode(w http.ResponseWriter, r *http.Request, err error) {
	var tooBig *TooLargeError
	if errors.As(err, &tooBig) {
		h.refuse(w, r, http.StatusRequestEntityTooLarge, "too_large", tooLarge(tooBig.Limit))
		return
	}
	fes := problem.FieldErrors(err)
	if len(fes) == 0 {
		h.refuse(w, r, http.StatusBadRequest, "bad_request", problem.Problem{Code: problem.CodeInvalidJSON, Message: err.Error()})
		return
	}
	details := make([]problem.Detail, len(fes))
	for i, fe := range fes {
		details[i] = problem.Detail{Field: fe.Field, Message: fe.Message}
	}
	h.refuse(w, r, http.StatusBadRequest, "bad_request", problem.Invalid(details))
}

func tooLarge(limit int64) problem.Problem {
	return problem.Problem{Code: problem.CodeBodyTooLarge, Message: fmt.Sprintf("notification is larger than %d bytes; lower max_alerts in Alertmanager's webhook_config or raise max_body_bytes", limit)}
}

// refuse counts and logs a refused notification and answers it. Whoever
// sends the webhook decides how often its requests are refused, so those
// refusals are logged a few lines a second at most; a node that cannot
// store a notification (503) always says so.
func (h *handler) refuse(w http.ResponseWriter, r *http.Request, status int, outcome string, p problem.Problem) {
	h.notifications.WithLabelValues(outcome).Inc()
	args := []any{"status", status, "code", p.Code, "field", p.Field, "problem", p.Message, "remote", r.RemoteAddr}
	if status == http.StatusServiceUnavailable {
		h.log.Error("alertmanager notification refused", args...)
	} else if n, ok := h.logGate.Allow(time.Now()); ok {
		if n > 0 {
			args = append(args, "not_logged_before", n)
		}
		h.log.Warn("alertmanager notification refused", args...)
	}
	writeJSON(w, status, problem.Envelope{Error: p})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(v) // Alertmanager may have gone; nothing to do about it
}
