package config

import (
	"log/slog"
	"path/filepath"
	"time"

	"github.com/oob-relay/relay/relay"
	"github.com/oob-relay/relay/relay/delivery"
	"github.com/oob-relay/relay/relay/secret"
)

// Defaults applied by SetDefaults, each with the reason it was chosen.
const (
	// DefaultListen keeps the API on the loopback interface until an
	// operator decides to expose it, usually behind a TLS proxy.
	DefaultListen = "127.0.0.1:8080"
	// DefaultMaxBodyBytes bounds every request but a roster: a message of
	// relay.MaxTextBytes to a thousand targets fits many times over.
	DefaultMaxBodyBytes = 1 << 20
	// DefaultMaxRosterBytes bounds a roster sent to PUT /v1/roster: about
	// 200,000 people as the roster file writes them, twice relay.MaxPeople.
	DefaultMaxRosterBytes = 32 << 20
	// MinBodyBytes is the smallest request body limit allowed: a message of
	// relay.MaxTextBytes plus its JSON encoding must fit.
	MinBodyBytes = 70 << 10
	// MaxBodyBytes is the largest request body limit allowed, so that a
	// client cannot make a node hold an unbounded request in memory.
	MaxBodyBytes = 64 << 20

	// DefaultWorkers is the number of attempts in flight per channel: enough
	// to keep a slow SMTP smarthost from holding back a whole incident.
	DefaultWorkers = 16
	// MaxWorkers bounds the attempts in flight per channel.
	MaxWorkers = 1024
	// DefaultAttemptTimeout is long enough for a slow SMTP smarthost and
	// short enough to retry well within a deadline.
	DefaultAttemptTimeout = 30 * time.Second
	// DefaultBackoffInitial and DefaultBackoffMax are the delivery
	// engine's own defaults (see delivery.Backoff).
	DefaultBackoffInitial = delivery.DefaultBackoffInitial
	DefaultBackoffMax     = delivery.DefaultBackoffMax
	// DefaultReceiptTimeout is the delivery engine's own default.
	DefaultReceiptTimeout = delivery.DefaultReceiptTimeout
	// DefaultCriticalDeadline gives up on a critical message after an hour:
	// later it is history rather than news.
	DefaultCriticalDeadline = time.Hour
	// DefaultWarningDeadline retries a warning through a working morning.
	DefaultWarningDeadline = 4 * time.Hour
	// DefaultInfoDeadline retries an informational message for a day.
	DefaultInfoDeadline = 24 * time.Hour

	// MinTokenLength is the shortest API token accepted.
	MinTokenLength = 16

	// DefaultLogLevel and DefaultLogFormat log what an operator needs in a
	// form that reads well in a terminal or journal.
	DefaultLogLevel  = "info"
	DefaultLogFormat = "text"
)

// Config is a relay node's whole configuration.
type Config struct {
	Node Node `yaml:"node"`
	HTTP HTTP `yaml:"http"`
	API  API  `yaml:"api"`
	// RosterFile names a roster (see relay.DecodeRoster) the node applies
	// when it starts. It is optional; a relative path resolves against Dir.
	RosterFile string   `yaml:"roster_file"`
	Delivery   Delivery `yaml:"delivery"`
	Channels   Channels `yaml:"channels"`
	// Inbound configures replies by email and Alertmanager's webhooks.
	Inbound Inbound `yaml:"inbound"`
	// Cluster, when present, makes the node a member of a cluster.
	Cluster *Cluster `yaml:"cluster"`
	// Store bounds what the node keeps on disk.
	Store Store `yaml:"store"`
	// Limits bound what clients may ask of the node.
	Limits Limits `yaml:"limits"`
	// Console sets the lifetimes of console sessions and personal links.
	Console Console `yaml:"console"`
	// Watch lists what the cluster watches: targets, heartbeats, and
	// when a dark site is paged about.
	Watch Watch `yaml:"watch"`
	Log   Log   `yaml:"log"`
	// Drills schedules drills; none unless configured.
	Drills Drills `yaml:"drills"`
	// Dir is the folder relative paths resolve against: the folder of the
	// config file. Load sets it; it is never read from YAML.
	Dir string `yaml:"-"`
}

// Node names the node and its store.
type Node struct {
	// Name is the node's name, unique in its cluster; it must satisfy
	// relay.ValidID. It is required.
	Name string `yaml:"name"`
	// Site is where the node runs (a data center, region or city), such
	// as seoul; it must satisfy relay.ValidID. Watched targets and
	// site-dark checks count sites, not nodes. Optional; empty means the
	// node's name.
	Site string `yaml:"site"`
	// DataDir is the folder of the node's store. It is required; a
	// relative path resolves against Config.Dir.
	DataDir string `yaml:"data_dir"`
}

// HTTP configures the listener that serves the API and provider webhooks,
// in plain HTTP (behind a TLS proxy, or on loopback) or in HTTPS (TLS).
type HTTP struct {
	// Listen is the host:port to listen on. Default DefaultListen.
	Listen string `yaml:"listen"`
	// PublicURL is the absolute http or https URL at which providers reach
	// this node to post delivery receipts, without query or fragment; a
	// trailing slash is removed. Empty means providers send no receipts.
	PublicURL string `yaml:"public_url"`
	// CallbackURL is the absolute http or https URL that providers post
	// receipts and call webhooks to, when it should not be this node's
	// own: a URL every node of the cluster answers (a load balancer, or a
	// DNS name over every node's public URL), so that a receipt still
	// reaches the cluster when the node that sent is down. Empty means
	// PublicURL. Receipts lost anyway are fetched from the provider after
	// delivery.receipt_timeout.
	CallbackURL string `yaml:"callback_url"`
	// MaxBodyBytes bounds a request body, from MinBodyBytes to
	// MaxBodyBytes. Default DefaultMaxBodyBytes.
	MaxBodyBytes int64 `yaml:"max_body_bytes"`
	// MaxRosterBytes bounds a roster sent to PUT /v1/roster, from
	// MinBodyBytes to MaxBodyBytes. Default DefaultMaxRosterBytes.
	MaxRosterBytes int64 `yaml:"max_roster_bytes"`
	// InsecurePublicURL allows an http:// PublicURL or CallbackURL to a
	// host that is not loopback: providers then post receipts, replies
	// and the people's phone numbers in clear text, which anyone on the
	// way can read. For labs only.
	InsecurePublicURL bool `yaml:"insecure_public_url"`
	// TLS, when present, serves HTTPS on Listen instead of plain HTTP.
	TLS *TLS `yaml:"tls"`
}

// API lists who may use the node's HTTP API.
type API struct {
	// Tokens are the bearer tokens the API accepts. At least one is
	// required.
	Tokens []Token `yaml:"tokens"`
}

// Token is one API bearer token. Exactly one of Token, TokenEnv and
// TokenFile gives its value; ResolveSecrets reads it into Token.
type Token struct {
	// Name identifies the token; it must satisfy relay.ValidID and be
	// unique. It is recorded as the author of messages posted with it.
	Name string `yaml:"name"`
	// Role is what the token may do.
	Role      Role          `yaml:"role"`
	Token     secret.String `yaml:"token"`
	TokenEnv  string        `yaml:"token_env"`
	TokenFile string        `yaml:"token_file"`
	// AnswerFor lists, as audience targets (person:<id>, group:<id>,
	// role:<role>, schedule:<id> for whoever is on call, everyone), the
	// people a bot token may answer roll-calls for through the API; an
	// admin token may answer for anyone, a viewer for nobody.
	AnswerFor []string `yaml:"answer_for"`
}

// Role is what an API token may do. It is the core's relay.Role, so that a
// configured token's role passes to the API unchanged.
type Role = relay.Role

// Roles, from most to least powerful: an admin may do everything, a bot
// may post messages and read, a viewer may only read.
const (
	RoleAdmin  = relay.RoleAdmin
	RoleBot    = relay.RoleBot
	RoleViewer = relay.RoleViewer
)

// Delivery tunes the delivery engine.
type Delivery struct {
	// Workers is the number of attempts in flight per channel, from 1 to
	// MaxWorkers. Default DefaultWorkers.
	Workers int `yaml:"workers"`
	// AttemptTimeout bounds one delivery attempt. Default
	// DefaultAttemptTimeout.
	AttemptTimeout time.Duration `yaml:"attempt_timeout"`
	// ReceiptTimeout is how long an SMS or call waits for its provider's
	// receipt before the node that owns it asks the provider what became
	// of it (Twilio: the message or call fetched by its SID). Default
	// DefaultReceiptTimeout.
	ReceiptTimeout time.Duration `yaml:"receipt_timeout"`
	Backoff        Backoff       `yaml:"backoff"`
	Deadlines      Deadlines     `yaml:"deadlines"`
	Policy         Policies      `yaml:"policy"`
	Calls          Calls         `yaml:"calls"`
	// EscalationSpeedup divides every wait of the escalation policies
	// messages accepted here follow, for drills and tests: 60 runs a 5m
	// step in 5 s. 0 or 1 runs them as the roster writes them; at most
	// relay.MaxEscalationSpeedup.
	EscalationSpeedup int `yaml:"escalation_speedup"`
}

// Backoff spaces the retries of a delivery: the wait starts at Initial and
// doubles after every failure up to Max, each wait spread by ±20% so that
// the retries of a burst do not arrive together (delivery.Backoff).
type Backoff struct {
	// Initial is the wait before the first retry. Default
	// DefaultBackoffInitial.
	Initial time.Duration `yaml:"initial"`
	// Max caps the wait; it must not be shorter than Initial. Default
	// DefaultBackoffMax, or Initial when that is longer.
	Max time.Duration `yaml:"max"`
}

// Deadlines say how long a message's deliveries keep being retried, by
// the message's severity.
type Deadlines struct {
	Critical time.Duration `yaml:"critical"`
	Warning  time.Duration `yaml:"warning"`
	Info     time.Duration `yaml:"info"`
}

// For returns the deadline of severity s. A severity relay does not know
// gets the longest of the three, so that no message is given up early.
func (d Deadlines) For(s relay.Severity) time.Duration {
	switch s {
	case relay.SeverityCritical:
		return d.Critical
	case relay.SeverityWarning:
		return d.Warning
	case relay.SeverityInfo:
		return d.Info
	}
	return max(d.Critical, d.Warning, d.Info)
}

// Log configures the node's log output.
type Log struct {
	// Level is debug, info, warn or error. Default DefaultLogLevel.
	Level string `yaml:"level"`
	// Format is text or json. Default DefaultLogFormat.
	Format string `yaml:"format"`
}

var logLevels = map[string]slog.Level{
	"debug": slog.LevelDebug,
	"info":  slog.LevelInfo,
	"warn":  slog.LevelWarn,
	"error": slog.LevelError,
}

// Level returns the configured log level; an unknown or empty level is
// slog.LevelInfo.
func (c *Config) Level() slog.Level {
	if l, ok := logLevels[c.Log.Level]; ok {
		return l
	}
	return slog.LevelInfo
}

// Path returns p resolved against c.Dir: p itself when it is empty or
// absolute.
func (c *Config) Path(p string) string {
	if p == "" || filepath.IsAbs(p) {
		return p
	}
	return filepath.Join(c.Dir, p)
}

// EnabledChannels lists the channels that have at least one provider, in
// the order of relay.Channels.
func (c *Config) EnabledChannels() []string {
	count := map[string]int{
		relay.ChannelSMS:   len(c.Channels.SMS.Providers),
		relay.ChannelVoice: len(c.Channels.Voice.Providers),
		relay.ChannelEmail: len(c.Channels.Email.Providers),
		relay.ChannelNATS:  len(c.Channels.NATS.Providers),
	}
	var out []string
	for _, ch := range relay.Channels {
		if count[ch] > 0 {
			out = append(out, ch)
		}
	}
	return out
}
