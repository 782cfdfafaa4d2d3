package node

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/oob-relay/relay/relay"
	"github.com/oob-relay/relay/relay/cluster"
	"github.com/oob-relay/relay/relay/delivery"
	"github.com/oob-relay/relay/relay/session"
	"github.com/oob-relay/relay/relay/store"
	"github.com/oob-relay/relay/relay/trust"
)

// Options configures a Node.
type Options struct {
	// Name is the node's name, unique in its cluster.
	Name string
	// Site is where the node runs (a data center, region or city), as
	// relay.ValidID; empty means Name. Watched targets and site-dark
	// checks count sites, not nodes.
	Site string
	// DataDir holds the node's store.
	DataDir   string
	Providers []delivery.Provider
	// Deadline gives how long deliveries of a severity are retried.
	Deadline func(relay.Severity) time.Duration
	// Policies say how each severity reaches people; nil means
	// relay.DefaultPolicies.
	Policies relay.Policies
	// Calls says when a busy or unanswered call is made again; the zero
	// value never calls again.
	Calls Calls
	// Workers, AttemptTimeout and Backoff tune the delivery engine; zero
	// values take its defaults.
	Workers        int
	AttemptTimeout time.Duration
	Backoff        delivery.Backoff
	// ReceiptTimeout is how long an SMS or call waits for its receipt
	// before the node that owns it asks the provider; zero takes the
	// engine's default (delivery.DefaultReceiptTimeout).
	ReceiptTimeout time.Duration
	// PublicURL is where providers reach this node's webhooks; empty
	// means providers send no receipts.
	PublicURL string
	// CallbackURL, when set, is the base of the webhook URLs given to
	// providers instead of PublicURL: a URL every node answers.
	CallbackURL string
	// Roster, when set, is applied at start if it differs from the stored
	// roster: the roster file an operator keeps beside the config.
	Roster *relay.Roster
	// MaxTo is how many distinct audience targets a post may name (see
	// relay.Post.CheckTo); zero means relay.DefaultMaxTo. Replies are not
	// held to it: their audience is every target their incident had.
	MaxTo int
	// Copies is how many peers must hold a new message before Post
	// returns, while peers are alive. Zero means 1.
	Copies int
	// CopyTimeout bounds the wait for those copies; after it the message
	// is accepted with fewer. Zero means 2 s. Delivery workers also wait,
	// at most this or a quarter of Lease, until the peers hold the
	// results of their attempts.
	CopyTimeout time.Duration
	// ReconcileTimeout bounds the wait at Start for catching up with the
	// peers before delivering. Zero means 10 s.
	ReconcileTimeout time.Duration
	// Retention is how long a settled incident is kept after its last
	// message; zero keeps everything. LogKeep is how long an event stays
	// in the log after every live peer holds it; zero means 24 h.
	// UpkeepEvery is how often the node runs its store upkeep (Upkeep);
	// zero means an hour.
	Retention   time.Duration
	LogKeep     time.Duration
	UpkeepEvery time.Duration
	// Lease is how long a claim keeps a delivery with its node while the
	// node is alive. Zero means the attempt timeout plus 10 s.
	Lease time.Duration
	// SpeakingFor is how long a member's last frame keeps it sharing the
	// deliveries after the failure detector counts it dead (see
	// cluster.Options.SpeakingFor). Zero means cluster.DefaultSpeakingFor.
	SpeakingFor time.Duration
	// Signer is the node's key, which signs every event it writes and
	// every frame it sends; nil means the key in DataDir, made there on
	// the first start (trust.LoadOrCreate).
	Signer *trust.Signer
	// Keys, when set, authenticates the cluster: events and frames from
	// elsewhere are believed only when signed by a key it trusts, and
	// only members that proved such a key share deliveries. Nil believes
	// every member of the gossip cluster, as a lone node or a lab may.
	Keys *trust.Keyring
	// MaxDrift bounds how far ahead of this node's clock an event from
	// elsewhere may be; zero means store.DefaultMaxDrift.
	MaxDrift time.Duration
	// Replies keep replies from flooding an incident and auto-responders
	// from answering each other; zero values take relay's defaults.
	Replies relay.ReplyLimits
	// EscalationSpeedup divides the waits of the escalation policies
	// messages follow, for drills and tests; 0 or 1 runs them as the
	// roster writes them.
	EscalationSpeedup int
	// Console sets the lifetimes of console sessions and personal links.
	Console Console
	// Watch says what the node watches and whom it pages.
	Watch      Watch
	Logger     *slog.Logger
	Registerer prometheus.Registerer
	Now        func() time.Time
	// ScheduledDrills are the drills the config schedules; the same on
	// every node.
	ScheduledDrills []ScheduledDrill
	// Canaries are the provider canaries of the config; the same on
	// every node.
	Canaries []Canary
}

// Calls says what follows a busy or unanswered call.
type Calls struct {
	// Retries is how many more calls follow a busy or unanswered one.
	Retries int
	// RetryAfter is the wait before the next call.
	RetryAfter time.Duration
}

// Node is one running relay node.
type Node struct {
	opts   Options
	log    *slog.Logger
	store  *store.Store
	engine *delivery.Engine
	repl   *cluster.Replicator
	owners *cluster.Ownership
	mesh   *mesh
	// answers limits automatic answers to inbound texts.
	answers answerLimit
	// incidents caches the incident list for reply codes.
	incidents incidentList
	upkeep    *upkeeper
	// loops and summaries keep replies from feeding each other.
	loops     *loops
	summaries *summaries
	// rollcall, audiences and repings run roll-calls.
	rollcall  *rollCallMetrics
	audiences rollCallAudiences
	repings   *repings
	// escalations fires the steps of escalation policies.
	escalations *escalations
	// tokens signs and checks console tokens.
	tokens *session.Tokens
	// login sends one-time codes and limits them.
	login *logins
	// watcher probes targets, keeps the node's view of the others, and
	// decides for the watched subjects this node owns.
	watcher *watcher
	// contacts limits the contact changes waiting for their code.
	contacts contactLimits
	// drills starts the scheduled drills.
	drills *drillSchedules
	// canaries sends provider canaries and demotes providers.
	canaries *canaries

	// keyed serialises posts that share an idempotency key, so that two
	// concurrent retries on one node accept one message.
	keyed [64]sync.Mutex

	closeOnce sync.Once
	closeErr  error
}

// Open opens the node's store and prepares its delivery engine. Call Start
// to begin delivering.
func Open(opts Options) (*Node, error) {
	if !relay.ValidID(opts.Name) {
		return nil, fmt.Errorf("node: name %q is not a valid node name", opts.Name)
	}
	if opts.Site == "" {
		opts.Site = opts.Name
	}
	if !relay.ValidID(opts.Site) {
		return nil, fmt.Errorf("node: site %q is not a valid site name", opts.Site)
	}
	if opts.Deadline == nil {
		return nil, errors.New("node: Deadline is required")
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
	if opts.Copies <= 0 {
		opts.Copies = 1
	}
	if opts.CopyTimeout <= 0 {
		opts.CopyTimeout = 2 * time.Second
	}
	if opts.ReconcileTimeout <= 0 {
		opts.ReconcileTimeout = 10 * time.Second
	}
	if opts.LogKeep <= 0 {
		opts.LogKeep = 24 * time.Hour
	}
	if opts.UpkeepEvery <= 0 {
		opts.UpkeepEvery = time.Hour
	}
	if opts.Lease <= 0 {
		opts.Lease = cmp.Or(opts.AttemptTimeout, 30*time.Second) + 10*time.Second
	}
	opts.Console.setDefaults()
	if err := checkScheduledDrills(opts.ScheduledDrills); err != nil {
		return nil, err
	}
	opts.Replies.SetDefaults()
	if err := opts.Replies.Validate(); err != nil {
		return nil, fmt.Errorf("node: replies: %w", err)
	}
	if opts.Signer == nil {
		s, err := trust.LoadOrCreate(opts.DataDir, opts.Name)
		if err != nil {
			return nil, err
		}
		opts.Signer = s
	}
	if opts.Signer.Name() != opts.Name {
		return nil, fmt.Errorf("node: the key given is %s's, not %s's", opts.Signer.Name(), opts.Name)
	}
	so := store.Options{Dir: opts.DataDir, Node: opts.Name, Logger: opts.Logger, Registerer: opts.Registerer,
		Signer: opts.Signer, MaxDrift: opts.MaxDrift, Now: opts.Now}
	var keys cluster.Keys
	if opts.Keys != nil {
		so.Verify = opts.Keys.VerifyEvent
		keys = opts.Keys
	}
	st, err := store.Open(so)
	if err != nil {
		return nil, err
	}
	var n *Node
	repl, err := cluster.New(cluster.Options{Store: st, Logger: opts.Logger, Registerer: opts.Registerer, Now: opts.Now,
		CatchUpTimeout: opts.ReconcileTimeout, Dir: opts.DataDir, Signer: opts.Signer, Keys: keys, SpeakingFor: opts.SpeakingFor,
		OnCaughtUp: func() {
			n.mesh.poke()
			n.summaries.rescanSoon()
			n.repings.rescanSoon()
			n.escalations.rescanSoon()
			n.drills.rescanSoon()
		},
		OnMembers: func() {
			if n != nil {
				n.owners.SetAlive(n.repl.Members())
				n.mesh.poke()
				n.summaries.unpark()
				n.repings.unpark()
				n.escalations.unpark()
				n.watcher.poke()
				n.drills.unpark()
				n.canaries.unpark()
			}
		}})
	if err != nil {
		st.Close()
		return nil, err
	}
	owners := cluster.NewOwnership(opts.Name, opts.Lease, opts.Now)
	// Workers wait for their results to reach the peers, but not so long
	// that the claims behind them go stale.
	copyWait := min(opts.CopyTimeout, opts.Lease/4)
	copied := func(ctx context.Context, seq uint64) bool {
		ctx, cancel := context.WithTimeout(ctx, copyWait)
		defer cancel()
		if _, err := repl.WaitCopies(ctx, seq, math.MaxInt); err != nil {
			opts.Logger.Debug("peers did not confirm claims or attempt results in time", "err", err)
			return false
		}
		return true
	}
	eng, err := delivery.New(delivery.Options{
		// A node that has not caught up with a peer that just appeared
		// claims nothing: the peer may have sent it already.
		Owns:           func(d *relay.Delivery) bool { return repl.CaughtUp() && owners.Owns(d) },
		Lease:          opts.Lease,
		Copied:         copied,
		Store:          st,
		Node:           opts.Name,
		Providers:      opts.Providers,
		Workers:        opts.Workers,
		AttemptTimeout: opts.AttemptTimeout,
		Backoff:        opts.Backoff,
		ReceiptTimeout: opts.ReceiptTimeout,
		Receipt: func(ctx context.Context, id string, r relay.Report) error {
			_, err := n.RecordReceipt(ctx, id, r)
			return err
		},
		Callbacks:  callbacks(cmp.Or(opts.CallbackURL, opts.PublicURL)),
		ReplyCode:  func(d *relay.Delivery) string { return n.smsReplyCode(d) },
		Link:       func(d *relay.Delivery) string { return n.deliveryLink(d) },
		Logger:     opts.Logger,
		Registerer: opts.Registerer,
		Now:        opts.Now,
	})
	if err != nil {
		st.Close()
		return nil, err
	}
	n = &Node{opts: opts, log: opts.Logger, store: st, engine: eng, repl: repl, owners: owners}
	n.mesh = newMesh(n)
	n.upkeep = newUpkeeper(n)
	n.loops = newLoops(n)
	n.summaries = newSummaries(n)
	n.rollcall = newRollCallMetrics(opts.Registerer)
	n.repings = newRepings(n)
	n.escalations = newEscalations(n)
	n.tokens = session.New(opts.Signer, opts.Keys, opts.Now)
	n.login = newLogins(opts.Registerer)
	n.watcher = newWatcher(n)
	n.drills = newDrillSchedules(n)
	if n.canaries, err = newCanaries(n); err != nil {
		st.Close()
		return nil, err
	}
	return n, nil
}

// Start applies the configured roster if it changed and starts delivering,
// resuming every delivery a previous run left unsettled.
func (n *Node) Start(ctx context.Context) error {
	if n.opts.Roster != nil {
		cur, _, err := n.store.Roster()
		if err != nil {
			return err
		}
		if !sameRoster(cur, n.opts.Roster) {
			if err := n.SetRoster(ctx, n.opts.Roster, "roster-file"); err != nil {
				return fmt.Errorf("node: apply roster file: %w", err)
			}
			n.log.Info("roster file applied", "people", len(n.opts.Roster.People), "groups", len(n.opts.Roster.Groups))
		}
	}
	// The node's own site is its own fact: it is written before the
	// wait for peers, which may take all of ctx when a peer never
	// answers.
	if err := n.recordSite(ctx); err != nil {
		return err
	}
	n.reconcile(ctx)
	if err := n.engine.Start(); err != nil {
		return err
	}
	n.mesh.start()
	n.upkeep.start()
	n.summaries.start()
	n.repings.start()
	n.escalations.start()
	n.watcher.start()
	n.drills.start()
	n.canaries.start()
	return nil
}

// Close stops the node in order: it stops claiming deliveries and waits
// for the attempts in flight until ctx is done (attempts cut short are
// made again after a restart, or by another node), waits briefly until
// the peers hold its last events, leaves the cluster, stops replicating,
// and closes the store last, so that nothing writes to a closed store.
func (n *Node) Close(ctx context.Context) error {
	n.closeOnce.Do(func() {
		n.upkeep.stop()
		n.summaries.stop()
		n.repings.stop()
		n.escalations.stop()
		n.login.stop()
		n.watcher.stop()
		n.drills.stop()
		n.canaries.stop()
		err := n.engine.Stop(ctx)
		n.mesh.stop()
		n.flush(ctx)
		n.leave()
		n.repl.Close()
		n.closeErr = errors.Join(err, n.store.Close())
	})
	return n.closeErr
}

// Name returns the node's name.
func (n *Node) Name() string { return n.opts.Name }

// Store returns the node's store, for queries.
func (n *Node) Store() *store.Store { return n.store }

// Channels returns the channels this node has providers for, in
// relay.Channels order.
func (n *Node) Channels() []string {
	have := n.engine.Channels()
	var out []string
	for _, ch := range relay.Channels {
		if slices.Contains(have, ch) {
			out = append(out, ch)
		}
	}
	return out
}

// sameRoster reports whether two rosters say the same, every field and
// every section (people with their roles, groups, schedules,
// escalations) compared through the JSON the log stores, so that a
// section added later is compared without a change here.
func sameRoster(a, b *relay.Roster) bool {
	if a == nil || b == nil {
		return a == b
	}
	ja, errA := canonicalRoster(a)
	jb, errB := canonicalRoster(b)
	return errA == nil && errB == nil && bytes.Equal(ja, jb)
}

// canonicalRoster is r's JSON as the store keeps it: a roster read from
// YAML (nil or empty lists, times in a zone) and the same roster read back
// from the log give the same bytes.
func canonicalRoster(r *relay.Roster) ([]byte, error) {
	raw, err := json.Marshal(r)
	if err != nil {
		return nil, err
	}
	var back relay.Roster
	if err := json.Unmarshal(raw, &back); err != nil {
		return nil, err
	}
	return json.Marshal(&back)
}

// callbacks gives the base URL of a delivery's webhooks: publicURL,
// relay.WebhookPrefix and the delivery's id. Open passes the cluster's
// callback URL (Options.CallbackURL) when one is set, so that a receipt
// reaches any live node, and the node's own Options.PublicURL otherwise.
// With neither, callbacks returns nil and providers send no receipts.
func callbacks(publicURL string) func(*relay.Delivery) string {
	if publicURL == "" {
		return nil
	}
	base := strings.TrimSuffix(publicURL, "/") + relay.WebhookPrefix
	return func(d *relay.Delivery) string { return base + d.ID }
}
