package nats

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/oob-relay/relay/relay"
)

// Ingest defaults, each with the reason it was chosen.
const (
	// DefaultQueueGroup makes the nodes of a cluster sharing a NATS server
	// one queue, so each request is taken by exactly one of them.
	DefaultQueueGroup = "relay"
	// DefaultIngestTimeout bounds one request: accepting a post waits for
	// an fsync and a peer's copy (2 s at most by default), and a request
	// still running after 10 s has lost its sender, whose own timeout is
	// usually shorter, so the slot is better given to the next one.
	DefaultIngestTimeout = 10 * time.Second
	// DefaultIngestConcurrency lets a post that waits for a peer's copy
	// hold up neither acknowledgements nor other posts, while bounding
	// the work one burst of requests can start.
	DefaultIngestConcurrency = 8
	// DefaultIngestMaxInFlight bounds the requests a node holds, handled
	// or waiting for one of the Concurrency slots: about as many as eight
	// slots finish in the few seconds a sender waits. A request beyond it
	// is refused at once (unavailable), where it would otherwise wait
	// unseen until its sender gave up.
	DefaultIngestMaxInFlight = 64
	// DefaultBotRate is a bot's sustained requests per second on one
	// node: a monitor posts an update every few seconds at most, even in
	// an incident.
	DefaultBotRate = 1.0
	// DefaultBotBurst lets a bot send the first wave of an alert storm at
	// once (20 requests) before DefaultBotRate applies.
	DefaultBotBurst = 20
)

// The actions a bot may be allowed.
const (
	ActionPost = "post"
	ActionAck  = "ack"
)

// IngestConfig configures the subscriptions that take posts and
// acknowledgements from bots. A bot is known by the last token of the
// subject it sends on, <post_subject>.<bot> or <ack_subject>.<bot>, which
// the NATS server's permissions must give to that bot's credentials
// alone; nothing in a request names who sends it. The zero value plus
// SetDefaults subscribes, once bots are listed, to relay.post.<bot> (and
// relay.ack.<bot> for bots that may acknowledge) in queue group relay.
type IngestConfig struct {
	// Enabled tells the node to call Subscribe; Subscribe itself does not
	// look at it.
	Enabled bool `yaml:"enabled"`
	// QueueGroup is shared by every node, so one node takes each request.
	QueueGroup string `yaml:"queue_group"`
	// PostSubject and AckSubject start the request subjects, by default
	// <subject_prefix>.post and <subject_prefix>.ack; a bot sends on them
	// followed by its name.
	PostSubject string `yaml:"post_subject"`
	AckSubject  string `yaml:"ack_subject"`
	// Author is refused: a post's author is the bot that sends it. It is
	// kept so that a configuration from before bots gets a clear error.
	Author string `yaml:"author"`
	// Timeout bounds the handling of one request, waiting included.
	Timeout time.Duration `yaml:"timeout"`
	// Concurrency bounds the requests handled at once.
	Concurrency int `yaml:"concurrency"`
	// MaxInFlight bounds the requests held at once, handled or waiting
	// for a Concurrency slot; one more is refused unavailable.
	MaxInFlight int `yaml:"max_in_flight"`
	// MaxRequestBytes bounds a request's payload; at most
	// MaxRequestBytes, its default.
	MaxRequestBytes int `yaml:"max_request_bytes"`
	// Rate and Burst are the rate limit of a bot that sets none.
	Rate  float64 `yaml:"rate"`
	Burst int     `yaml:"burst"`
	// Bots lists who may send requests.
	Bots []Bot `yaml:"bots"`
}

// Bot is one identity allowed to send requests over NATS.
type Bot struct {
	// Name is the bot's identity: the last token of its subjects and the
	// author of its posts.
	Name string `yaml:"name"`
	// Allow lists what the bot may do: post, ack or both. Default post.
	Allow []string `yaml:"allow"`
	// AckFor lists the people the bot may acknowledge for, as audience
	// targets: person:<id>, group:<id> (its members when the request
	// comes) or everyone. Required with ack, refused without it.
	AckFor []string `yaml:"ack_for"`
	// Rate is the bot's sustained requests per second on each node, posts
	// and acknowledgements together; Burst how many may come at once.
	// Defaults: the ingest's rate and burst.
	Rate  float64 `yaml:"rate"`
	Burst int     `yaml:"burst"`
}

// May reports whether the bot is allowed action.
func (b *Bot) May(action string) bool { return slices.Contains(b.Allow, action) }

// SetDefaults fills every unset field with its default, with subjects
// under DefaultSubjectPrefix.
func (c *IngestConfig) SetDefaults() { c.SetDefaultsUnder(DefaultSubjectPrefix) }

// SetDefaultsUnder fills every unset field with its default, with the
// subjects <prefix>.post and <prefix>.ack.
func (c *IngestConfig) SetDefaultsUnder(prefix string) {
	if c.QueueGroup == "" {
		c.QueueGroup = DefaultQueueGroup
	}
	if c.PostSubject == "" {
		c.PostSubject = prefix + ".post"
	}
	if c.AckSubject == "" {
		c.AckSubject = prefix + ".ack"
	}
	if c.Timeout == 0 {
		c.Timeout = DefaultIngestTimeout
	}
	if c.Concurrency == 0 {
		c.Concurrency = DefaultIngestConcurrency
	}
	if c.MaxInFlight == 0 {
		c.MaxInFlight = max(DefaultIngestMaxInFlight, c.Concurrency)
	}
	if c.MaxRequestBytes == 0 {
		c.MaxRequestBytes = MaxRequestBytes
	}
	if c.Rate == 0 {
		c.Rate = DefaultBotRate
	}
	if c.Burst == 0 {
		c.Burst = DefaultBotBurst
	}
	for i := range c.Bots {
		b := &c.Bots[i]
		if len(b.Allow) == 0 {
			b.Allow = []string{ActionPost}
		}
		if b.Rate == 0 {
			b.Rate = c.Rate
		}
		if b.Burst == 0 {
			b.Burst = c.Burst
		}
	}
}

// Validate checks the configuration after SetDefaults and returns every
// problem at once, joined with errors.Join, each starting with its key.
func (c *IngestConfig) Validate() error {
	var errs []error
	bad := func(key, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s: %s", key, fmt.Sprintf(format, args...)))
	}
	if c.QueueGroup == "" || strings.ContainsFunc(c.QueueGroup, func(r rune) bool { return isControl(r) || r == ' ' }) {
		bad("queue_group", "%q must be a name without spaces, such as %q", c.QueueGroup, DefaultQueueGroup)
	}
	for _, s := range []struct{ key, subject, example string }{
		{"post_subject", c.PostSubject, "relay.post"}, {"ack_subject", c.AckSubject, "relay.ack"},
	} {
		if ValidSubjectPrefix(s.subject) != nil {
			bad(s.key, "%q must be dot-separated tokens without wildcards (* or >), spaces or empty tokens, such as %q", s.subject, s.example)
		}
	}
	if c.PostSubject != "" && c.PostSubject == c.AckSubject {
		bad("ack_subject", "%q is also post_subject; the two must differ", c.AckSubject)
	}
	if c.Author != "" {
		bad("author", "is no longer read: a post's author is the bot that sends it, named by its subject; list the bots under bots")
	}
	if c.Timeout <= 0 {
		bad("timeout", "must be positive, such as 10s")
	}
	if c.Concurrency < 1 || c.Concurrency > 1024 {
		bad("concurrency", "%d must be between 1 and 1024", c.Concurrency)
	}
	if c.MaxInFlight < c.Concurrency || c.MaxInFlight > 65536 {
		bad("max_in_flight", "%d must be between concurrency (%d) and 65536", c.MaxInFlight, c.Concurrency)
	}
	if c.MaxRequestBytes < 1024 || c.MaxRequestBytes > MaxRequestBytes {
		bad("max_request_bytes", "%d must be between 1024 and %d", c.MaxRequestBytes, MaxRequestBytes)
	}
	validRate("", c.Rate, c.Burst, bad)
	if len(c.Bots) == 0 {
		bad("bots", "is empty: list the bots that may send requests, each with a name; bot <name> posts on %s.<name>", c.PostSubject)
	}
	names := map[string]int{}
	for i := range c.Bots {
		c.Bots[i].validate(fmt.Sprintf("bots[%d].", i), names, i, bad)
	}
	return errors.Join(errs...)
}

func (b *Bot) validate(key string, names map[string]int, i int, bad func(key, format string, args ...any)) {
	switch {
	case b.Name == "":
		bad(key+"name", "is required: the bot's identity, the last token of its subjects and the author of its posts")
	case !relay.ValidID(b.Name):
		bad(key+"name", "%q must be 1-64 characters of a-z, 0-9 and '-', not starting or ending with '-'", b.Name)
	default:
		if j, dup := names[b.Name]; dup {
			bad(key+"name", "%q is also bots[%d]", b.Name, j)
		} else {
			names[b.Name] = i
		}
	}
	for j, a := range b.Allow {
		switch {
		case a != ActionPost && a != ActionAck:
			bad(fmt.Sprintf("%sallow[%d]", key, j), "%q is not an action: use post or ack", a)
		case slices.Index(b.Allow, a) < j:
			bad(fmt.Sprintf("%sallow[%d]", key, j), "%q is listed twice", a)
		}
	}
	switch {
	case b.May(ActionAck) && len(b.AckFor) == 0:
		bad(key+"ack_for", "is required with allow: ack: list whom the bot may acknowledge for (person:<id>, group:<id> or everyone)")
	case !b.May(ActionAck) && len(b.AckFor) > 0:
		bad(key+"ack_for", "has no use without ack in allow")
	}
	for j, t := range b.AckFor {
		k := fmt.Sprintf("%sack_for[%d]", key, j)
		id, isPerson := strings.CutPrefix(t, relay.TargetPersonPrefix)
		gid, isGroup := strings.CutPrefix(t, relay.TargetGroupPrefix)
		switch {
		case (isPerson && !relay.ValidID(id)) || (isGroup && !relay.ValidID(gid)):
			bad(k, "%q must name an id of 1-64 characters of a-z, 0-9 and '-'", t)
		case !isPerson && !isGroup && t != relay.TargetEveryone:
			bad(k, "%q must be person:<id>, group:<id> or everyone", t)
		case slices.Index(b.AckFor, t) < j:
			bad(k, "%q is listed twice", t)
		}
	}
	validRate(key, b.Rate, b.Burst, bad)
}

// validRate reports problems with a rate limit.
func validRate(key string, rate float64, burst int, bad func(key, format string, args ...any)) {
	if math.IsNaN(rate) || math.IsInf(rate, 0) || rate <= 0 {
		bad(key+"rate", "must be a positive number of requests per second, such as %g", DefaultBotRate)
	}
	if burst < 1 || burst > 100000 {
		bad(key+"burst", "%d must be between 1 and 100000", burst)
	}
}
