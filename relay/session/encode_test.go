package session

import (
	"crypto/ed25519"
	"encoding/base64"
	"encoding/json"
	"testing"
	"time"

	"github.com/oob-relay/relay/relay/trust"
)

// A link to an incident, the longest token an SMS carries, stays short;
// a token whose claims are JSON, as the first nodes issued them, is
// still accepted; claims round-trip through the compact form.
func TestCompactClaims(t *testing.T) {
	_, key, _ := ed25519.GenerateKey(nil)
	s := trust.NewSigner("relay-seoul-1", key)
	now := time.Date(2026, 12, 2, 9, 0, 0, 0, time.UTC)
	toks := New(s, nil, func() time.Time { return now })
	link, c := toks.Issue(KindLink, "", "p00042", "db-fire-2026-12-02", 24*time.Hour)
	asJSON, _ := json.Marshal(c)
	if jsonLen := base64.RawURLEncoding.EncodedLen(len(asJSON)) + 87; len(link) > 190 || len(link) > jsonLen-60 {
		t.Errorf("a link token is %d characters (%d in JSON): %s", len(link), jsonLen, link)
	}
	if got, err := toks.Check(KindLink, link); err != nil || got != c {
		t.Errorf("compact claims came back as %+v, %v; want %+v", got, err, c)
	}
	for _, odd := range []Claims{{Kind: "other", ID: "x", Person: "p", Node: "n", Issued: 1, Expires: 2}, {Kind: KindHandoff, ID: "x", Person: "p", Node: "n"}} {
		if got, err := decode(encode(odd)); err != nil || got != odd {
			t.Errorf("%+v came back as %+v, %v", odd, got, err)
		}
	}

	c.ID = "json-form"
	payload, _ := json.Marshal(c)
	sig := s.Sign(append([]byte(prefix), payload...))
	old := base64.RawURLEncoding.EncodeToString(payload) + "." + base64.RawURLEncoding.EncodeToString(sig)
	if got, err := toks.Check(KindLink, old); err != nil || got != c {
		t.Errorf("a JSON-form token: %+v, %v", got, err)
	}
	// Fields beyond the fixed ones ride as JSON after them; the fixed
	// ones stand.
	withRest := append(encode(c), `{"i":"elsewhere","x":1}`...)
	if got, err := decode(withRest); err != nil || got != c {
		t.Errorf("claims with more fields: %+v, %v; want %+v", got, err, c)
	}
	for _, bad := range [][]byte{{}, {compactV1}, {compactV1, 'l', 200}, append(encode(c), 0), {9, 'l'}} {
		if _, err := decode(bad); err == nil {
			t.Errorf("%x decoded", bad)
		}
	}
}
