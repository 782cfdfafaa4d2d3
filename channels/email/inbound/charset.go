package inbound

import (
	"bytes"
	"io"
	"mime"
	"strings"
	"unicode/utf8"

	"github.com/emersion/go-message/charset"
	"golang.org/x/text/encoding/korean"
)

// decodeCharset returns b, written in the charset named by label, as UTF-8.
// Korean charsets are handled here: EUC-KR and its superset CP949 (also
// labelled ks_c_5601-1987, as Outlook does) and ISO-2022-KR (RFC 1557),
// which golang.org/x/text cannot read. Other labels go to go-message's
// charset package. Text that is unlabelled or labelled US-ASCII but is not
// UTF-8 is tried as EUC-KR, the most likely charset of unlabelled Korean
// mail. What still does not decode becomes U+FFFD.
func decodeCharset(label string, b []byte) string {
	switch strings.ToLower(strings.Trim(label, " \t\"'")) {
	case "", "us-ascii", "ascii", "utf-8", "utf8":
		if utf8.Valid(b) {
			return string(b)
		}
		if s, ok := eucKR(b); ok {
			return s
		}
		return strings.ToValidUTF8(string(b), "\uFFFD")
	case "euc-kr", "x-euc-kr", "cseuckr", "ks_c_5601-1987", "ks_c_5601", "ksc5601", "korean",
		"cp949", "ms949", "windows-949", "x-windows-949", "uhc":
		s, _ := eucKR(b)
		return s
	case "iso-2022-kr", "csiso2022kr":
		return iso2022KR(b)
	}
	r, err := charset.Reader(label, bytes.NewReader(b))
	if err != nil {
		// An unknown charset: UTF-8 is the best guess left.
		return strings.ToValidUTF8(string(b), "\uFFFD")
	}
	out, err := io.ReadAll(r)
	if err != nil {
		return strings.ToValidUTF8(string(b), "\uFFFD")
	}
	return strings.ToValidUTF8(string(out), "\uFFFD")
}

// eucKR decodes EUC-KR (CP949). It reports false when b held bytes that
// are not EUC-KR; the text then has U+FFFD in their place.
func eucKR(b []byte) (string, bool) {
	out, err := korean.EUCKR.NewDecoder().Bytes(b)
	if err != nil {
		return strings.ToValidUTF8(string(b), "\uFFFD"), false
	}
	s := string(out)
	return strings.ToValidUTF8(s, "\uFFFD"), !strings.ContainsRune(s, utf8.RuneError)
}

// iso2022KR decodes ISO-2022-KR (RFC 1557): ASCII, with KS X 1001 text
// between SO (0x0E) and SI (0x0F) written as pairs of 7-bit bytes, after
// a designator "ESC $ ) C". Each line starts in ASCII.
func iso2022KR(b []byte) string {
	var out strings.Builder
	var run []byte // the current SO run, as EUC-KR bytes
	flush := func() {
		if len(run) > 0 {
			s, _ := eucKR(run)
			out.WriteString(s)
			run = run[:0]
		}
	}
	shifted := false
	for i := 0; i < len(b); i++ {
		c := b[i]
		switch {
		case c == 0x1b && bytes.HasPrefix(b[i:], []byte("\x1b$)C")):
			i += 3
		case c == 0x0e:
			shifted = true
		case c == 0x0f:
			flush()
			shifted = false
		case c == '\r' || c == '\n':
			flush()
			shifted = false
			out.WriteByte(c)
		case shifted && c >= 0x21 && c <= 0x7e:
			run = append(run, c|0x80)
		case c < 0x80:
			flush()
			out.WriteByte(c)
		default:
			flush()
			out.WriteRune(utf8.RuneError)
		}
	}
	flush()
	return out.String()
}

// wordDecoder decodes RFC 2047 encoded-words with the same charsets as
// bodies.
var wordDecoder = mime.WordDecoder{CharsetReader: func(label string, r io.Reader) (io.Reader, error) {
	b, err := io.ReadAll(r)
	if err != nil {
		return nil, err
	}
	return strings.NewReader(decodeCharset(label, b)), nil
}}

// decodeHeader decodes an unstructured field such as Subject. Encoded-words
// that do not decode are kept as written; raw 8-bit text is read as UTF-8,
// or as EUC-KR when it is not UTF-8.
func decodeHeader(v string) string {
	if s, err := wordDecoder.DecodeHeader(v); err == nil {
		v = s
	}
	return decodeCharset("", []byte(v))
}
