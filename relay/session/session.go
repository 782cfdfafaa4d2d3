// Package session makes and checks the signed tokens of the web console:
// a person's login session, the personal link an SMS or mail carries to
// an incident room, and the hand-off that lets a page move to another
// node without a new login.
//
// A token is its claims, in a compact binary form (see encode), and the
// issuing node's ed25519 signature of them, by the node key that also signs the node's events (package
// trust), under a prefix of its own so that no token can pass for an
// event or a frame. Every node that trusts the issuing node's key accepts
// the token: a session outlives the node that issued it. Tokens carry no
// secret and are not encrypted; their claims are names and times.
//
// Revocation is not here: a token only proves who issued it, to whom and
// until when. The node refuses tokens of revoked sessions by their ID,
// from its replicated log.
package session

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/oob-relay/relay/relay/trust"
)

// Kinds of token. A token is accepted only as the kind it was made for.
const (
	// KindSession is a login session, kept in a cookie.
	KindSession = "session"
	// KindLink opens one incident room for one person, from an SMS or a
	// mail.
	KindLink = "link"
	// KindHandoff carries a session to another node when the one serving
	// the page dies; it is short-lived and names the session it continues.
	KindHandoff = "handoff"
	// KindForm proves a form was served to the session it names: the
	// console's protection against cross-site requests.
	KindForm = "form"
)

// MaxTokenBytes bounds a token: anything longer is refused unread.
const MaxTokenBytes = 2048

// prefix separates what a node signs for tokens from what it signs for
// events and frames.
const prefix = "relay console token v1\n"

// Claims are what a token says.
type Claims struct {
	Kind string `json:"k"`
	// ID names the token, or for a hand-off the session it continues;
	// revocation lists IDs.
	ID     string `json:"id"`
	Person string `json:"p"`
	// Incident is the incident a link opens; empty otherwise.
	Incident string `json:"i,omitempty"`
	// Node is the node that signed the token.
	Node    string `json:"n"`
	Issued  int64  `json:"iat"`
	Expires int64  `json:"exp"`
	// SessionIssued and SessionExpires are, in a hand-off, the times of
	// the session it continues, so that the session resumed on another
	// node keeps them.
	SessionIssued  int64 `json:"siat,omitempty"`
	SessionExpires int64 `json:"sexp,omitempty"`
}

// IssuedAt and ExpiresAt return the claims' times.
func (c Claims) IssuedAt() time.Time  { return time.Unix(c.Issued, 0) }
func (c Claims) ExpiresAt() time.Time { return time.Unix(c.Expires, 0) }

// Errors of Check. Each wraps the reason, fit to show a person.
var (
	ErrMalformed = errors.New("token is malformed")
	ErrSignature = errors.New("token is not signed by a trusted node")
	ErrExpired   = errors.New("token has expired")
	ErrKind      = errors.New("token is of another kind")
)

// Verifier checks a node's signature: *trust.Keyring is one.
type Verifier interface {
	Verify(node string, msg, sig []byte) bool
}

// Tokens makes tokens signed by one node and checks tokens of any node
// its verifier trusts.
type Tokens struct {
	signer *trust.Signer
	verify Verifier
	now    func() time.Time
}

// New returns Tokens signing with signer. keys checks other nodes'
// tokens; nil accepts only signer's own.
func New(signer *trust.Signer, keys *trust.Keyring, now func() time.Time) *Tokens {
	if now == nil {
		now = time.Now
	}
	t := &Tokens{signer: signer, now: now}
	if keys != nil {
		t.verify = keys
	} else {
		t.verify = ownKey{name: signer.Name(), key: signer.Public()}
	}
	return t
}

type ownKey struct {
	name string
	key  ed25519.PublicKey
}

func (o ownKey) Verify(node string, msg, sig []byte) bool {
	return node == o.name && len(sig) == ed25519.SignatureSize && ed25519.Verify(o.key, msg, sig)
}

// NewID returns a random token ID.
func NewID() string {
	b := make([]byte, 16)
	rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

// Issue signs claims of kind for person, valid for ttl from now. id
// names the token (NewID when empty); incident is for links.
func (t *Tokens) Issue(kind, id, person, incident string, ttl time.Duration) (string, Claims) {
	if id == "" {
		id = NewID()
	}
	now := t.now()
	c := Claims{Kind: kind, ID: id, Person: person, Incident: incident, Node: t.signer.Name(),
		Issued: now.Unix(), Expires: now.Add(ttl).Unix()}
	return t.sign(c), c
}

// Check returns the claims of a token of kind when a trusted node signed
// it and it has not expired.
func (t *Tokens) Check(kind, token string) (Claims, error) {
	if len(token) > MaxTokenBytes {
		return Claims{}, fmt.Errorf("%w: longer than %d bytes", ErrMalformed, MaxTokenBytes)
	}
	p, s, ok := strings.Cut(token, ".")
	if !ok {
		return Claims{}, fmt.Errorf("%w: no signature", ErrMalformed)
	}
	payload, err := base64.RawURLEncoding.DecodeString(p)
	if err != nil {
		return Claims{}, fmt.Errorf("%w: claims are not base64url", ErrMalformed)
	}
	sig, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return Claims{}, fmt.Errorf("%w: signature is not base64url", ErrMalformed)
	}
	c, err := decode(payload)
	if err != nil {
		return Claims{}, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	if c.Node == "" || c.ID == "" || c.Person == "" {
		return Claims{}, fmt.Errorf("%w: node, id or person missing", ErrMalformed)
	}
	if !t.verify.Verify(c.Node, append([]byte(prefix), payload...), sig) {
		return Claims{}, ErrSignature
	}
	if c.Kind != kind {
		return Claims{}, fmt.Errorf("%w: a %s, not a %s", ErrKind, c.Kind, kind)
	}
	if !t.now().Before(c.ExpiresAt()) {
		return Claims{}, fmt.Errorf("%w at %s", ErrExpired, c.ExpiresAt().UTC().Format(time.RFC3339))
	}
	return c, nil
}

// Handoff signs a hand-off of session s, valid for ttl from now but never
// past the session's own expiry.
func (t *Tokens) Handoff(s Claims, ttl time.Duration) string {
	now := t.now()
	until := min(now.Add(ttl).Unix(), s.Expires)
	c := Claims{Kind: KindHandoff, ID: s.ID, Person: s.Person, Incident: s.Incident, Node: t.signer.Name(),
		Issued: now.Unix(), Expires: until, SessionIssued: s.Issued, SessionExpires: s.Expires}
	return t.sign(c)
}

// Resume checks a hand-off and signs the session it continues: the same
// ID, person, incident, issue time and expiry, so that revocation and
// expiry hold as they did on the node that issued it.
func (t *Tokens) Resume(handoff string) (string, Claims, error) {
	h, err := t.Check(KindHandoff, handoff)
	if err != nil {
		return "", Claims{}, err
	}
	if h.SessionIssued == 0 || h.SessionExpires == 0 {
		return "", Claims{}, fmt.Errorf("%w: the hand-off names no session times", ErrMalformed)
	}
	if !t.now().Before(time.Unix(h.SessionExpires, 0)) {
		return "", Claims{}, fmt.Errorf("%w: the session ended at %s", ErrExpired, time.Unix(h.SessionExpires, 0).UTC().Format(time.RFC3339))
	}
	c := Claims{Kind: KindSession, ID: h.ID, Person: h.Person, Incident: h.Incident, Node: t.signer.Name(),
		Issued: h.SessionIssued, Expires: h.SessionExpires}
	return t.sign(c), c, nil
}
