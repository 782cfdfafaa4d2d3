package inbound

import (
	"bufio"
	"bytes"
	"strings"

	"github.com/emersion/go-message/textproto"
	"github.com/emersion/go-msgauth/authres"
)

// maxResultFields bounds the Authentication-Results fields read from one
// mail, so that a mail of thousands of them costs little.
const maxResultFields = 50

// headerValues returns the values of the header fields named key in raw,
// top first; none when the header does not parse.
func headerValues(raw []byte, key string) []string {
	h, err := textproto.ReadHeader(bufio.NewReader(bytes.NewReader(raw)))
	if err != nil {
		return nil
	}
	var out []string
	for f := h.FieldsByKey(key); f.Next() && len(out) < maxResultFields; {
		out = append(out, f.Value())
	}
	return out
}

// upstreamVerdict reads the topmost Authentication-Results field of
// authservID among fields (top first): the one the trusted upstream added
// for this delivery. It passes the mail when that field says dmarc=pass
// for the From domain, or dkim=pass for a domain aligned with it, or
// spf=pass for an aligned MAIL FROM; how names which. Fields of other
// authentication services are ignored, so a sender cannot vouch for
// itself.
func upstreamVerdict(fields []string, authservID, fromDomain string, al alignment) (how string, ok bool) {
	for _, v := range fields {
		id, results, err := authres.Parse(stripComments(v))
		if !strings.EqualFold(strings.TrimSpace(id), authservID) {
			continue
		}
		if err != nil {
			return "", false
		}
		for _, r := range results {
			switch r := r.(type) {
			case *authres.DMARCResult:
				if r.Value == authres.ResultPass && idnaDomain(r.From) == fromDomain {
					return checkUpstream + " dmarc", true
				}
			case *authres.DKIMResult:
				d := r.Domain
				if d == "" {
					if at := strings.LastIndexByte(r.Identifier, '@'); at >= 0 {
						d = r.Identifier[at+1:]
					}
				}
				if r.Value == authres.ResultPass && aligned(d, fromDomain, al.dkimStrict) {
					return checkUpstream + " dkim", true
				}
			case *authres.SPFResult:
				d := r.From
				if at := strings.LastIndexByte(d, '@'); at >= 0 {
					d = d[at+1:]
				}
				if r.Value == authres.ResultPass && aligned(d, fromDomain, al.spfStrict) {
					return checkUpstream + " spf", true
				}
			}
		}
		return "", false
	}
	return "", false
}

// stripComments removes the comments (RFC 5322 section 3.2.2: text in
// parentheses, which may nest and hold quoted pairs) from a header value,
// outside quoted strings, so that a comment can neither hide nor add a
// result or property.
func stripComments(v string) string {
	var b strings.Builder
	depth, quoted := 0, false
	for i := 0; i < len(v); i++ {
		c := v[i]
		switch {
		case c == '\\' && (quoted || depth > 0) && i+1 < len(v):
			if depth == 0 {
				b.WriteByte(c)
				b.WriteByte(v[i+1])
			}
			i++
		case quoted:
			b.WriteByte(c)
			if c == '"' {
				quoted = false
			}
		case c == '(':
			depth++
		case c == ')' && depth > 0:
			depth--
			if depth == 0 {
				b.WriteByte(' ')
			}
		case depth > 0:
		case c == '"':
			quoted = true
			b.WriteByte(c)
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}
