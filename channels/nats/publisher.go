package nats

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"time"

	natsgo "github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/oob-relay/relay/relay"
)

const (
	// defaultSendTimeout bounds a Send whose context has no deadline; the
	// engine normally gives one.
	defaultSendTimeout = 10 * time.Second
	// ackForget is how long an unanswered JetStream publish is remembered
	// after Send stopped waiting for it.
	ackForget = time.Minute
)

var _ relay.Sender = (*Publisher)(nil)

// Publisher publishes each broadcast delivery as one event. It is safe for
// concurrent use.
//
// Sends on one Publisher publish one at a time, each waiting for the
// server's answer to a flush. The server reports a denied publish only as
// an asynchronous error that the client keeps as the connection's last
// error, so a publish, its flush and the look at that error must not
// interleave with another Send's. That bounds a Publisher to one event per
// round trip, far above the rate of incident messages; a JetStream Send
// waits for its stored acknowledgement outside that section.
type Publisher struct {
	nc     *natsgo.Conn
	js     jetstream.JetStream // nil for core NATS
	stream string
	prefix string
	log    *slog.Logger
	turn   chan struct{} // one publish section at a time
	link   *link
}

// New connects as cfg describes (see Connect) and returns a Publisher. It
// applies SetDefaults to its copy of cfg, which must have been through
// ResolveSecrets. New succeeds while no server is reachable; Sends fail
// with a temporary network error until the connection is up. Credentials a
// server refuses do not fail New either: Send then fails with the
// permanent ReasonAuth once the refusal has been seen, while the
// connection keeps trying in case the server's accounts change.
func New(cfg Config, opts Options) (*Publisher, error) {
	cfg.SetDefaults()
	cfg.URLs = slices.Clone(cfg.URLs)
	nc, err := Connect(&cfg, opts)
	if err != nil {
		return nil, err
	}
	p := &Publisher{
		nc:     nc,
		stream: cfg.JetStream.Stream,
		prefix: cfg.SubjectPrefix,
		log:    opts.logger(),
		turn:   make(chan struct{}, 1),
		link:   watchLink(nc),
	}
	if p.stream != "" {
		p.js, err = jetstream.New(nc, jetstream.WithPublishAsyncTimeout(ackForget))
		if err != nil {
			p.Close()
			return nil, fmt.Errorf("jetstream: %w", err)
		}
	}
	return p, nil
}

// Conn returns the underlying connection, for an inbound side that wants
// to share it. The Publisher still owns it: Close closes it.
func (p *Publisher) Conn() *natsgo.Conn { return p.nc }

// Close closes the connection. Sends under way fail with a temporary
// network error. Close may be called more than once.
func (p *Publisher) Close() {
	p.nc.Close()
	p.link.stop()
}

// Send publishes the delivery's event once.
//
// With core NATS, success means the server received the event (a flush
// returned after the publish); the Receipt is empty, as core NATS names
// nothing it accepts. With JetStream, success means the stream stored it:
// the Receipt is Delivered, with ProviderID "<stream>:<sequence>", the same
// for every attempt of a delivery inside the stream's duplicate window.
//
// While the connection is reconnecting, Send fails at once with a temporary
// ReasonNetwork instead of leaving the event in the reconnect buffer,
// where nobody would learn whether it ever went out. A publish that races
// a disconnect can still land in that buffer; Send then fails as soon as
// the loss is seen, and the buffered copy goes out after the reconnect
// while the engine retries. An event the server received just before the
// link broke, unanswered, fails the same way. Each such attempt can cause
// one duplicate, no more. JetStream removes them by Nats-Msg-Id inside the
// stream's duplicate window; core NATS subscribers see them and can drop
// them by the Relay-Delivery-Id header (reconnect_buffer_bytes: -1 removes
// the buffered kind, not the unanswered one).
func (p *Publisher) Send(ctx context.Context, out *relay.Outgoing) (relay.Receipt, error) {
	msg, err := NewMsg(p.prefix, out)
	if err != nil {
		return relay.Receipt{}, relay.Permanent(relay.ReasonRejected, err)
	}
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, defaultSendTimeout)
		defer cancel()
	}
	if err := ctx.Err(); err != nil {
		return relay.Receipt{}, classify(err)
	}
	ack, err := p.publish(ctx, msg)
	if err != nil {
		return relay.Receipt{}, classify(err)
	}
	if ack == nil {
		return relay.Receipt{}, nil
	}
	select {
	case pa := <-ack.Ok():
		if pa.Duplicate {
			p.log.Debug("jetstream kept the earlier copy of a delivery", "delivery", out.DeliveryID, "stream", pa.Stream, "seq", pa.Sequence)
		}
		return relay.Receipt{ProviderID: fmt.Sprintf("%s:%d", pa.Stream, pa.Sequence), Delivered: true}, nil
	case err := <-ack.Err():
		return relay.Receipt{}, classify(err)
	case <-ctx.Done():
		return relay.Receipt{}, classify(ctx.Err())
	}
}

// publish sends msg and flushes, in the one publish section. For JetStream
// it returns the future of the stream's acknowledgement.
func (p *Publisher) publish(ctx context.Context, msg *natsgo.Msg) (jetstream.PubAckFuture, error) {
	select {
	case p.turn <- struct{}{}:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	defer func() { <-p.turn }()

	up := p.link.current()
	if err := p.ready(); err != nil {
		return nil, err
	}
	before := p.nc.LastError()
	var ack jetstream.PubAckFuture
	var err error
	if p.js != nil {
		ack, err = p.js.PublishMsgAsync(msg, jetstream.WithExpectStream(p.stream), jetstream.WithRetryAttempts(0))
	} else {
		err = p.nc.PublishMsg(msg)
	}
	if err != nil {
		return nil, err
	}
	// The flush also ends when the connection is lost: the event then sits
	// in the reconnect buffer, and waiting for it would hold up every Send.
	flushCtx, cancel := context.WithCancel(ctx)
	stop := context.AfterFunc(up, cancel)
	err = p.nc.FlushWithContext(flushCtx)
	stop()
	cancel()
	if denied := newDenial(before, p.nc.LastError(), msg.Subject, p.js != nil); denied != nil {
		return nil, relay.Permanent(relay.ReasonPermission, denied)
	}
	if err != nil && ctx.Err() == nil && up.Err() != nil {
		return nil, relay.Temporary(relay.ReasonNetwork, fmt.Errorf("connection lost before the server answered: %w", natsgo.ErrConnectionReconnecting))
	}
	if err != nil {
		return nil, err
	}
	return ack, nil
}

// ready fails unless the connection is up. A connection that is trying to
// reconnect after the server refused its credentials fails as ReasonAuth.
func (p *Publisher) ready() error {
	switch st := p.nc.Status(); st {
	case natsgo.CONNECTED:
		return nil
	case natsgo.CLOSED:
		return relay.Temporary(relay.ReasonNetwork, natsgo.ErrConnectionClosed)
	default:
		if last := p.nc.LastError(); isAuthError(last) {
			return relay.Permanent(relay.ReasonAuth, fmt.Errorf("server refused the credentials: %w", last))
		}
		return relay.Temporary(relay.ReasonNetwork, fmt.Errorf("not connected (%s): %w", st, natsgo.ErrConnectionReconnecting))
	}
}
