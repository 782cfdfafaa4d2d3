package email

import (
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base32"
	"errors"
	"fmt"
	"log/slog"
	"net/mail"
	"strings"

	"github.com/oob-relay/relay/relay"
	"github.com/oob-relay/relay/relay/secret"
)

// Reply addresses.
//
// A reply address is "r+<token>@<domain>". The token is the lowercase,
// unpadded base32 (RFC 4648) encoding of
//
//	tag      10 bytes  HMAC-SHA256 over the form, person and incident, truncated to 80 bits
//	ids       6 bits   per character: 1-26 a-z, 27-36 0-9, 37 '-' (relay.ValidID);
//	                   the full form is person, separator (38), incident; the
//	                   compact form is the incident alone
//	padding            zero bits up to a whole byte
//
// The whole address stays within RFC 5321's 64-character local part, so
// the token carries at most 28 bytes after the tag, which is 37 six-bit
// symbols (codes 39-63 are free for later forms):
//
//   - Full form, when len(person)+len(incident) <= MaxReplyIDChars (36):
//     the token carries both ids and verifies on its own (Parse).
//   - Compact form, when only the incident fits (len(incident) <=
//     MaxCompactIncidentChars, 37): the token carries the incident and binds
//     the person through the tag alone. It verifies only against a person
//     the receiver already knows from the sender's address (ParseFor).
//   - Otherwise no token can be made and Address returns the incident's
//     plain address "<incident>@<domain>", which the inbound server accepts
//     from the roster address of any person.
//
// Ids are lowercase by definition, so the token survives mail systems that
// change the case of local parts; Parse accepts either case.
const (
	// MinReplyKeyBytes is the shortest secret NewReplyKey accepts.
	MinReplyKeyBytes = 32
	// MaxReplyIDChars is the longest person and incident ids, counted
	// together, that a full-form token carries.
	MaxReplyIDChars = 36
	// MaxCompactIncidentChars is the longest incident id a compact token
	// carries.
	MaxCompactIncidentChars = 37
	// ReplyPrefix starts the local part of every reply address.
	ReplyPrefix = "r+"

	replyTagBytes = 10 // 80 bits
	formFull      = 1  // what the tag signs; the token shows it by its separator
	formCompact   = 2
	symSeparator  = 38
)

var (
	// ErrReplyAddress marks an address that is not a reply address this
	// key made: no "r+" prefix, a token that does not decode, or a tag
	// that does not verify under any key.
	ErrReplyAddress = errors.New("not a valid reply address")
	// ErrCompactReply is returned by Parse for a compact-form token, which
	// does not carry its person; verify it with ParseFor.
	ErrCompactReply = errors.New("reply address does not carry its person; verify it against the sender's person")
)

var replyEncoding = base32.NewEncoding("abcdefghijklmnopqrstuvwxyz234567").WithPadding(base32.NoPadding)

// ReplyKey signs and verifies reply addresses. It holds one or more
// secrets: the first signs, every one verifies, so keys rotate by putting a
// new key first and dropping the old one once mail signed with it no
// longer matters. Every node given the same keys verifies the addresses of
// every other. The zero ReplyKey makes and accepts no tokens.
//
// A ReplyKey is safe for concurrent use. It prints, logs and marshals as
// "<secret>".
type ReplyKey struct {
	// k is a pointer so that fmt, which cannot call methods on unexported
	// fields, prints an address rather than the key bytes.
	k *replyKeys
}

type replyKeys struct{ keys [][]byte }

// NewReplyKey returns a ReplyKey for keys, the signing key first. Each key
// must be at least MinReplyKeyBytes bytes long. Errors never contain a key.
func NewReplyKey(keys ...secret.String) (ReplyKey, error) {
	if len(keys) == 0 {
		return ReplyKey{}, errors.New("no reply key given")
	}
	var errs []error
	rk := &replyKeys{}
	for i, k := range keys {
		v := k.Reveal()
		if len(v) < MinReplyKeyBytes {
			errs = append(errs, fmt.Errorf("reply key %d is %d bytes; at least %d are needed (such as the output of: openssl rand -base64 48)",
				i+1, len(v), MinReplyKeyBytes))
			continue
		}
		rk.keys = append(rk.keys, []byte(v))
	}
	if err := errors.Join(errs...); err != nil {
		return ReplyKey{}, err
	}
	return ReplyKey{k: rk}, nil
}

// IsZero reports whether k holds no key.
func (k ReplyKey) IsZero() bool { return k.k == nil || len(k.k.keys) == 0 }

// String returns "<secret>", or "" for the zero ReplyKey.
func (k ReplyKey) String() string { return k.mask() }

// GoString keeps the keys out of %#v.
func (k ReplyKey) GoString() string { return k.mask() }

// LogValue keeps the keys out of slog output.
func (k ReplyKey) LogValue() slog.Value { return slog.StringValue(k.mask()) }

// MarshalText keeps the keys out of text, JSON and YAML encodings.
func (k ReplyKey) MarshalText() ([]byte, error) { return []byte(k.mask()), nil }

func (k ReplyKey) mask() string {
	if k.IsZero() {
		return ""
	}
	return secret.Masked
}

// Address returns the reply address of person in incident at domain,
// "r+<token>@<domain>", signed with the first key. When the ids are too
// long for any token (see the limits above) it returns the incident's
// plain address "<incident>@<domain>". It returns "" when k is zero,
// person or incident is not a valid relay id, or domain is not a host
// name.
func (k ReplyKey) Address(person, incident, domain string) string {
	if k.IsZero() || !relay.ValidID(person) || !relay.ValidID(incident) || !hostnamePattern.MatchString(domain) {
		return ""
	}
	var form byte
	switch {
	case len(person)+len(incident) <= MaxReplyIDChars:
		form = formFull
	case len(incident) <= MaxCompactIncidentChars:
		form = formCompact
	default:
		return incident + "@" + strings.ToLower(domain)
	}
	return ReplyPrefix + token(k.k.keys[0], form, person, incident) + "@" + strings.ToLower(domain)
}

// ReplyTo returns a function for Options.ReplyTo that gives each delivery
// the reply address of its person in its message's incident at domain, or
// nil (no Reply-To) when there is none: a broadcast delivery, a zero key,
// or ids Address refuses.
func (k ReplyKey) ReplyTo(domain string) func(out *relay.Outgoing) *mail.Address {
	return func(out *relay.Outgoing) *mail.Address {
		if out == nil || out.Person == nil || out.Message == nil {
			return nil
		}
		addr := k.Address(out.Person.ID, out.Message.Incident, domain)
		if addr == "" {
			return nil
		}
		return &mail.Address{Address: addr}
	}
}

// Parse verifies a full-form reply address and returns the person and
// incident it was made for. The domain is not checked. Verification is in
// constant time for each key. A compact-form address gives
// ErrCompactReply; anything else that does not verify gives an error
// wrapping ErrReplyAddress.
func (k ReplyKey) Parse(addr string) (person, incident string, err error) {
	form, person, incident, err := k.decode(addr)
	if err != nil {
		return "", "", err
	}
	if form == formCompact {
		return "", "", ErrCompactReply
	}
	if !k.verify(addr, form, person, incident) {
		return "", "", fmt.Errorf("%w: the signature does not match", ErrReplyAddress)
	}
	return person, incident, nil
}

// ParseFor verifies a reply address, of either form, as one made for
// person and returns its incident. It is how a receiver that knows the
// sender's person checks a compact-form address; for a full-form address
// it also requires the carried person to be person.
func (k ReplyKey) ParseFor(addr, person string) (incident string, err error) {
	form, carried, incident, err := k.decode(addr)
	if err != nil {
		return "", err
	}
	if form == formCompact {
		carried = person
	}
	// Verify before comparing persons, so that a forged address is
	// reported as forged whoever sent it.
	if !relay.ValidID(person) || !k.verify(addr, form, carried, incident) {
		return "", fmt.Errorf("%w: the signature does not match", ErrReplyAddress)
	}
	if carried != person {
		return "", fmt.Errorf("%w: it belongs to another person", ErrReplyAddress)
	}
	return incident, nil
}

// decode splits addr into its form and ids without verifying it.
func (k ReplyKey) decode(addr string) (form byte, person, incident string, err error) {
	if k.IsZero() {
		return 0, "", "", fmt.Errorf("%w: no reply key is configured", ErrReplyAddress)
	}
	tok, ok := replyToken(addr)
	if !ok {
		return 0, "", "", fmt.Errorf("%w: the address does not start with %q", ErrReplyAddress, ReplyPrefix)
	}
	raw, err := replyEncoding.DecodeString(tok)
	if err != nil || len(raw) <= replyTagBytes {
		return 0, "", "", fmt.Errorf("%w: the token does not decode", ErrReplyAddress)
	}
	syms := unpackSymbols(raw[replyTagBytes:])
	for len(syms) > 0 && syms[len(syms)-1] == 0 {
		syms = syms[:len(syms)-1]
	}
	ids, ok := symbolText(syms)
	if !ok {
		return 0, "", "", fmt.Errorf("%w: the token does not decode", ErrReplyAddress)
	}
	form = formCompact
	if person, incident, ok = strings.Cut(ids, "."); ok {
		form = formFull
	} else {
		person, incident = "", ids
	}
	if (form == formFull && !relay.ValidID(person)) || !relay.ValidID(incident) {
		return 0, "", "", fmt.Errorf("%w: the token does not decode", ErrReplyAddress)
	}
	return form, person, incident, nil
}

// verify recomputes the token for the ids under every key and compares it
// with the one in addr in constant time. Comparing whole tokens rather than
// tags also refuses encodings that decode to the same ids but differ in
// their padding bits.
func (k ReplyKey) verify(addr string, form byte, person, incident string) bool {
	tok, _ := replyToken(addr)
	tok = strings.ToLower(tok)
	ok := 0
	for _, key := range k.k.keys {
		ok |= subtle.ConstantTimeCompare([]byte(tok), []byte(token(key, form, person, incident)))
	}
	return ok == 1
}

// replyToken returns the token of a reply address, or false when addr has
// no "r+" local part.
func replyToken(addr string) (string, bool) {
	at := strings.LastIndexByte(addr, '@')
	local := addr
	if at >= 0 {
		local = addr[:at]
	}
	if len(local) <= len(ReplyPrefix) || !strings.EqualFold(local[:len(ReplyPrefix)], ReplyPrefix) {
		return "", false
	}
	return strings.ToLower(local[len(ReplyPrefix):]), true
}

// IsReplyAddress reports whether addr has a reply address's local part
// ("r+" and a token), without verifying it.
func IsReplyAddress(addr string) bool {
	_, ok := replyToken(addr)
	return ok
}

// token builds the token for valid ids that fit form.
func token(key []byte, form byte, person, incident string) string {
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte("relay reply address v1\x00"))
	mac.Write([]byte{form})
	mac.Write([]byte(person + "\x00" + incident))
	raw := mac.Sum(nil)[:replyTagBytes]

	var syms []byte
	if form == formFull {
		syms = appendSymbols(syms, person)
		syms = append(syms, symSeparator)
	}
	syms = appendSymbols(syms, incident)
	raw = append(raw, packSymbols(syms)...)
	return replyEncoding.EncodeToString(raw)
}

// appendSymbols appends the 6-bit codes of an id: 1-26 for a-z, 27-36 for
// 0-9, 37 for '-'. Code 0 is padding.
func appendSymbols(dst []byte, id string) []byte {
	for i := 0; i < len(id); i++ {
		switch c := id[i]; {
		case c >= 'a' && c <= 'z':
			dst = append(dst, c-'a'+1)
		case c >= '0' && c <= '9':
			dst = append(dst, c-'0'+27)
		default: // '-', the only other character of a valid id
			dst = append(dst, 37)
		}
	}
	return dst
}

// symbolText turns id codes back into text, with "." for the separator.
func symbolText(syms []byte) (string, bool) {
	var b strings.Builder
	for _, s := range syms {
		switch {
		case s >= 1 && s <= 26:
			b.WriteByte('a' + s - 1)
		case s >= 27 && s <= 36:
			b.WriteByte('0' + s - 27)
		case s == 37:
			b.WriteByte('-')
		case s == symSeparator:
			b.WriteByte('.')
		default:
			return "", false
		}
	}
	return b.String(), true
}

// packSymbols writes 6-bit symbols most significant bit first, filling the
// last byte with zero bits.
func packSymbols(syms []byte) []byte {
	out := make([]byte, (len(syms)*6+7)/8)
	for i, s := range syms {
		for b := 0; b < 6; b++ {
			if s&(1<<(5-b)) != 0 {
				bit := i*6 + b
				out[bit/8] |= 1 << (7 - bit%8)
			}
		}
	}
	return out
}

// unpackSymbols reads every whole 6-bit symbol from raw.
func unpackSymbols(raw []byte) []byte {
	n := len(raw) * 8 / 6
	out := make([]byte, n)
	for i := range out {
		for b := 0; b < 6; b++ {
			bit := i*6 + b
			if raw[bit/8]&(1<<(7-bit%8)) != 0 {
				out[i] |= 1 << (5 - b)
			}
		}
	}
	return out
}
