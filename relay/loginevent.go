package relay

import (
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"time"
)

// Steps of a one-time code (CodeEvent.Step).
const (
	// CodeIssued: a code was sent; the event holds its salted hash.
	CodeIssued = "issued"
	// CodeFailed: a wrong code was typed for the challenge.
	CodeFailed = "failed"
	// CodeUsed: the right code was typed; the challenge is spent.
	CodeUsed = "used"
)

// Bounds of a CodeEvent.
const (
	CodeSaltBytes = 16
	CodeHashBytes = 32
	// MaxCodeDestinations bounds the destinations one code goes to.
	MaxCodeDestinations = 4
	maxCodeText         = 320
)

// CodeEvent is one step of a one-time code, replicated so that every
// node checks the code, takes it once, and counts wrong codes towards
// the same lockout.
//
// The code itself is never in an event: an issued code is kept as
// SHA-256 of a random 16-byte salt followed by the code's digits. That
// is enough for a 6-digit code that lives 10 minutes and locks its
// person out after 5 wrong tries: the salt keeps one table from serving
// every challenge, and someone who reads the log while a code lives
// could try the million codes against the hash anyway, which is why the
// log is only readable by the nodes (see package trust).
type CodeEvent struct {
	// Challenge names the challenge (relay.Challenge.ID).
	Challenge string    `json:"challenge"`
	Person    string    `json:"person"`
	Step      string    `json:"step"`
	At        time.Time `json:"at"`
	// From is the client's address, when known.
	From string `json:"from,omitempty"`

	// The rest is set on the issued step only.
	Purpose string        `json:"purpose,omitempty"`
	Salt    []byte        `json:"salt,omitempty"`
	Hash    []byte        `json:"hash,omitempty"`
	SentTo  []string      `json:"sent_to,omitempty"`
	To      []Destination `json:"to,omitempty"`
	Expires time.Time     `json:"expires,omitzero"`
}

// Check reports what is wrong with a code event received from elsewhere.
func (c *CodeEvent) Check() error {
	switch {
	case !ValidID(c.Challenge):
		return errors.New("code event: challenge is not a valid id")
	case !ValidID(c.Person):
		return errors.New("code event: person is not a valid id")
	case c.At.IsZero():
		return errors.New("code event: no time")
	case len(c.From) > 64:
		return errors.New("code event: client address is longer than 64 bytes")
	}
	if c.From != "" {
		if _, err := netip.ParseAddr(c.From); err != nil {
			return fmt.Errorf("code event: client address %q is not an IP address", Printable(c.From))
		}
	}
	issued := c.Purpose != "" || c.Salt != nil || c.Hash != nil || c.SentTo != nil || c.To != nil || !c.Expires.IsZero()
	switch c.Step {
	case CodeFailed, CodeUsed:
		if issued {
			return fmt.Errorf("code event: a %s step carries what only the issued step does", c.Step)
		}
		return nil
	case CodeIssued:
	default:
		return fmt.Errorf("code event: unknown step %q", Printable(c.Step))
	}
	switch {
	case c.Purpose != PurposeLogin && c.Purpose != PurposeContact:
		return fmt.Errorf("code event: unknown purpose %q", Printable(c.Purpose))
	case len(c.Salt) != CodeSaltBytes || len(c.Hash) != CodeHashBytes:
		return fmt.Errorf("code event: salt must be %d bytes and hash %d", CodeSaltBytes, CodeHashBytes)
	case c.Expires.IsZero() || c.Expires.Before(c.At) || c.Expires.Sub(c.At) > CodeTTL:
		return fmt.Errorf("code event: expiry must be within %s of its time", CodeTTL)
	case len(c.SentTo) > MaxCodeDestinations || len(c.To) > MaxCodeDestinations:
		return fmt.Errorf("code event: more than %d destinations", MaxCodeDestinations)
	}
	for _, s := range c.SentTo {
		if len(s) > maxCodeText {
			return fmt.Errorf("code event: a destination is longer than %d bytes", maxCodeText)
		}
		if err := CheckLine("sent_to", s); err != nil {
			return fmt.Errorf("code event: %w", err)
		}
	}
	for _, d := range c.To {
		if !slices.Contains(Channels, d.Channel) || len(d.Address) > maxCodeText {
			return fmt.Errorf("code event: destination on channel %q is not valid", Printable(d.Channel))
		}
		if err := CheckLine("to", d.Address); err != nil {
			return fmt.Errorf("code event: %w", err)
		}
	}
	return nil
}

// Revocation ends console sessions before their time: one session by its
// id, or every session of a person issued at or before Before.
type Revocation struct {
	Person string `json:"person"`
	// Session is the revoked session's id; empty revokes every session
	// of Person issued at or before Before.
	Session string    `json:"session,omitempty"`
	Before  time.Time `json:"before,omitzero"`
	// Until is when the revocation may be forgotten: every session it
	// names has expired by then.
	Until time.Time `json:"until"`
	By    string    `json:"by"`
}

// Check reports what is wrong with a revocation received from elsewhere.
func (r *Revocation) Check() error {
	switch {
	case !ValidID(r.Person):
		return errors.New("revocation: person is not a valid id")
	case (r.Session == "") == r.Before.IsZero():
		return errors.New("revocation: exactly one of session and before must be set")
	case r.Session != "" && !validTokenID(r.Session):
		return errors.New("revocation: session id is not a token id")
	case r.Until.IsZero():
		return errors.New("revocation: no time until which it is kept")
	case len(r.By) > MaxAuditField:
		return fmt.Errorf("revocation: by is longer than %d bytes", MaxAuditField)
	}
	return CheckLine("revocation.by", r.By)
}

// validTokenID reports whether s may be a console token's id: 1 to 64
// base64url characters.
func validTokenID(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_') {
			return false
		}
	}
	return true
}
