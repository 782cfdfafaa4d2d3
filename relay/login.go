package relay

import (
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"
)

// Login to the web console needs nothing outside relay: a person types
// their phone number or email address, a one-time code goes out over
// their own channels, and the code typed back opens a signed session
// (package session). The code is recorded in the replicated log only as
// a salted hash ([CodeEvent]), so any node checks it; wrong codes and
// used codes are events too, so that a code is taken once and the
// lockout holds on every node.

// Purposes of a one-time code: what typing it back proves.
const (
	// PurposeLogin opens a console session for the person.
	PurposeLogin = "login"
	// PurposeContact proves that a new contact method reaches the person
	// before it is used.
	PurposeContact = "contact"
)

// Lifetimes and limits of one-time codes.
const (
	// CodeDigits is the length of a one-time code.
	CodeDigits = 6
	// CodeTTL is how long a code may be typed back.
	CodeTTL = 10 * time.Minute
	// MaxCodeFailures wrong codes for one person within LockoutWindow
	// lock the person out until the oldest of them leaves the window.
	MaxCodeFailures = 5
	// LockoutWindow is the window MaxCodeFailures counts in.
	LockoutWindow = 15 * time.Minute
	// MaxAddressFailures wrong codes from one client address within an
	// hour lock that address out.
	MaxAddressFailures = 20
	// AddressWindow is the window MaxAddressFailures counts in.
	AddressWindow = time.Hour
)

// Challenge is a one-time code that was sent. The code itself is never
// part of it.
type Challenge struct {
	// ID is opaque and random; the code form carries it.
	ID string
	// Person is the person the code was sent to; "" when returned to the
	// browser for an unknown contact (a decoy, shaped like any other
	// challenge, for which nothing was sent).
	Person string
	// SentTo are the masked destinations, fit to show: "+82 10-****-5678",
	// "k***@example.com", "voice +82 10-****-5678".
	SentTo  []string
	Expires time.Time
	// Purpose is PurposeLogin or PurposeContact.
	Purpose string
	// To are the destinations the code went to, unmasked: what typing the
	// code back proves reaches the person. Never show them to a browser.
	To []Destination
}

// Destination is one address on one channel: a phone number for sms and
// voice, a mailbox for email.
type Destination struct {
	Channel string `json:"channel"`
	Address string `json:"address"`
}

// AuditEntry is one action taken through the console or on behalf of a
// person, kept in the replicated audit trail.
type AuditEntry struct {
	At   time.Time `json:"at"`
	Node string    `json:"node"`
	// Actor is a person id, or "token:<name>" for an API token.
	Actor string `json:"actor"`
	// Action is what was done: "login", "logout", "post", "ack",
	// "answer", "rollcall.start", "roster.apply", "contact.add",
	// "session.revoke", …
	Action string `json:"action"`
	// Target is the incident, message or person the action was about.
	Target string `json:"target,omitempty"`
	// Detail is a short note; never a secret.
	Detail string `json:"detail,omitempty"`
	// Address is the client's address.
	Address string `json:"address,omitempty"`
}

// Bounds of an audit entry's fields, in bytes.
const (
	MaxAuditField  = 128
	MaxAuditDetail = 512
)

// Check reports what is wrong with an audit entry: a field missing, too
// long, or holding text relay never keeps (see CheckLine).
func (e *AuditEntry) Check() error {
	if e.Actor == "" || e.Action == "" || e.At.IsZero() {
		return errors.New("audit entry without actor, action or time")
	}
	for _, f := range []struct {
		name, v string
		max     int
	}{
		{"node", e.Node, MaxAuditField}, {"actor", e.Actor, MaxAuditField}, {"action", e.Action, MaxAuditField},
		{"target", e.Target, MaxAuditField}, {"detail", e.Detail, MaxAuditDetail}, {"address", e.Address, MaxAuditField},
	} {
		if len(f.v) > f.max {
			return fmt.Errorf("audit entry: %s is longer than %d bytes", f.name, f.max)
		}
		if err := CheckLine("audit."+f.name, f.v); err != nil {
			return err
		}
	}
	return nil
}

// CleanAudit returns e made fit for the trail: every field made
// printable on one line (Printable) and cut to its bound at a character
// boundary.
func CleanAudit(e AuditEntry) AuditEntry {
	c := func(s string, n int) string { return cutBytes(Printable(s), n) }
	e.Node, e.Actor, e.Action = c(e.Node, MaxAuditField), c(e.Actor, MaxAuditField), c(e.Action, MaxAuditField)
	e.Target, e.Detail, e.Address = c(e.Target, MaxAuditField), c(e.Detail, MaxAuditDetail), c(e.Address, MaxAuditField)
	return e
}

// cutBytes cuts s to at most n bytes at a character boundary.
func cutBytes(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}

// Errors of logging in. Each is errors.Is-able through the errors the
// node returns, and none names the code typed or sent.
var (
	// ErrCodeWrong: the code does not match, or the challenge is not
	// known (a decoy, or one never issued).
	ErrCodeWrong = errors.New("the code is wrong")
	// ErrCodeExpired: the challenge is past its time, or its code was
	// used already.
	ErrCodeExpired = errors.New("the code has expired or was used")
	// ErrLockedOut: too many wrong codes for the person or from the
	// client's address; a *RateLimitError says until when.
	ErrLockedOut = errors.New("too many wrong codes; try again later")
	// ErrUnknownContact: no person in the roster has the phone number or
	// address. Login never returns it to a browser (it answers with a
	// decoy); it is for callers that act on a known person.
	ErrUnknownContact = errors.New("no person has this contact")
)

// RateLimitError says a request was refused for its rate, and when to
// try again. It wraps ErrLockedOut when wrong codes caused it.
type RateLimitError struct {
	// What was limited: "person", "address" (codes sent), or "lockout".
	What       string
	RetryAfter time.Duration
	Err        error
}

func (e *RateLimitError) Error() string {
	secs := int((e.RetryAfter + time.Second - 1) / time.Second)
	if e.Err != nil {
		return fmt.Sprintf("%v (try again in %d s)", e.Err, secs)
	}
	return fmt.Sprintf("too many codes asked for; try again in %d s", secs)
}

// Unwrap returns the cause, when there is one.
func (e *RateLimitError) Unwrap() error { return e.Err }

// OneTimeCode is a code to send (Outgoing.Code).
type OneTimeCode struct {
	// Digits is the code.
	Digits string
	// Purpose is PurposeLogin or PurposeContact.
	Purpose string
	// Issued and Expires bound the code's life.
	Issued, Expires time.Time
}

// codeTexts are the text of a code, by purpose and language.
var codeTexts = map[string]map[string]string{
	PurposeLogin: {
		"ko": "relay 로그인 코드: %s (%d분 유효)",
		"en": "relay login code: %s (valid %d min)",
	},
	PurposeContact: {
		"ko": "relay 연락처 확인 코드: %s (%d분 유효)",
		"en": "relay contact check code: %s (valid %d min)",
	},
}

// CodeLang returns the language a code is written in for a person whose
// language tag is lang: English for "en…", else Korean.
func CodeLang(lang string) string {
	if primary, _, _ := strings.Cut(strings.ToLower(lang), "-"); primary == "en" {
		return "en"
	}
	return "ko"
}

// CodeText returns the text an SMS or mail carries for c in language
// lang: "relay 로그인 코드: 123456 (10분 유효)", "relay login code: 123456
// (valid 10 min)".
func CodeText(c *OneTimeCode, lang string) string {
	texts, ok := codeTexts[c.Purpose]
	if !ok {
		texts = codeTexts[PurposeLogin]
	}
	mins := int(c.Expires.Sub(c.Issued).Round(time.Minute) / time.Minute)
	if mins <= 0 {
		mins = int(CodeTTL / time.Minute)
	}
	return fmt.Sprintf(texts[CodeLang(lang)], c.Digits, mins)
}
