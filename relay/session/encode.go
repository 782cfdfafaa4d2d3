package session

import (
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
)

// Claims are encoded compactly, since a link rides in an SMS where every
// character counts (a Korean SMS part holds 70): a version byte, the kind
// as one byte, then the id, person, incident and node, each as a uvarint
// length and its bytes, then the issue time in Unix seconds and the
// lifetime in seconds, as uvarints; any other field of Claims follows as
// JSON of the claims without those (nothing when they are all zero). A
// link to a short incident comes to about 50 bytes, 70 characters of
// base64url, where JSON took 130. Tokens whose claims are JSON, as the
// first nodes issued them, are still read.

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
	b = binary.AppendUvarint(b, uint64(max(c.Expires-c.Issued, 0)))
	rest := c
	rest.Kind, rest.ID, rest.Person, rest.Incident, rest.Node, rest.Issued, rest.Expires = "", "", "", "", "", 0, 0
	extra, _ := json.Marshal(rest) // Claims always marshal.
	if none, _ := json.Marshal(Claims{}); string(extra) != string(none) {
		b = append(b, extra...)
	}
	return b
}

// sign returns the token of claims c: their compact form and this node's
// signature of it, each in base64url, joined by a dot.
func (t *Tokens) sign(c Claims) string {
	payload := encode(c)
	sig := t.signer.Sign(append([]byte(prefix), payload...))
	return base64.RawURLEncoding.EncodeToString(payload) + "." + base64.RawURLEncoding.EncodeToString(sig)
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
	id, person, incident, node := r.string(), r.string(), r.string(), r.string()
	iat, ttl := r.uvarint(), r.uvarint()
	if r.bad || iat > 1<<40 || ttl > 1<<40 {
		return Claims{}, errClaims
	}
	if len(r.b) > 0 {
		kind := c.Kind
		if r.b[0] != '{' || json.Unmarshal(r.b, &c) != nil {
			return Claims{}, errClaims
		}
		c.Kind = kind
	}
	c.ID, c.Person, c.Incident, c.Node = id, person, incident, node
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
