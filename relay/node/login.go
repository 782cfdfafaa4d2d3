package node

import (
	"cmp"
	"context"
	"errors"
	"net/netip"
	"strings"
	"time"

	"github.com/oob-relay/relay/relay"
	"github.com/oob-relay/relay/relay/session"
)

// Console configures the node's side of the web console: how long
// sessions and personal links last, and whether deliveries carry links.
type Console struct {
	// SessionTTL is how long a login session lasts; zero means
	// DefaultSessionTTL.
	SessionTTL time.Duration
	// LinkTTL is how long a personal link opens its incident room; zero
	// means DefaultLinkTTL.
	LinkTTL time.Duration
	// NoLinks keeps personal links out of SMS and mail.
	NoLinks bool
}

// Lifetimes of console tokens.
const (
	DefaultSessionTTL = 12 * time.Hour
	DefaultLinkTTL    = 24 * time.Hour
	HandoffTTL        = 10 * time.Minute
)

// LinkPath is the path, under a node's public URL, of personal links:
// LinkPath + token.
const LinkPath = "/l/"

func (c *Console) setDefaults() {
	c.SessionTTL = cmp.Or(c.SessionTTL, DefaultSessionTTL)
	c.LinkTTL = cmp.Or(c.LinkTTL, DefaultLinkTTL)
}

// SessionTTL returns how long a login session lasts on this node.
func (n *Node) SessionTTL() time.Duration { return n.opts.Console.SessionTTL }

// errNotYet marks what this node does not do yet.
var errNotYet = errors.New("console login is not available on this node yet")

// StartLogin begins a login for contact, a phone number (any usual
// format) or an email address: it finds the person in the roster the
// deliveries use (Roster), sends a fresh 6-digit code over their
// channels, and returns the challenge. An unknown contact gets a decoy
// challenge the browser cannot tell apart, and nothing is sent. Codes
// are limited per person and per client address (from): past a limit
// the error is a *relay.RateLimitError with RetryAfter.
func (n *Node) StartLogin(ctx context.Context, contact string, from netip.Addr) (relay.Challenge, error) {
	return relay.Challenge{}, errNotYet
}

// FinishLogin takes the code typed for a login challenge and returns the
// person it proves. A code is taken once, for relay.CodeTTL, on any node
// (the challenge is in the replicated log, its code only as a salted
// hash). After relay.MaxCodeFailures wrong codes for a person (counted
// on every node through the log), or relay.MaxAddressFailures from one
// address in an hour, it answers relay.ErrLockedOut in a
// *relay.RateLimitError.
func (n *Node) FinishLogin(ctx context.Context, challenge, code string, from netip.Addr) (person string, err error) {
	return "", errNotYet
}

// Tokens signs console tokens with the node key and checks tokens of
// every node the cluster keyring trusts (only this node's own without a
// keyring).
func (n *Node) Tokens() *session.Tokens { return n.tokens }

// SessionRevoked reports whether a session was revoked: by its id, or by
// a revocation of every session of its person issued until then.
func (n *Node) SessionRevoked(c session.Claims) bool { return false }

// RevokeSession revokes the session id of person; by is who asked.
func (n *Node) RevokeSession(ctx context.Context, id, person, by string) error { return errNotYet }

// RevokeSessions revokes every session of person issued until now; by
// is who asked.
func (n *Node) RevokeSessions(ctx context.Context, person, by string) error { return errNotYet }

// Audit records e in the replicated audit trail; a zero At is now and an
// empty Node this node.
func (n *Node) Audit(ctx context.Context, e relay.AuditEntry) error { return errNotYet }

// AuditTrail returns up to limit entries of the audit trail, newest
// first.
func (n *Node) AuditTrail(limit int) ([]relay.AuditEntry, error) { return nil, errNotYet }

// PersonalLink returns the link that opens incident's room for person:
// the public URL (the cluster's callback URL when set, else this node's),
// LinkPath and a link token valid Console.LinkTTL. It is "" without a
// public URL.
func (n *Node) PersonalLink(person, incident string) string {
	base := strings.TrimSuffix(cmp.Or(n.opts.CallbackURL, n.opts.PublicURL), "/")
	if base == "" || person == "" || incident == "" {
		return ""
	}
	tok, _ := n.tokens.Issue(session.KindLink, "", person, incident, n.opts.Console.LinkTTL)
	return base + LinkPath + tok
}

// SendChallenge sends a fresh one-time code for purpose to person over
// the destinations to, in order, until one provider takes it (a contact
// change sends to the one new address only), records the challenge in
// the replicated log and returns it. Codes are limited per person and
// per client address (from) as StartLogin's are.
func (n *Node) SendChallenge(ctx context.Context, purpose, person string, to []relay.Destination, from netip.Addr) (relay.Challenge, error) {
	return relay.Challenge{}, errNotYet
}

// CheckChallenge takes the code typed for challenge id of purpose, once,
// and returns the challenge with its Person and To. Wrong codes count
// towards the lockouts FinishLogin describes; FinishLogin is
// CheckChallenge for PurposeLogin.
func (n *Node) CheckChallenge(ctx context.Context, purpose, id, code string, from netip.Addr) (relay.Challenge, error) {
	return relay.Challenge{}, errNotYet
}
