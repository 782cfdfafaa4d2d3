// Package launch starts a relay node from its configuration: it builds the
// channel providers, opens the node, serves the HTTP API with the webhooks
// beside it (Twilio's callbacks and incoming SMS, Alertmanager's
// notifications), joins the cluster, starts what takes replies and posts
// besides the API (the SMTP server, NATS ingest), and stops it all in
// order. relay serve and relay dev both use it.
package launch

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/oob-relay/relay/channels/nats"
	"github.com/oob-relay/relay/channels/twilio"
	"github.com/oob-relay/relay/config"
	"github.com/oob-relay/relay/gossip"
	"github.com/oob-relay/relay/relay"
	"github.com/oob-relay/relay/relay/api"
	"github.com/oob-relay/relay/relay/console"
	"github.com/oob-relay/relay/relay/delivery"
	"github.com/oob-relay/relay/relay/node"
	"github.com/oob-relay/relay/relay/trust"
)

// Options are what a launched node gets from outside its config.
type Options struct {
	Logger *slog.Logger
	// Listener, when set, is served instead of listening on the config's
	// address (tests and relay dev pass one bound to a free port).
	Listener net.Listener
	// Dev lets the cluster run without gossip keys and label.
	Dev bool
	// EmailRootCAs, when set, is trusted by every email provider instead
	// of its ca_file (relay dev's SMTP sink has a generated certificate).
	EmailRootCAs *x509.CertPool
	// Extra, when set, mounts more handlers beside the API once the node
	// is open and before it serves: relay dev's playground. relay serve
	// never sets it.
	Extra func(s *Server, mux *http.ServeMux) error
}

// Server is a running node with its HTTP API.
type Server struct {
	Node     *node.Node
	Registry *prometheus.Registry
	// URL is the base URL the API answers on.
	URL string

	log      *slog.Logger
	http     *http.Server
	plain    *http.Server // the plain-HTTP port beside HTTPS; nil without one
	console  *console.Console
	api      string // the API URL this node publishes to its peers
	served   chan error
	closers  []func()
	members  *gossip.Membership
	signer   *trust.Signer
	keys     *trust.Keyring // nil on a cluster that is not authenticated
	keyWatch *keyWatch
	// inbound stop the SMTP server and NATS ingests, first at shutdown.
	inbound []func(context.Context)
	// started is closed once every listener (SMTP and NATS ingest
	// included) is up; /readyz waits for it.
	started chan struct{}
}

// Start builds and starts the node cfg describes. cfg must have been
// loaded with config.Load (defaults applied, validated, secrets resolved).
func Start(ctx context.Context, cfg *config.Config, opts Options) (*Server, error) {
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	log = log.With("node", cfg.Node.Name)
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))

	var roster *relay.Roster
	if cfg.RosterFile != "" {
		r, err := loadRoster(cfg.Path(cfg.RosterFile))
		if err != nil {
			return nil, err
		}
		roster = r
	}

	s := &Server{Registry: reg, log: log, served: make(chan error, 2), started: make(chan struct{})}
	var ingests []natsIngest
	providers, closers, err := buildProviders(cfg, log, opts, func(name string, p *nats.Publisher, c nats.IngestConfig) {
		ingests = append(ingests, natsIngest{provider: name, pub: p, cfg: c})
	})
	s.closers = closers
	if err != nil {
		s.closeProviders()
		return nil, err
	}
	var cl config.Cluster
	if cfg.Cluster != nil {
		cl = *cfg.Cluster
	}
	signer, keys, err := identity(cfg)
	if err != nil {
		s.closeProviders()
		return nil, err
	}
	if cfg.Cluster != nil && keys == nil {
		log.Warn("the cluster is not authenticated: any process holding the gossip key is believed (cluster.trusted_keys_file)")
	}
	watch, err := watchOptions(cfg, log)
	if err != nil {
		s.closeProviders()
		return nil, err
	}
	drills, err := scheduledDrills(cfg.Drills)
	if err != nil {
		s.closeProviders()
		return nil, err
	}
	n, err := node.Open(node.Options{
		Watch:             watch,
		ScheduledDrills:   drills,
		Canaries:          canaries(cfg),
		Signer:            signer,
		Keys:              keys,
		MaxDrift:          cl.MaxClockDrift,
		Copies:            cl.Copies,
		CopyTimeout:       cl.CopyTimeout,
		ReconcileTimeout:  cl.ReconcileTimeout,
		Lease:             cl.Lease,
		Name:              cfg.Node.Name,
		Site:              cfg.Node.Site,
		DataDir:           cfg.Path(cfg.Node.DataDir),
		Providers:         providers,
		Deadline:          cfg.Delivery.Deadlines.For,
		Policies:          cfg.Delivery.Policy.Relay(),
		Calls:             node.Calls{Retries: *cfg.Delivery.Calls.Retries, RetryAfter: cfg.Delivery.Calls.RetryAfter},
		Workers:           cfg.Delivery.Workers,
		AttemptTimeout:    cfg.Delivery.AttemptTimeout,
		ReceiptTimeout:    cfg.Delivery.ReceiptTimeout,
		Retention:         cfg.Store.Retention(),
		LogKeep:           cfg.Store.LogKeep,
		UpkeepEvery:       cfg.Store.UpkeepInterval,
		Backoff:           delivery.Backoff{Initial: cfg.Delivery.Backoff.Initial, Max: cfg.Delivery.Backoff.Max},
		Roster:            roster,
		MaxTo:             cfg.Limits.MaxTo,
		PublicURL:         cfg.HTTP.PublicURL,
		CallbackURL:       cfg.HTTP.CallbackURL,
		Replies:           cfg.Inbound.Replies,
		EscalationSpeedup: cfg.Delivery.EscalationSpeedup,
		Console: node.Console{SessionTTL: cfg.Console.SessionTTL, LinkTTL: cfg.Console.LinkTTL,
			NoLinks: !cfg.Console.LinksOn(), AuditKeep: cfg.Console.AuditKeep()},
		Logger:     log,
		Registerer: reg,
	})
	if err != nil {
		s.closeProviders()
		return nil, err
	}
	s.Node = n
	s.signer, s.keys = signer, keys

	tokens := make([]api.Token, 0, len(cfg.API.Tokens))
	for _, t := range cfg.API.Tokens {
		tokens = append(tokens, api.Token{Name: t.Name, Role: t.Role, Secret: t.Token, AnswerFor: t.AnswerFor})
	}
	h, err := api.New(api.Options{
		Node: n, Tokens: tokens, MaxBodyBytes: cfg.HTTP.MaxBodyBytes, MaxRosterBytes: cfg.HTTP.MaxRosterBytes,
		Limits: apiLimits(cfg.Limits), TrustedProxies: cfg.Limits.Proxies(),
		Gatherer: reg, Registerer: reg, Logger: log,
		Ready: func() error {
			select {
			case <-s.started:
			default:
				return errors.New("starting")
			}
			select {
			case <-n.Ready():
				return nil
			default:
				return errors.New("catching up with the cluster")
			}
		},
	})
	if err != nil {
		s.abort()
		return nil, err
	}
	con, err := console.New(console.Options{Node: n, Gate: h, PublicURL: cfg.HTTP.PublicURL, Dev: opts.Dev,
		Secure: cfg.HTTP.TLS != nil || strings.HasPrefix(cfg.HTTP.PublicURL, "https://"), Logger: log, Registerer: reg})
	if err != nil {
		s.abort()
		return nil, err
	}
	s.console = con
	mux := http.NewServeMux()
	// The web console takes every path the API, its probes and the
	// webhooks do not.
	mux.Handle("/", con)
	for _, p := range []string{"/v1/", "/healthz", "/readyz", "/metrics"} {
		mux.Handle(p, h)
	}
	if cfg.HTTP.PublicURL != "" && len(twilioTokens(cfg)) > 0 {
		hk, err := twilio.NewHooks(twilio.HookOptions{Node: twilioNode{n}, PublicURL: cfg.HTTP.PublicURL, CallbackURL: cfg.HTTP.CallbackURL,
			AuthTokens: twilioTokens(cfg), OwnNumbers: ownNumbers(cfg), Logger: log, Registerer: reg})
		if err != nil {
			s.abort()
			return nil, err
		}
		mux.Handle(relay.WebhookPrefix, hk)
	}
	if am := cfg.Inbound.Alertmanager; am != nil {
		mux.Handle(AlertmanagerPath, h.Paced(alertmanagerHandler(n, am, log, reg)))
	}
	if opts.Extra != nil {
		if err := opts.Extra(s, mux); err != nil {
			s.abort()
			return nil, err
		}
	}
	ln := opts.Listener
	if ln == nil {
		ln, err = net.Listen("tcp", cfg.HTTP.Listen)
		if err != nil {
			s.abort()
			return nil, fmt.Errorf("http.listen: %w", err)
		}
	}
	s.http = newHTTPServer(mux, log)
	if err := s.serve(cfg, ln, log, reg); err != nil {
		ln.Close()
		s.abort()
		return nil, err
	}
	if cfg.Cluster != nil {
		if err := s.join(ctx, cfg, opts, reg); err != nil {
			s.abort()
			return nil, err
		}
	}
	if err := n.Start(ctx); err != nil {
		s.abort()
		return nil, err
	}
	if err := s.startInbound(ctx, cfg, ingests); err != nil {
		s.abort()
		return nil, err
	}
	if len(n.Channels()) == 0 {
		log.Warn("no channel provider is configured: this node accepts messages but cannot deliver them")
	}
	close(s.started)
	log.Info("node started", "http", s.URL, "channels", n.Channels(), "data_dir", cfg.Path(cfg.Node.DataDir))
	return s, nil
}

// Done yields the HTTP server's error if it stops on its own.
func (s *Server) Done() <-chan error { return s.served }

// Shutdown stops taking requests, lets deliveries in flight finish until
// ctx is done, and closes the store and the providers.
func (s *Server) Shutdown(ctx context.Context) error {
	s.console.Close() // live streams would hold the server's shutdown
	err := s.http.Shutdown(ctx)
	if s.plain != nil {
		err = errors.Join(err, s.plain.Shutdown(ctx))
	}
	if errors.Is(err, http.ErrServerClosed) {
		err = nil
	}
	s.stopInbound(ctx)
	s.keyWatch.close()
	err = errors.Join(err, s.Node.Close(ctx))
	s.leave()
	s.closeProviders()
	s.log.Info("node stopped")
	return err
}

func (s *Server) abort() {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if s.console != nil {
		s.console.Close()
	}
	if s.http != nil {
		s.http.Close()
	}
	if s.plain != nil {
		s.plain.Close()
	}
	s.stopInbound(ctx)
	s.keyWatch.close()
	s.Node.Close(ctx)
	s.leave()
	s.closeProviders()
}

func (s *Server) closeProviders() {
	for _, c := range s.closers {
		c()
	}
	s.closers = nil
}

func loadRoster(path string) (*relay.Roster, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("roster_file: %w", err)
	}
	defer f.Close()
	r, err := relay.DecodeRoster(f)
	if err != nil {
		return nil, fmt.Errorf("roster_file %s: %w", path, err)
	}
	return r, nil
}

// apiLimits turns the limits section into the API's: a rate left out
// takes the API's default, and a rate of 0 means no limit.
func apiLimits(l config.Limits) api.Limits {
	rate := func(r config.RateLimit) api.Rate {
		switch {
		case r.Rate == nil:
			return api.Rate{Burst: r.Burst}
		case *r.Rate == 0:
			return api.NoLimit
		}
		return api.Rate{PerSecond: *r.Rate, Burst: r.Burst}
	}
	return api.Limits{PerAddress: rate(l.PerAddress), PerToken: rate(l.PerToken),
		AuthDelay: l.FailedAuth.Delay, AuthMaxDelay: l.FailedAuth.MaxDelay}
}

// scheduledDrills parses the scheduled drills of a validated config.
func scheduledDrills(d config.Drills) ([]node.ScheduledDrill, error) {
	var out []node.ScheduledDrill
	for _, sd := range d.Scheduled {
		sch, err := sd.Schedule()
		if err != nil {
			return nil, fmt.Errorf("drills.scheduled %s: %w", sd.Name, err)
		}
		out = append(out, node.ScheduledDrill{Name: sd.Name, Schedule: sch, Start: sd.Start()})
	}
	return out, nil
}

// canaries lists the provider canaries of a validated config.
func canaries(cfg *config.Config) []node.Canary {
	var out []node.Canary
	for name, c := range cfg.Canaries() {
		out = append(out, node.Canary{Provider: name, To: c.To, Every: c.Every, LateAfter: c.LateAfter})
	}
	return out
}
