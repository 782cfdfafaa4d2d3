package relay

import (
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Text policy. What relay keeps is read on phones, in mail and in an
// operator's terminal, so it never keeps a character that changes how
// the rest is shown: control characters other than newline and tab,
// which move a terminal's cursor or clear its screen, and bidirectional
// formatting characters, which reorder what follows so that text reads
// otherwise than it is stored. UnsafeRune is the one list of them.
//
// Where a client wrote the text on purpose (an API post, a roster, a
// NATS request), relay refuses it: CheckText names the field and the
// character, and nothing is stored. Where refusing would lose a person's
// answer (a reply by SMS or mail), relay removes them: CleanText.
// Invalid UTF-8 is refused in the first case and marked with U+FFFD in
// the second; it is never replaced silently. Every other character,
// Hangul, emoji with their joiners and variation selectors included,
// passes byte for byte.

// UnsafeRune reports whether relay never keeps r in text: a C0 control
// character other than newline and tab, DEL or a C1 control character,
// a bidirectional formatting character (U+061C, U+200E, U+200F,
// U+202A–U+202E, U+2066–U+2069), or the line and paragraph separators
// U+2028 and U+2029, which some readers take for line ends.
func UnsafeRune(r rune) bool {
	switch {
	case r == '\n' || r == '\t':
		return false
	case r < 0x20, r >= 0x7f && r <= 0x9f:
		return true
	case r == 0x061c, r == 0x200e, r == 0x200f, r >= 0x202a && r <= 0x202e, r >= 0x2066 && r <= 0x2069:
		return true
	case r == 0x2028, r == 0x2029:
		return true
	}
	return false
}

// kindOf names the kind of an unsafe rune, for error messages.
func kindOf(r rune) string {
	switch {
	case r < 0x20 || r >= 0x7f && r <= 0x9f:
		return "a control character"
	case r == 0x2028 || r == 0x2029:
		return "a line or paragraph separator"
	}
	return "a bidirectional formatting character"
}

// CheckText returns a *FieldError naming field when s is not valid UTF-8
// or holds a character UnsafeRune refuses, saying which and at which
// byte; it returns nil for text relay keeps as it is.
func CheckText(field, s string) error {
	return checkText(field, s, false)
}

// CheckLine is CheckText for a value that is one line, such as a name:
// newline and tab are refused too.
func CheckLine(field, s string) error {
	return checkText(field, s, true)
}

func checkText(field, s string, line bool) error {
	for i, r := range s {
		switch {
		case r == utf8.RuneError && !validAt(s, i):
			return &FieldError{field, fmt.Sprintf("is not valid UTF-8: byte %d is 0x%02x", i, s[i])}
		case UnsafeRune(r):
			return &FieldError{field, fmt.Sprintf("contains %U (%s) at byte %d; control characters other than newline and tab, and bidirectional formatting characters, are not allowed", r, kindOf(r), i)}
		case line && (r == '\n' || r == '\t'):
			return &FieldError{field, fmt.Sprintf("contains %U (a line break or tab) at byte %d; it must be one line", r, i)}
		}
	}
	return nil
}

// validAt reports whether the U+FFFD that ranging over s decoded at byte
// i is really there, rather than standing for an invalid byte.
func validAt(s string, i int) bool {
	_, size := utf8.DecodeRuneInString(s[i:])
	return size == 3
}

// CleanText returns free text that came from a phone or a mail fit to
// keep: line ends (CR LF, a lone CR, NEL, U+2028, U+2029) become newlines,
// the other characters UnsafeRune refuses are removed, and each invalid
// UTF-8 sequence becomes U+FFFD, so a reader sees where bytes were lost.
// Text with nothing to change is returned as it is.
func CleanText(s string) string {
	if clean(s) {
		return s
	}
	var b strings.Builder
	b.Grow(len(s))
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			b.WriteRune(utf8.RuneError)
		case r == '\r':
			b.WriteByte('\n')
			if strings.HasPrefix(s[i+1:], "\n") {
				size++
			}
		case r == 0x85 || r == 0x2028 || r == 0x2029:
			b.WriteByte('\n')
		case UnsafeRune(r):
		default:
			b.WriteString(s[i : i+size])
		}
		i += size
	}
	return b.String()
}

// clean reports whether s is valid UTF-8 without an unsafe rune.
func clean(s string) bool {
	for i, r := range s {
		if UnsafeRune(r) || r == utf8.RuneError && !validAt(s, i) {
			return false
		}
	}
	return true
}

// Printable returns s with every character UnsafeRune refuses, newline
// and tab, and every invalid byte written as a Go escape (\x1b, \u202e,
// \n, \xff), so that printing it cannot move a terminal's cursor, start
// a line or reorder one. Other text, Hangul and emoji included, is kept
// as it is, backslashes too.
func Printable(s string) string {
	return escape(s, true)
}

// PrintableText is Printable for text of several lines: newline and tab
// are kept. In JSON, whose encoders escape C0 control characters
// themselves, what it escapes (C1 controls, bidirectional formatting
// characters, U+2028, U+2029) becomes a JSON escape of the same
// character, so JSON stays JSON.
func PrintableText(s string) string {
	return escape(s, false)
}

func escape(s string, line bool) string {
	safe := func(r rune) bool { return !UnsafeRune(r) && !(line && (r == '\n' || r == '\t')) }
	needs := false
	for i, r := range s {
		if !safe(r) || r == utf8.RuneError && !validAt(s, i) {
			needs = true
			break
		}
	}
	if !needs {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			fmt.Fprintf(&b, `\x%02x`, s[i])
		case !safe(r):
			q := strconv.QuoteRune(r)
			b.WriteString(q[1 : len(q)-1])
		default:
			b.WriteString(s[i : i+size])
		}
		i += size
	}
	return b.String()
}
