package node

import (
	"cmp"
	"context"
	"errors"
	"regexp"
	"strings"
	"time"

	"github.com/oob-relay/relay/relay"
	"github.com/oob-relay/relay/relay/session"
)

// Tokens signs console tokens with the node key and checks tokens of
// every node the cluster keyring trusts (only this node's own without a
// keyring).
func (n *Node) Tokens() *session.Tokens { return n.tokens }

// SessionRevoked reports whether a session was revoked: by its id, or by
// a revocation of every session of its person issued until then (a
// session issued in the same second as such a revocation counts as
// revoked). It is the log's word on this node; a store that cannot be
// read counts as revoked.
func (n *Node) SessionRevoked(c session.Claims) bool {
	byID, before, err := n.store.Revoked(c.ID, c.Person)
	if err != nil {
		n.log.Error("revocations could not be read; the session is refused", "err", err)
		return true
	}
	return byID || (!before.IsZero() && c.Issued <= before.Unix())
}

// RevokeSession revokes the session id of person; by is who asked. The
// revocation is kept until the longest session this node issues would
// have expired.
func (n *Node) RevokeSession(ctx context.Context, id, person, by string) error {
	now := n.opts.Now()
	r := &relay.Revocation{Person: person, Session: id, Until: now.Add(n.revokeKeep()).UTC(), By: relay.Printable(by)}
	if err := r.Check(); err != nil {
		return err
	}
	_, err := n.store.Append(ctx, relay.Event{Revoke: r})
	return err
}

// RevokeSessions revokes every session of person issued until now; by
// is who asked.
func (n *Node) RevokeSessions(ctx context.Context, person, by string) error {
	now := n.opts.Now()
	r := &relay.Revocation{Person: person, Before: now.UTC(), Until: now.Add(n.revokeKeep()).UTC(), By: relay.Printable(by)}
	if err := r.Check(); err != nil {
		return err
	}
	_, err := n.store.Append(ctx, relay.Event{Revoke: r})
	return err
}

// revokeKeep is how long a revocation is kept: as long as the longest
// token it may name lives.
func (n *Node) revokeKeep() (d time.Duration) {
	return max(n.opts.Console.SessionTTL, n.opts.Console.LinkTTL, HandoffTTL)
}

// MaxAuditTrail bounds the entries AuditTrail returns at once.
const MaxAuditTrail = 10_000

// Audit records e in the replicated audit trail; a zero At is now and an
// empty Node this node. Its text is made printable on one line and cut
// to its bounds (relay.CleanAudit).
func (n *Node) Audit(ctx context.Context, e relay.AuditEntry) error {
	if e.At.IsZero() {
		e.At = n.opts.Now()
	}
	e.At = e.At.UTC()
	e.Node = cmp.Or(e.Node, n.opts.Name)
	e = relay.CleanAudit(e)
	if err := e.Check(); err != nil {
		return err
	}
	_, err := n.store.Append(ctx, relay.Event{Audit: &e})
	return err
}

// AuditTrail returns up to limit entries of the audit trail (at most
// MaxAuditTrail), newest first.
func (n *Node) AuditTrail(limit int) ([]relay.AuditEntry, error) {
	if limit <= 0 {
		return nil, errors.New("audit trail: limit must be positive")
	}
	return n.store.AuditTrail(min(limit, MaxAuditTrail))
}

// PersonalLink returns the link that opens incident's room for person:
// the public URL (the cluster's callback URL when set, a URL every node
// answers, else this node's), LinkPath and a link token valid
// Console.LinkTTL. It is "" without a public URL.
func (n *Node) PersonalLink(person, incident string) string {
	base := strings.TrimSuffix(cmp.Or(n.opts.CallbackURL, n.opts.PublicURL), "/")
	if base == "" || person == "" || incident == "" {
		return ""
	}
	tok, _ := n.tokens.Issue(session.KindLink, "", person, incident, n.opts.Console.LinkTTL)
	return base + LinkPath + tok
}

// linkToken matches the token of a personal link in text.
var linkToken = regexp.MustCompile(`/l/[A-Za-z0-9_-]{16,}\.[A-Za-z0-9_-]{40,}`)

// redactLinks removes the tokens of personal links from a reply's text:
// a reply that quotes or forwards the message it answers would otherwise
// hand its author's link, which opens the room as them, to everyone in
// the incident.
func redactLinks(text string) string {
	return linkToken.ReplaceAllString(text, "/l/…")
}

// deliveryLink is the link an SMS or mail delivery to a person carries,
// unless links are off.
func (n *Node) deliveryLink(d *relay.Delivery) string {
	if n.opts.Console.NoLinks || (d.Channel != relay.ChannelSMS && d.Channel != relay.ChannelEmail) {
		return ""
	}
	return n.PersonalLink(d.Person, d.Incident)
}
