package nats

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/oob-relay/relay/relay"
)

// Ingest defaults, each with the reason it was chosen.
const (
	// DefaultQueueGroup makes the nodes of a cluster sharing a NATS server
	// one queue, so each request is taken by exactly one of them.
	DefaultQueueGroup = "relay"
	// DefaultIngestAuthor is the author of posts that name none.
	DefaultIngestAuthor = "nats"
	// DefaultIngestTimeout bounds one request: accepting a post waits for
	// an fsync and a peer's copy (2 s at most by default), and a request
	// still running after 10 s has lost its sender, whose own timeout is
	// usually shorter, so the slot is better given to the next one.
	DefaultIngestTimeout = 10 * time.Second
	// DefaultIngestConcurrency lets a post that waits for a peer's copy
	// hold up neither acknowledgements nor other posts, while bounding
	// the work one burst of requests can start.
	DefaultIngestConcurrency = 8
)

// IngestConfig configures the subscriptions that take posts and
// acknowledgements from bots. The zero value plus SetDefaults subscribes
// to relay.post and relay.ack in queue group relay.
type IngestConfig struct {
	// Enabled tells the node to call Subscribe; Subscribe itself does not
	// look at it.
	Enabled bool `yaml:"enabled"`
	// QueueGroup is shared by every node, so one node takes each request.
	QueueGroup string `yaml:"queue_group"`
	// PostSubject and AckSubject are the request subjects, by default
	// <subject_prefix>.post and <subject_prefix>.ack.
	PostSubject string `yaml:"post_subject"`
	AckSubject  string `yaml:"ack_subject"`
	// Author is the author of a post that names none.
	Author string `yaml:"author"`
	// Timeout bounds the handling of one request.
	Timeout time.Duration `yaml:"timeout"`
	// Concurrency bounds the requests handled at once.
	Concurrency int `yaml:"concurrency"`
}

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
	if c.Author == "" {
		c.Author = DefaultIngestAuthor
	}
	if c.Timeout == 0 {
		c.Timeout = DefaultIngestTimeout
	}
	if c.Concurrency == 0 {
		c.Concurrency = DefaultIngestConcurrency
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
	if !relay.ValidID(c.Author) {
		bad("author", "%q must be 1-64 characters of a-z, 0-9 and '-', such as %q", c.Author, DefaultIngestAuthor)
	}
	if c.Timeout <= 0 {
		bad("timeout", "must be positive, such as 10s")
	}
	if c.Concurrency < 1 || c.Concurrency > 1024 {
		bad("concurrency", "%d must be between 1 and 1024", c.Concurrency)
	}
	return errors.Join(errs...)
}
