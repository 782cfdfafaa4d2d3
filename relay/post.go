package relay

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// DefaultSeverity is the severity of a post that names none.
const DefaultSeverity = SeverityWarning

// MaxIdempotencyKey bounds an idempotency key's length.
const MaxIdempotencyKey = 255

// DefaultMaxTo is how many distinct audience targets a post may name
// unless a node is configured otherwise: room for every team of a large
// company by name, while a group, however large, counts as one.
const DefaultMaxTo = 1000

// maxListed bounds how many entries of one list a validation error
// names; the rest are counted.
const maxListed = 10

// Post is a request to send a message, as a client wrote it.
type Post struct {
	Incident string   `json:"incident"`
	Text     string   `json:"text"`
	To       []string `json:"to"`
	Severity Severity `json:"severity,omitempty"`
	// Channels restricts the channels used; empty means every channel each
	// person has.
	Channels []string `json:"channels,omitempty"`
}

// FieldError is a problem with one field of a request. Field is the JSON
// path, such as "to[1]".
type FieldError struct {
	Field   string
	Message string
}

func (e *FieldError) Error() string { return e.Field + ": " + e.Message }

// Validate reports every problem with the post, each a *FieldError, joined
// with errors.Join. It does not look at the roster.
func (p *Post) Validate() error {
	var errs []error
	bad := func(field, format string, args ...any) {
		errs = append(errs, &FieldError{field, fmt.Sprintf(format, args...)})
	}
	switch {
	case p.Incident == "":
		bad("incident", "is required")
	case !ValidID(p.Incident):
		bad("incident", "%s %s", quoteShort(p.Incident), errBadID)
	}
	switch {
	case strings.TrimSpace(p.Text) == "":
		bad("text", "is required and must not be blank")
	case len(p.Text) > MaxTextBytes:
		bad("text", "is %d bytes; the limit is %d", len(p.Text), MaxTextBytes)
	default:
		if err := CheckText("text", p.Text); err != nil {
			errs = append(errs, err)
		}
	}
	if len(p.To) == 0 {
		bad("to", "is required: list %s", AudienceForms)
	}
	badTo := 0
	for i, t := range p.To {
		if validTarget(t) {
			continue
		}
		if badTo++; badTo <= maxListed {
			bad(fmt.Sprintf("to[%d]", i), "%s %s", quoteShort(t), errNotAudience)
		}
	}
	if badTo > maxListed {
		bad("to", "%d more entries are not audiences", badTo-maxListed)
	}
	if err := checkEscalationTo(p.To); err != nil {
		errs = append(errs, err)
	}
	if p.Severity != "" && !p.Severity.Valid() {
		bad("severity", "%s must be one of critical, warning and info", quoteShort(string(p.Severity)))
	}
	badChannels := 0
	for i, ch := range p.Channels {
		msg := ""
		switch {
		case !KnownChannel(ch):
			msg = fmt.Sprintf("%s is not a channel: use %s", quoteShort(ch), strings.Join(Channels, ", "))
		case slices.Index(p.Channels, ch) < i:
			msg = fmt.Sprintf("%q is listed twice", ch)
		default:
			continue
		}
		if badChannels++; badChannels <= maxListed {
			bad(fmt.Sprintf("channels[%d]", i), "%s", msg)
		}
	}
	if badChannels > maxListed {
		bad("channels", "%d more entries are unknown or repeated", badChannels-maxListed)
	}
	return errors.Join(errs...)
}

// Recipients gives each person the channels of theirs that usable allows,
// in their preference order; those left with none are unreachable.
func Recipients(people []Person, usable func(ch string) bool) (recs []Recipient, unreachable []string) {
	for _, person := range people {
		var chs []string
		for _, ch := range person.ContactChannels() {
			if !Broadcast(ch) && usable(ch) && !slices.Contains(chs, ch) {
				chs = append(chs, ch)
			}
		}
		if len(chs) == 0 {
			unreachable = append(unreachable, person.ID)
			continue
		}
		recs = append(recs, Recipient{Person: person, Channels: chs})
	}
	return recs, unreachable
}

// validTarget reports whether t has the form of an audience target:
// "everyone", "person:<id>", "group:<id>" or "role:<role>".
func validTarget(t string) bool { return CheckTarget(t) == "" }

// quoteShort quotes a value for an error message, escaping what a
// terminal would obey and cutting a long value to its first 64 bytes.
func quoteShort(s string) string {
	if short, cut := cutShort(s); cut {
		return strconv.Quote(short) + "…"
	}
	return strconv.Quote(s)
}

// cutShort cuts s to at most 64 bytes at a character boundary and
// reports whether it did.
func cutShort(s string) (string, bool) {
	const max = 64
	if len(s) <= max {
		return s, false
	}
	end := max
	for end > 0 && !utf8.RuneStart(s[end]) {
		end--
	}
	return s[:end], true
}

// CheckTo returns a *FieldError for "to" when the post names more than
// max distinct audience targets (DefaultMaxTo when max is not positive).
// Repeated targets count once, and a group counts as one whatever its
// size.
func (p *Post) CheckTo(max int) error {
	if max <= 0 {
		max = DefaultMaxTo
	}
	if len(p.To) <= max {
		return nil
	}
	if n := len(distinct(p.To)); n > max {
		return &FieldError{"to", fmt.Sprintf("names %d audience targets; the limit is %d (a group counts as one target: name a group rather than its people)", n, max)}
	}
	return nil
}

// distinct returns the values of list once each, in the order first
// given, in a new slice.
func distinct(list []string) []string {
	seen := make(map[string]bool, len(list))
	out := make([]string, 0, len(list))
	for _, v := range list {
		if !seen[v] {
			seen[v] = true
			out = append(out, v)
		}
	}
	return out
}

// Hash returns a digest of what the post asks for, so that a retry with the
// same idempotency key can be told apart from a different request.
func (p *Post) Hash() string {
	q := *p
	if q.Severity == "" {
		q.Severity = DefaultSeverity
	}
	b, _ := json.Marshal(q) // a struct of strings cannot fail to marshal
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:16])
}

// The ways a post comes in. With the author, the way scopes an
// idempotency key: an author's keys on one way cannot be claimed on
// another, where the same name may belong to someone else.
const (
	ViaAPI          = "api"          // the HTTP API; the author is a token's name
	ViaNATS         = "nats"         // NATS ingest; the author is a configured bot
	ViaAlertmanager = "alertmanager" // Alertmanager's webhook
	ViaEmail        = "email"        // mail from an SMTP AUTH bot
	ViaReply        = "reply"        // a person's reply by SMS, voice or email
)

// IdempotentMessageID returns the message id a post with an idempotency
// key gets. It depends only on the way the post came (one of the Via
// constants), its author and the key, so every node derives the same id
// for a retried post, and one author cannot take another's key. via and
// author never contain NUL (relay's names are ids). It is 32 hex digits,
// unlike the 26-character ULIDs of other messages.
//
// Messages stored before keys were scoped by way keep the ids they got
// then (a digest of author and key alone): ids are derived only to look
// up a new post, never from stored messages.
func IdempotentMessageID(via, author, key string) string {
	sum := sha256.Sum256([]byte("relay.idempotency.v2\x00" + via + "\x00" + author + "\x00" + key))
	return hex.EncodeToString(sum[:16])
}

// Plan says how a node turns a post into a message.
type Plan struct {
	ID     string
	Author string
	Node   string
	Now    time.Time
	// Enabled lists the channels this node has providers for.
	Enabled []string
	// Deadline gives how long deliveries of a severity are retried.
	Deadline func(Severity) time.Duration
	// Policies say how each severity reaches people; nil means
	// DefaultPolicies.
	Policies Policies
	Priority Priority
	// IdempotencyKey is the client's key, if any.
	IdempotencyKey string
	// Exclude lists people left out of the audience: the author of a
	// reply does not receive their own words.
	Exclude []string
	// EscalationSpeedup divides the waits of an escalation policy the
	// post names, for drills and tests; 0 or 1 runs them as written.
	EscalationSpeedup int
}

// NewMessage resolves a valid post's audience against the roster and returns
// the message to accept. An audience target the roster does not know is a
// *FieldError; so is a requested channel this node cannot send on.
func NewMessage(p *Post, roster *Roster, plan Plan) (*Message, error) {
	people, err := roster.ResolveAt(p.To, plan.Now)
	if err != nil {
		var ae *AudienceError
		if errors.As(err, &ae) {
			return nil, &FieldError{fmt.Sprintf("to[%d]", ae.Index), fmt.Sprintf("%q %s", ae.Target, ae.Reason)}
		}
		return nil, err
	}
	people = slices.DeleteFunc(people, func(p Person) bool { return slices.Contains(plan.Exclude, p.ID) })
	sev := p.Severity
	if sev == "" {
		sev = DefaultSeverity
	}
	policy := plan.Policies.For(sev)
	for i, ch := range p.Channels {
		if !slices.Contains(plan.Enabled, ch) {
			return nil, &FieldError{fmt.Sprintf("channels[%d]", i), fmt.Sprintf("%q has no provider configured on this node", ch)}
		}
		if !policy.Allows(ch) {
			return nil, &FieldError{fmt.Sprintf("channels[%d]", i), fmt.Sprintf("%q is not used for %s messages by policy (allowed: %v)", ch, sev, policy.Channels)}
		}
	}
	usable := func(ch string) bool {
		return slices.Contains(plan.Enabled, ch) && policy.Allows(ch) && (len(p.Channels) == 0 || slices.Contains(p.Channels, ch))
	}
	m := &Message{
		ID:               plan.ID,
		Incident:         p.Incident,
		Text:             p.Text,
		Severity:         sev,
		Author:           plan.Author,
		To:               distinct(p.To),
		Channels:         slices.Clone(p.Channels),
		Priority:         plan.Priority,
		Mode:             policy.Mode,
		UnconfirmedAfter: policy.UnconfirmedAfter,
		AcceptedAt:       plan.Now,
		AcceptedBy:       plan.Node,
		Deadline:         plan.Now.Add(plan.Deadline(sev)),
		IdempotencyKey:   plan.IdempotencyKey,
		RequestHash:      p.Hash(),
	}
	m.Recipients, m.Unreachable = Recipients(people, usable)
	m.Escalation = escalationPlan(p.To, roster, plan.EscalationSpeedup)
	for _, ch := range Channels {
		if Broadcast(ch) && usable(ch) {
			m.Broadcasts = append(m.Broadcasts, ch)
		}
	}
	return m, nil
}
