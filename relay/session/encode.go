package session

import (
	"encoding/binary"
	"encoding/json"
	"errors"
)

// Claims are encoded compactly, since a link rides in an SMS where every
// character counts (a Korean SMS part holds 70): a version byte, the kind
// as one byte, then the id, person, incident and node, each as a uvarint
// length and its bytes, then the issue time in Unix seconds and the
// lifetime in seconds, as uvarints. A link to a short incident comes to
// about 50 bytes, 70 characters of base64url, where JSON took 130.
// Tokens whose claims are JSON, as the first nodes issued them, are still
// read.

const compactV1 = 1

// maxField bounds each string of compact claims.
const maxField = 255

var kindBytes = map[string]byte{KindSession: 's', KindLink: 'l', KindHandoff: 'h'}

func encode(c Claims) []byte {
	b := make([]byte, 0, 64)
	b = append(b, compactV1)
	if k, ok := kindBytes[c.Kind]; ok {
		b = append(b, k)
	} else {
		b = append(b, 0)
		b = appendString(b, c.Kind)
	}
	for _, f := range []string{c.ID, c.Person, c.Incident, c.Node} {
		b = appendString(b, f)
	}
	b = binary.AppendUvarint(b, uint64(max(c.Issued, 0)))
	return binary.AppendUvarint(b, uint64(max(c.Expires-c.Issued, 0)))
}

func appendString(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

var errClaims = errors.New("claims are not in a known form")

// decode reads claims in the compact form, or in JSON.
func decode(p []byte) (Claims, error) {
	var c Claims
	if len(p) > 0 && p[0] == '{' {
		if err := json.Unmarshal(p, &c); err != nil {
			return Claims{}, errClaims
		}
		return c, nil
	}
	if len(p) < 2 || p[0] != compactV1 {
		return Claims{}, errClaims
	}
	r := reader{b: p[2:]}
	if p[1] == 0 {
		c.Kind = r.string()
	} else {
		for k, v := range kindBytes {
			if v == p[1] {
				c.Kind = k
			}
		}
		if c.Kind == "" {
			return Claims{}, errClaims
		}
	}
	c.ID, c.Person, c.Incident, c.Node = r.string(), r.string(), r.string(), r.string()
	iat, ttl := r.uvarint(), r.uvarint()
	if r.bad || len(r.b) != 0 || iat > 1<<40 || ttl > 1<<40 {
		return Claims{}, errClaims
	}
	c.Issued, c.Expires = int64(iat), int64(iat+ttl)
	return c, nil
}

// reader reads compact claims; bad is set at the first thing that does
// not fit.
type reader struct {
	b   []byte
	bad bool
}

func (r *reader) uvarint() uint64 {
	v, n := binary.Uvarint(r.b)
	if n <= 0 {
		r.bad = true
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *reader) string() string {
	n := r.uvarint()
	if r.bad || n > maxField || n > uint64(len(r.b)) {
		r.bad = true
		return ""
	}
	s := string(r.b[:n])
	r.b = r.b[n:]
	return s
}
