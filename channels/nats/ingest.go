package nats

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"

	natsgo "github.com/nats-io/nats.go"
	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/time/rate"

	"github.com/oob-relay/relay/relay"
	"github.com/oob-relay/relay/relay/loggate"
	"github.com/oob-relay/relay/relay/problem"
)

// confirmTimeout bounds the wait for the server to confirm the
// subscriptions when Subscribe's context has no deadline.
const confirmTimeout = 5 * time.Second

// Inbox takes what bots send over NATS. It is implemented by the core;
// its methods are called from many goroutines at once, must honour ctx,
// and should answer refusals as errors the reply can explain:
//
//   - *relay.FieldError values, possibly joined with errors.Join, become
//     problem.CodeInvalidField with every field listed;
//   - a *problem.Problem whose Code is one of Codes is sent as it is
//     (problem.CodeKeyReused for an idempotency key used for another
//     request), its Details as the fields at fault;
//   - errors wrapping relay.ErrNotFound become problem.CodeNotFound;
//   - anything else is logged and answered problem.CodeInternal without
//     its text.
type Inbox interface {
	// Post accepts a validated post. author is the configured bot whose
	// subject the request came on: the NATS server's permissions vouch
	// for it, nothing in the request does. key is the idempotency key,
	// or "", scoped by the core to this author on NATS. It returns the
	// message id and whether the key found an earlier message.
	Post(ctx context.Context, p *relay.Post, author, key string) (messageID string, replayed bool, err error)
	// Ack records that a person acknowledged an incident or a message and
	// returns the ids of the messages acknowledged; with an Answer, it
	// first records the person's answer to the incident's roll-call, and
	// refuses the whole request when no open roll-call of the incident
	// asked them with that option. Ingest has checked with Member that
	// the bot may acknowledge for the person.
	// bot is the configured bot whose subject the request came on.
	Ack(ctx context.Context, bot string, a AckRequest) (acked []string, err error)
	// Member reports whether person is among the audience targets
	// (person:<id>, group:<id>, everyone) by the current roster. A target
	// the roster does not know names nobody.
	Member(ctx context.Context, person string, targets []string) (bool, error)
}

// Reasons a request is refused by ingest itself, the values of the
// refused metric's reason label.
const (
	reasonUnknownBot  = "unknown_bot"  // the subject names no configured bot
	reasonNotAllowed  = "not_allowed"  // an action the bot may not do
	reasonAuthor      = "author"       // a post naming another author
	reasonAckFor      = "ack_for"      // acknowledging for someone outside ack_for
	reasonRateLimited = "rate_limited" // over the bot's rate
	reasonTooLarge    = "too_large"    // over max_request_bytes
	reasonBusy        = "busy"         // max_in_flight requests held already
	reasonInvalid     = "invalid"      // the request's own fields
)

var reasons = []string{reasonUnknownBot, reasonNotAllowed, reasonAuthor, reasonAckFor, reasonRateLimited,
	reasonTooLarge, reasonBusy, reasonInvalid}

// refusal is a refusal by ingest itself: the problem answered and the
// reason counted.
type refusal struct {
	reason string
	p      *problem.Problem
}

func (r *refusal) Error() string { return r.p.Error() }
func (r *refusal) Unwrap() error { return r.p }

// bot is a configured bot with its rate limit.
type bot struct {
	Bot
	limit *rate.Limiter
}

// Ingest answers post and ack requests on NATS until Close. It is safe
// for concurrent use.
type Ingest struct {
	nc    *natsgo.Conn
	cfg   IngestConfig
	inbox Inbox
	log   *slog.Logger
	reg   prometheus.Registerer
	subs  []*natsgo.Subscription
	bots  map[string]*bot
	// held bounds the requests held (MaxInFlight), slots those handled
	// at once (Concurrency).
	held  chan struct{}
	slots chan struct{}

	requests *prometheus.CounterVec
	refused  *prometheus.CounterVec
	// refusals keeps the log lines about refused requests, which a
	// hostile client may send by the thousand, to about one a second.
	refusals *loggate.Gate
	now      func() time.Time

	// base is the parent of every request's context; a Close whose
	// context ends first cancels it.
	base   context.Context
	cancel context.CancelFunc

	mu      sync.Mutex
	stopped bool // no request starts after it is set
	running sync.WaitGroup

	closeOnce sync.Once
	closeErr  error
}

// Subscribe starts taking requests from cfg's bots in its queue group,
// over nc, which the caller keeps owning (a Publisher's Conn can be
// shared): on <post_subject>.* when a bot may post and <ack_subject>.*
// when one may acknowledge. It applies SetDefaults to its copy of cfg.
// When nc is connected, Subscribe waits, bounded by ctx, until the server
// has the subscriptions, and fails if the server does not allow them;
// otherwise the connection sends them when it connects. opts gives the
// logger and the registerer of the ingest's metrics.
func Subscribe(ctx context.Context, nc *natsgo.Conn, cfg IngestConfig, inbox Inbox, opts Options) (*Ingest, error) {
	cfg.SetDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if nc == nil || inbox == nil {
		return nil, errors.New("nats ingest: a connection and an inbox are required")
	}
	in, err := newIngest(cfg, inbox, opts)
	if err != nil {
		return nil, err
	}
	in.nc = nc
	var post, ack bool
	for _, b := range cfg.Bots {
		post = post || b.May(ActionPost)
		ack = ack || b.May(ActionAck)
	}
	before := nc.LastError()
	for _, s := range []struct {
		on      bool
		subject string
		kind    string
		handle  func(context.Context, *bot, []byte) (any, error)
	}{{post, cfg.PostSubject, ActionPost, in.post}, {ack, cfg.AckSubject, ActionAck, in.ack}} {
		if !s.on {
			continue
		}
		sub, err := nc.QueueSubscribe(s.subject+".*", cfg.QueueGroup, func(m *natsgo.Msg) { in.dispatch(m, s.kind, s.handle) })
		if err != nil {
			in.abort()
			return nil, fmt.Errorf("nats ingest: subscribe to %s.*: %w", s.subject, err)
		}
		in.subs = append(in.subs, sub)
	}
	if err := in.confirm(ctx, before); err != nil {
		in.abort()
		return nil, err
	}
	subjects := make([]string, len(in.subs))
	for i, s := range in.subs {
		subjects[i] = s.Subject
	}
	in.log.Info("nats ingest subscribed", "subjects", strings.Join(subjects, ","), "queue_group", cfg.QueueGroup, "bots", len(cfg.Bots))
	return in, nil
}

// newIngest makes an Ingest of a valid cfg, its metrics registered, that
// takes no request yet.
func newIngest(cfg IngestConfig, inbox Inbox, opts Options) (*Ingest, error) {
	base, cancel := context.WithCancel(context.Background())
	in := &Ingest{cfg: cfg, inbox: inbox, log: opts.logger(), reg: opts.Registerer,
		bots: map[string]*bot{}, held: make(chan struct{}, cfg.MaxInFlight), slots: make(chan struct{}, cfg.Concurrency),
		refusals: loggate.New(1, 10), now: time.Now, base: base, cancel: cancel}
	if in.reg == nil {
		in.reg = prometheus.NewRegistry()
	}
	if err := in.register(); err != nil {
		cancel()
		return nil, err
	}
	for _, b := range cfg.Bots {
		in.bots[b.Name] = &bot{Bot: b, limit: rate.NewLimiter(rate.Limit(b.Rate), b.Burst)}
	}
	return in, nil
}

// register creates the metrics, with a series for every bot, action and
// reason, and registers them.
func (in *Ingest) register() error {
	in.requests = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: "relay", Subsystem: "nats_ingest", Name: "requests_total",
		Help: "Requests from configured bots over NATS, by bot and kind (post, ack), refused ones included.",
	}, []string{"bot", "kind"})
	in.refused = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: "relay", Subsystem: "nats_ingest", Name: "refused_total",
		Help: "Requests NATS ingest refused before the core saw them, by bot (empty for a subject naming no configured bot) " +
			"and reason: unknown_bot, not_allowed (an action the bot may not do), author (a post naming another author), " +
			"ack_for (acknowledging for someone outside the bot's ack_for), rate_limited, too_large, busy (max_in_flight reached), " +
			"invalid (the request's own fields).",
	}, []string{"bot", "reason"})
	in.refused.WithLabelValues("", reasonUnknownBot)
	for _, b := range in.cfg.Bots {
		for _, kind := range []string{ActionPost, ActionAck} {
			in.requests.WithLabelValues(b.Name, kind)
		}
		for _, r := range reasons {
			in.refused.WithLabelValues(b.Name, r)
		}
	}
	for i, c := range []prometheus.Collector{in.requests, in.refused} {
		if err := in.reg.Register(c); err != nil {
			if i > 0 {
				in.reg.Unregister(in.requests)
			}
			return fmt.Errorf("nats ingest: register metrics: %w", err)
		}
	}
	return nil
}

func (in *Ingest) unregister() {
	in.reg.Unregister(in.requests)
	in.reg.Unregister(in.refused)
}

// confirm waits until the server has the subscriptions and reports a
// subscription it refused. before is the connection's last error before
// subscribing: the server reports a refusal only as an asynchronous error.
func (in *Ingest) confirm(ctx context.Context, before error) error {
	if in.nc.Status() != natsgo.CONNECTED {
		in.log.Warn("nats ingest not connected yet; the server gets the subscriptions on connect", "status", in.nc.Status().String())
		return nil
	}
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, confirmTimeout)
		defer cancel()
	}
	err := in.nc.FlushWithContext(ctx)
	if last := in.nc.LastError(); last != nil && !sameError(before, last) && errors.Is(last, natsgo.ErrPermissionViolation) {
		for _, s := range in.subs {
			if strings.Contains(last.Error(), `Subscription to "`+s.Subject+`"`) {
				return fmt.Errorf("nats ingest: the server does not allow subscribing to %s: %w", s.Subject, last)
			}
		}
	}
	switch {
	case err != nil && ctx.Err() != nil:
		return fmt.Errorf("nats ingest: the server did not confirm the subscriptions: %w", err)
	case err != nil:
		in.log.Warn("nats ingest subscriptions not confirmed; the connection sends them again on reconnect", "err", err)
	}
	return nil
}

// abort undoes a Subscribe that failed half way, including any request
// that came in meanwhile.
func (in *Ingest) abort() {
	for _, s := range in.subs {
		_ = s.Unsubscribe()
	}
	in.mu.Lock()
	in.stopped = true
	in.mu.Unlock()
	in.cancel()
	in.running.Wait()
	in.unregister()
}

// dispatch admits one request and runs it on its own goroutine. It is
// called on the subscription's goroutine and never waits: it refuses a
// request whose subject names no bot allowed kind, a bot over its rate,
// a payload over max_request_bytes and a request beyond max_in_flight at
// once. The goroutine waits, within the request's timeout, for one of
// Concurrency slots.
func (in *Ingest) dispatch(m *natsgo.Msg, kind string, handle func(context.Context, *bot, []byte) (any, error)) {
	name := m.Subject[strings.LastIndexByte(m.Subject, '.')+1:]
	b := in.bots[name]
	if err := in.admit(b, name, kind, len(m.Data)); err != nil {
		in.answer(m, b, nil, err)
		return
	}
	select {
	case in.held <- struct{}{}:
	default:
		in.answer(m, b, nil, &refusal{reasonBusy, &problem.Problem{Code: problem.CodeUnavailable,
			Message: fmt.Sprintf("this node holds %d requests already; retry in a moment, a post with the same idempotency_key", in.cfg.MaxInFlight)}})
		return
	}
	in.mu.Lock()
	if in.stopped {
		in.mu.Unlock()
		<-in.held
		in.answer(m, b, nil, context.Canceled)
		return
	}
	in.running.Add(1)
	in.mu.Unlock()
	go func() {
		defer in.running.Done()
		reply, err := in.handleHeld(m, b, handle)
		in.answer(m, b, reply, err)
	}()
}

// handleHeld runs handle on one of Concurrency slots and gives back the
// request's held place and its slot before the answer goes out: a bot
// that sends again as soon as it has its answer finds the node free.
func (in *Ingest) handleHeld(m *natsgo.Msg, b *bot, handle func(context.Context, *bot, []byte) (any, error)) (any, error) {
	defer func() { <-in.held }()
	ctx, cancel := context.WithTimeout(in.base, in.cfg.Timeout)
	defer cancel()
	select {
	case in.slots <- struct{}{}:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	defer func() { <-in.slots }()
	return handle(ctx, b, m.Data)
}

// admit says why a request of kind from the bot named by its subject may
// not go further, or nil. b is nil for a name no bot has.
func (in *Ingest) admit(b *bot, name, kind string, size int) error {
	if b == nil {
		if len(name) > 64 {
			name = name[:64] + "…"
		}
		return &refusal{reasonUnknownBot, &problem.Problem{Code: problem.CodeForbidden,
			Message: fmt.Sprintf("no bot %q is configured on this node: a bot sends on %s.<its name> with the credentials the NATS server gives it", name, in.subject(kind))}}
	}
	in.requests.WithLabelValues(b.Name, kind).Inc()
	if !b.May(kind) {
		return &refusal{reasonNotAllowed, &problem.Problem{Code: problem.CodeForbidden,
			Message: fmt.Sprintf("bot %s may not %s: its allow lists %s", b.Name, kindVerb(kind), strings.Join(b.Allow, ", "))}}
	}
	if r := b.limit.Reserve(); r.Delay() > 0 {
		wait := r.Delay()
		r.Cancel()
		return &refusal{reasonRateLimited, &problem.Problem{Code: problem.CodeRateLimited,
			Message: fmt.Sprintf("bot %s is over its rate of %g request a second (burst %d); retry in %s", b.Name, b.Rate, b.Burst, wait.Round(time.Millisecond))}}
	}
	if size > in.cfg.MaxRequestBytes {
		return &refusal{reasonTooLarge, &problem.Problem{Code: problem.CodeBodyTooLarge,
			Message: fmt.Sprintf("request is %d bytes; the limit is %d", size, in.cfg.MaxRequestBytes)}}
	}
	return nil
}

func (in *Ingest) subject(kind string) string {
	if kind == ActionAck {
		return in.cfg.AckSubject
	}
	return in.cfg.PostSubject
}

func kindVerb(kind string) string {
	if kind == ActionAck {
		return "acknowledge"
	}
	return "post"
}

// post handles one post request from b.
func (in *Ingest) post(ctx context.Context, b *bot, data []byte) (any, error) {
	req, err := decodePost(data)
	if err != nil {
		return nil, invalid(err)
	}
	if req.Author != "" && req.Author != b.Name {
		return nil, &refusal{reasonAuthor, fieldProblem(problem.CodeForbidden, []problem.Detail{{Field: "author",
			Message: fmt.Sprintf("%q is not the bot that sends this request: bot %s posts as %s; leave author out", req.Author, b.Name, b.Name)}})}
	}
	id, replayed, err := in.inbox.Post(ctx, &req.Post, b.Name, req.IdempotencyKey)
	if err != nil {
		return nil, err
	}
	in.log.Info("message posted over nats", "id", id, "incident", req.Incident, "bot", b.Name, "replayed", replayed)
	return PostReply{ID: id, Replayed: replayed}, nil
}

// ack handles one ack request from b.
func (in *Ingest) ack(ctx context.Context, b *bot, data []byte) (any, error) {
	req, err := decodeAck(data)
	if err != nil {
		return nil, invalid(err)
	}
	ok, err := in.inbox.Member(ctx, req.Person, b.AckFor)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, &refusal{reasonAckFor, fieldProblem(problem.CodeForbidden, []problem.Detail{{Field: "person",
			Message: fmt.Sprintf("bot %s may not acknowledge for %q: only for %s", b.Name, req.Person, strings.Join(b.AckFor, ", "))}})}
	}
	acked, err := in.inbox.Ack(ctx, b.Name, *req)
	if err != nil {
		return nil, err
	}
	in.log.Info("acknowledged over nats", "person", req.Person, "incident", req.Incident, "message", req.Message, "bot", b.Name, "acked", len(acked))
	return AckReply{Acked: nonNil(acked)}, nil
}

// invalid marks a decoder's refusal as a request at fault.
func invalid(err error) error {
	var p *problem.Problem
	if errors.As(err, &p) {
		return &refusal{reasonInvalid, p}
	}
	return err
}

// answer replies to a request, or logs a refusal nobody can be told of.
// b is the bot the request came from, nil when its subject names none.
func (in *Ingest) answer(m *natsgo.Msg, b *bot, reply any, err error) {
	if err != nil {
		p := in.problem(m.Subject, err)
		reply = ErrorReply{Error: p}
		name, reason := "", ""
		if b != nil {
			name = b.Name
		}
		if r := (*refusal)(nil); errors.As(err, &r) {
			reason = r.reason
			in.refused.WithLabelValues(name, reason).Inc()
		}
		in.logRefusal(m, name, reason, p)
	}
	if m.Reply == "" {
		return
	}
	if err := m.Respond(renderReply(reply)); err != nil {
		in.log.Warn("nats reply not sent", "subject", m.Subject, "err", err)
	}
}

// logRefusal logs a refused request: ten lines at once, then about one a
// second;
// a line says how many refusals went unlogged before it.
func (in *Ingest) logRefusal(m *natsgo.Msg, bot, reason string, p *problem.Problem) {
	n, ok := in.refusals.Allow(in.now())
	if !ok {
		return
	}
	attrs := []any{"subject", m.Subject, "bot", bot, "code", p.Code, "problem", p.Message}
	if reason != "" {
		attrs = append(attrs, "reason", reason)
	}
	if n > 0 {
		attrs = append(attrs, "not_logged_before", n)
	}
	switch {
	case m.Reply == "":
		in.log.Warn("nats request refused without a reply subject to say so", attrs...)
	case reason != "" && reason != reasonInvalid && reason != reasonTooLarge:
		in.log.Warn("nats request refused", attrs...)
	default:
		in.log.Info("nats request refused", attrs...)
	}
}

// problem turns a refusal into what the reply says. Errors the client
// cannot act on are logged here and answered without their text.
func (in *Ingest) problem(subject string, err error) *problem.Problem {
	var p *problem.Problem
	var fields []problem.Detail
	for _, fe := range problem.FieldErrors(err) {
		fields = append(fields, problem.Detail{Field: fe.Field, Message: fe.Message})
	}
	switch {
	case errors.As(err, &p) && slices.Contains(Codes, p.Code) && p.Message != "":
		return p
	case len(fields) > 0:
		return fieldProblem(problem.CodeInvalidField, fields)
	case errors.Is(err, relay.ErrNotFound):
		return &problem.Problem{Code: problem.CodeNotFound, Message: err.Error()}
	case errors.Is(err, context.DeadlineExceeded):
		return &problem.Problem{Code: problem.CodeTimeout, Message: fmt.Sprintf("not done within %s and may still take effect; retry, a post with the same idempotency_key", in.cfg.Timeout)}
	case errors.Is(err, context.Canceled):
		return &problem.Problem{Code: problem.CodeUnavailable, Message: "this node is shutting down; retry"}
	}
	in.log.Error("nats request failed", "subject", subject, "err", err)
	return &problem.Problem{Code: problem.CodeInternal, Message: "internal error; the node's log has the cause"}
}

// Close stops taking requests: it drains the subscriptions, so requests
// already delivered to this node are still answered, and waits for the
// requests under way. When the connection is down, and so cannot drain,
// it drops what waits in the subscriptions (the senders retry). When ctx
// ends first, it drops those as well, cancels the requests under way,
// waits for them to return and reports ctx's error. It does not close the
// connection. Later calls return the first one's result.
func (in *Ingest) Close(ctx context.Context) error {
	in.closeOnce.Do(func() { in.closeErr = in.close(ctx) })
	return in.closeErr
}

func (in *Ingest) close(ctx context.Context) error {
	defer in.cancel()
	defer in.unregister()
	drained, err := in.drain(ctx)
	if !drained {
		for _, s := range in.subs {
			_ = s.Unsubscribe()
		}
	}
	in.mu.Lock()
	in.stopped = true
	in.mu.Unlock()
	idle := make(chan struct{})
	go func() {
		in.running.Wait()
		close(idle)
	}()
	select {
	case <-idle:
	case <-ctx.Done():
		err = ctx.Err()
		in.cancel()
		<-idle
	}
	if err != nil {
		return fmt.Errorf("nats ingest: requests cut short: %w", err)
	}
	return nil
}

// drain drains the subscriptions and waits until each has handed every
// request it held to dispatch. It gives up when the connection is or goes
// down, as then no server confirms a drain, and when ctx ends.
func (in *Ingest) drain(ctx context.Context) (bool, error) {
	down := in.nc.StatusChanged(natsgo.DISCONNECTED, natsgo.RECONNECTING, natsgo.CLOSED)
	defer in.nc.RemoveStatusListener(down)
	if in.nc.Status() != natsgo.CONNECTED {
		return false, nil
	}
	var waits []<-chan natsgo.SubStatus
	for _, s := range in.subs {
		done := s.StatusChanged(natsgo.SubscriptionClosed)
		if err := s.Drain(); err != nil {
			return false, nil // the connection closed meanwhile
		}
		waits = append(waits, done)
	}
	for _, done := range waits {
		select {
		case <-done:
		case <-down:
			return false, nil
		case <-ctx.Done():
			return false, ctx.Err()
		}
	}
	return true, nil
}
