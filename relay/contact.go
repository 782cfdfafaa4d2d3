package relay

import (
	"errors"
	"net/mail"
	"strings"
	"unicode/utf8"
)

// MaxContactBytes bounds a contact typed into a login form.
const MaxContactBytes = 254

// ErrContactFormat says a typed contact is neither a phone number nor an
// email address.
var ErrContactFormat = errors.New("contact must be a phone number or an email address")

// Contact is a phone number or an email address a person typed, read.
type Contact struct {
	// Email is the address, lower-cased, when the contact is one.
	Email string
	// Phone is the number in E.164 when it had a country code ("+82 10
	// 1234 5678", "0082-10-1234-5678"); National holds the digits of a
	// number without one, its leading trunk 0 dropped ("010-1234-5678"
	// gives "1012345678").
	Phone, National string
}

// ParseContact reads what a person typed to log in: an email address,
// or a phone number in any usual format (spaces, dashes, dots and
// parentheses are ignored; "+" or "00" starts a country code; a number
// without one is national).
func ParseContact(s string) (Contact, error) {
	s = strings.TrimSpace(s)
	if s == "" || len(s) > MaxContactBytes || !utf8.ValidString(s) {
		return Contact{}, ErrContactFormat
	}
	if strings.Contains(s, "@") {
		a, err := mail.ParseAddress(s)
		if err != nil || a.Name != "" || strings.ContainsAny(a.Address, " <>") {
			return Contact{}, ErrContactFormat
		}
		return Contact{Email: strings.ToLower(a.Address)}, nil
	}
	var digits strings.Builder
	plus := false
	for i, r := range s {
		switch {
		case r >= '0' && r <= '9':
			digits.WriteRune(r)
		case r == '+' && i == 0:
			plus = true
		case r == ' ' || r == '-' || r == '.' || r == '(' || r == ')':
		default:
			return Contact{}, ErrContactFormat
		}
	}
	d := digits.String()
	if !plus && strings.HasPrefix(d, "00") {
		plus, d = true, d[2:]
	}
	if plus {
		if !ValidE164("+" + d) {
			return Contact{}, ErrContactFormat
		}
		return Contact{Phone: "+" + d}, nil
	}
	d = strings.TrimPrefix(d, "0")
	if len(d) < 6 || len(d) > 14 {
		return Contact{}, ErrContactFormat
	}
	return Contact{National: d}, nil
}

// MatchesPhone reports whether an E.164 number is the phone contact c:
// the same number, or, for a national number, one whose country code (1
// to 3 digits) is followed by it.
func (c Contact) MatchesPhone(e164 string) bool {
	switch {
	case e164 == "":
		return false
	case c.Phone != "":
		return c.Phone == e164
	case c.National != "":
		cc := len(e164) - 1 - len(c.National)
		return cc >= 1 && cc <= 3 && strings.HasSuffix(e164, c.National)
	}
	return false
}

// MatchesEmail reports whether addr is the email contact c, ignoring
// case.
func (c Contact) MatchesEmail(addr string) bool {
	return c.Email != "" && strings.EqualFold(c.Email, addr)
}

// MaskPhone shows a phone number with its middle hidden: "+82 10-****-5678"
// for a Korean mobile number, else its first two digits and its last
// four, a star for each digit between: "+14 *****0100".
func MaskPhone(e164 string) string {
	d := strings.TrimPrefix(e164, "+")
	if len(d) < 7 {
		return "****"
	}
	last := d[len(d)-4:]
	if strings.HasPrefix(d, "82") && len(d) >= 11 {
		return "+82 " + d[2:4] + "-****-" + last
	}
	return "+" + d[:2] + " " + strings.Repeat("*", len(d)-6) + last
}

// MaskEmail shows an address with its local part hidden but for its
// first character: "k***@example.com".
func MaskEmail(addr string) string {
	local, domain, ok := strings.Cut(addr, "@")
	if !ok || local == "" {
		return "***"
	}
	r, _ := utf8.DecodeRuneInString(local)
	return string(r) + "***@" + domain
}

// Mask shows a destination fit for a browser: the masked phone number
// for sms, "voice " and the masked number for voice, the masked address
// for email.
func (d Destination) Mask() string {
	switch d.Channel {
	case ChannelEmail:
		return MaskEmail(d.Address)
	case ChannelVoice:
		return "voice " + MaskPhone(d.Address)
	}
	return MaskPhone(d.Address)
}
