package nats

import (
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"strings"
	"sync"
	"time"

	natsgo "github.com/nats-io/nats.go"
	"github.com/prometheus/client_golang/prometheus"
)

// Connection presets, each with its reason.
const (
	// pingInterval and maxPingsOut find a server that went silent (a
	// half-open link after a data center loss) in 20-30 s, not nats.go's
	// 4-6 minutes, so the connection moves to another server.
	pingInterval = 10 * time.Second
	maxPingsOut  = 2
	// flusherTimeout abandons a server that stops reading our writes.
	flusherTimeout = 10 * time.Second
)

// Options are the dependencies of a connection, a Publisher or an
// Ingest.
type Options struct {
	// Logger receives connection events; nil discards them.
	Logger *slog.Logger
	// Registerer receives an Ingest's metrics; nil means a private
	// registry. One registerer takes one Ingest's metrics: give each
	// other Ingest its own, or wrap it with a label.
	Registerer prometheus.Registerer
}

func (o Options) logger() *slog.Logger {
	if o.Logger == nil {
		return slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	return o.Logger
}

// Connect opens a connection as cfg describes. cfg must have been through
// SetDefaults, Validate and ResolveSecrets. The connection never stops
// reconnecting, with a doubling pause between rounds over the servers,
// and Connect succeeds even when no server is reachable: the connection
// then keeps trying in the background. A server refusing the credentials
// does not stop it either (the server's accounts may be fixed); the
// refusal shows as the connection's LastError. Connect fails only for a
// local problem such as an unreadable nkey seed or CA file.
func Connect(cfg *Config, opts Options) (*natsgo.Conn, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.PasswordEnv != "" || cfg.PasswordFile != "" || cfg.TokenEnv != "" || cfg.TokenFile != "" {
		return nil, errors.New("password or token: not resolved: call ResolveSecrets first")
	}
	log := opts.logger()
	o, err := connOptions(cfg, log)
	if err != nil {
		return nil, err
	}
	nc, err := natsgo.Connect(strings.Join(cfg.URLs, ","), o...)
	if err != nil {
		return nil, fmt.Errorf("nats connect: %w", err)
	}
	if nc.Status() != natsgo.CONNECTED {
		log.Warn("nats servers not reachable yet, connecting in the background", "urls", strings.Join(cfg.URLs, ","))
	}
	return nc, nil
}

// connOptions translates cfg into nats.go options.
func connOptions(cfg *Config, log *slog.Logger) ([]natsgo.Option, error) {
	changed := &errorChange{}
	base, limit := cfg.ReconnectWait, cfg.ReconnectWaitMax
	o := []natsgo.Option{
		natsgo.Name(cfg.Name),
		natsgo.Timeout(cfg.ConnectTimeout),
		natsgo.RetryOnFailedConnect(true),
		natsgo.MaxReconnects(-1),
		natsgo.IgnoreAuthErrorAbort(),
		natsgo.CustomReconnectDelay(func(round int) time.Duration {
			return backoff(round, base, limit, rand.Int64N)
		}),
		natsgo.ReconnectBufSize(cfg.ReconnectBufferBytes),
		natsgo.PingInterval(pingInterval),
		natsgo.MaxPingsOutstanding(maxPingsOut),
		natsgo.FlusherTimeout(flusherTimeout),
		natsgo.ConnectHandler(func(nc *natsgo.Conn) {
			changed.reset()
			log.Info("nats connected", "url", nc.ConnectedUrlRedacted(), "server", nc.ConnectedServerName())
		}),
		natsgo.ReconnectHandler(func(nc *natsgo.Conn) {
			changed.reset()
			log.Info("nats reconnected", "url", nc.ConnectedUrlRedacted(), "server", nc.ConnectedServerName())
		}),
		natsgo.DisconnectErrHandler(func(_ *natsgo.Conn, err error) {
			if err == nil { // closed on purpose: ClosedHandler says so
				log.Debug("nats disconnected")
				return
			}
			log.Warn("nats disconnected", "err", err)
		}),
		natsgo.ReconnectErrHandler(func(_ *natsgo.Conn, err error) {
			if changed.changed(err) {
				log.Warn("nats connect attempt failed", "err", err)
			}
		}),
		natsgo.ErrorHandler(func(_ *natsgo.Conn, sub *natsgo.Subscription, err error) {
			if isAuthError(err) {
				// Refused on every reconnect round: log it once.
				if changed.changed(err) {
					log.Error("nats server refused the credentials", "err", err)
				}
				return
			}
			if sub != nil {
				log.Warn("nats asynchronous error", "err", err, "subject", sub.Subject)
				return
			}
			log.Warn("nats asynchronous error", "err", err)
		}),
		natsgo.ClosedHandler(func(*natsgo.Conn) {
			log.Info("nats connection closed")
		}),
	}
	switch {
	case cfg.User != "":
		o = append(o, natsgo.UserInfo(cfg.User, cfg.Password.Reveal()))
	case !cfg.Token.IsZero():
		o = append(o, natsgo.Token(cfg.Token.Reveal()))
	case cfg.CredsFile != "":
		o = append(o, natsgo.UserCredentials(cfg.CredsFile))
	case cfg.NKeySeedFile != "":
		opt, err := natsgo.NkeyOptionFromSeed(cfg.NKeySeedFile)
		if err != nil {
			return nil, fmt.Errorf("nkey_seed_file: %s: %w", cfg.NKeySeedFile, err)
		}
		o = append(o, opt)
	}
	if cfg.CAFile != "" {
		o = append(o, natsgo.RootCAs(cfg.CAFile))
	} else if cfg.TLS {
		o = append(o, natsgo.Secure(&tls.Config{MinVersion: tls.VersionTLS12}))
	}
	return o, nil
}

// backoff returns the pause before reconnect round n (counting from 1):
// base doubled each round up to limit, then between half and all of that,
// at random, so nodes that lost the same server do not return in step.
func backoff(n int, base, limit time.Duration, randN func(int64) int64) time.Duration {
	d := limit
	if n < 1 {
		n = 1
	}
	if n <= 32 && base<<(n-1) > 0 && base<<(n-1) < limit {
		d = base << (n - 1)
	}
	half := d / 2
	if half <= 0 {
		return d
	}
	return half + time.Duration(randN(int64(d-half)+1))
}

// errorChange remembers the last connect error logged, so an outage logs
// once per distinct error rather than once per attempt.
type errorChange struct {
	mu   sync.Mutex
	last string
}

func (e *errorChange) changed(err error) bool {
	msg := fmt.Sprint(err)
	e.mu.Lock()
	defer e.mu.Unlock()
	if msg == e.last {
		return false
	}
	e.last = msg
	return true
}

func (e *errorChange) reset() {
	e.mu.Lock()
	e.last = ""
	e.mu.Unlock()
}
