package nats

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"

	natsgo "github.com/nats-io/nats.go"

	"github.com/oob-relay/relay/relay"
	"github.com/oob-relay/relay/relay/problem"
)

// confirmTimeout bounds the wait for the server to confirm the
// subscriptions when Subscribe's context has no deadline.
const confirmTimeout = 5 * time.Second

// Inbox takes what bots send over NATS. It is implemented by the core;
// both methods are called from many goroutines at once, must honour ctx,
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
	// Post accepts a validated post. author is the post's author field or
	// the configured default: what the client claims, vouched for only by
	// the NATS server's permission to publish on the post subject, so it
	// must not grant more than a bot token does. key is the idempotency
	// key, or "". It returns the message id and whether the key found an
	// earlier message.
	Post(ctx context.Context, p *relay.Post, author, key string) (messageID string, replayed bool, err error)
	// Ack records that a person acknowledged an incident or a message and
	// returns the ids of the messages acknowledged.
	Ack(ctx context.Context, a AckRequest) (acked []string, err error)
}

// Ingest answers post and ack requests on NATS until Close. It is safe
// for concurrent use.
type Ingest struct {
	nc    *natsgo.Conn
	cfg   IngestConfig
	inbox Inbox
	log   *slog.Logger
	subs  []*natsgo.Subscription
	slots chan struct{}

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

// Subscribe starts taking requests on cfg's post and ack subjects in its
// queue group, over nc, which the caller keeps owning (a Publisher's Conn
// can be shared). It applies SetDefaults to its copy of cfg. When nc is
// connected, Subscribe waits, bounded by ctx, until the server has the
// subscriptions, and fails if the server does not allow them; otherwise
// the connection sends them when it connects. log nil discards logs.
func Subscribe(ctx context.Context, nc *natsgo.Conn, cfg IngestConfig, inbox Inbox, log *slog.Logger) (*Ingest, error) {
	cfg.SetDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if nc == nil || inbox == nil {
		return nil, errors.New("nats ingest: a connection and an inbox are required")
	}
	if log == nil {
		log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	base, cancel := context.WithCancel(context.Background())
	in := &Ingest{nc: nc, cfg: cfg, inbox: inbox, log: log, slots: make(chan struct{}, cfg.Concurrency), base: base, cancel: cancel}
	before := nc.LastError()
	for _, s := range []struct {
		subject string
		handle  func(context.Context, []byte) (any, error)
	}{{cfg.PostSubject, in.post}, {cfg.AckSubject, in.ack}} {
		sub, err := nc.QueueSubscribe(s.subject, cfg.QueueGroup, func(m *natsgo.Msg) { in.dispatch(m, s.handle) })
		if err != nil {
			in.abort()
			return nil, fmt.Errorf("nats ingest: subscribe to %s: %w", s.subject, err)
		}
		in.subs = append(in.subs, sub)
	}
	if err := in.confirm(ctx, before); err != nil {
		in.abort()
		return nil, err
	}
	log.Info("nats ingest subscribed", "post_subject", cfg.PostSubject, "ack_subject", cfg.AckSubject, "queue_group", cfg.QueueGroup)
	return in, nil
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
}

// dispatch runs one request on its own goroutine, at most Concurrency at
// once. It is called on the subscription's goroutine; while every slot is
// taken it blocks, and further requests wait in the subscription.
func (in *Ingest) dispatch(m *natsgo.Msg, handle func(context.Context, []byte) (any, error)) {
	select {
	case in.slots <- struct{}{}:
	case <-in.base.Done():
		in.answer(m, nil, context.Canceled)
		return
	}
	in.mu.Lock()
	if in.stopped {
		in.mu.Unlock()
		<-in.slots
		in.answer(m, nil, context.Canceled)
		return
	}
	in.running.Add(1)
	in.mu.Unlock()
	go func() {
		defer in.running.Done()
		defer func() { <-in.slots }()
		ctx, cancel := context.WithTimeout(in.base, in.cfg.Timeout)
		defer cancel()
		reply, err := handle(ctx, m.Data)
		in.answer(m, reply, err)
	}()
}

// post handles one post request.
func (in *Ingest) post(ctx context.Context, data []byte) (any, error) {
	req, err := decodePost(data)
	if err != nil {
		return nil, err
	}
	author := cmp.Or(req.Author, in.cfg.Author)
	id, replayed, err := in.inbox.Post(ctx, &req.Post, author, req.IdempotencyKey)
	if err != nil {
		return nil, err
	}
	in.log.Info("message posted over nats", "id", id, "incident", req.Incident, "author", author, "replayed", replayed)
	return PostReply{ID: id, Replayed: replayed}, nil
}

// ack handles one ack request.
func (in *Ingest) ack(ctx context.Context, data []byte) (any, error) {
	req, err := decodeAck(data)
	if err != nil {
		return nil, err
	}
	acked, err := in.inbox.Ack(ctx, *req)
	if err != nil {
		return nil, err
	}
	in.log.Info("acknowledged over nats", "person", req.Person, "incident", req.Incident, "message", req.Message, "acked", len(acked))
	return AckReply{Acked: nonNil(acked)}, nil
}

// answer replies to a request, or logs a refusal nobody can be told of.
func (in *Ingest) answer(m *natsgo.Msg, reply any, err error) {
	if err != nil {
		p := in.problem(m.Subject, err)
		reply = ErrorReply{Error: p}
		if m.Reply == "" {
			in.log.Warn("nats request refused without a reply subject to say so", "subject", m.Subject, "code", p.Code, "problem", p.Message)
		} else {
			in.log.Info("nats request refused", "subject", m.Subject, "code", p.Code, "problem", p.Message)
		}
	}
	if m.Reply == "" {
		return
	}
	if err := m.Respond(renderReply(reply)); err != nil {
		in.log.Warn("nats reply not sent", "subject", m.Subject, "err", err)
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
