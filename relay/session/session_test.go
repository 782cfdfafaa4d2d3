package session_test

import (
	"crypto/ed25519"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/oob-relay/relay/internal/testkit"
	"github.com/oob-relay/relay/relay/session"
	"github.com/oob-relay/relay/relay/trust"
)

func signer(t testing.TB, name string) *trust.Signer {
	t.Helper()
	_, key, err := ed25519.GenerateKey(nil)
	if err != nil {
		t.Fatal(err)
	}
	return trust.NewSigner(name, key)
}

// TestTokenOutlivesItsNode: a session issued by relay-1 is accepted by
// relay-2, which trusts relay-1's key, and refused by a node that does not.
func TestTokenOutlivesItsNode(t *testing.T) {
	clock := testkit.NewClock(time.Date(2026, 12, 2, 9, 0, 0, 0, time.UTC))
	one, two, stranger := signer(t, "relay-1"), signer(t, "relay-2"), signer(t, "relay-x")
	keys := trust.NewKeyring(map[string][]ed25519.PublicKey{"relay-1": {one.Public()}, "relay-2": {two.Public()}})
	tok, issued := session.New(one, keys, clock.Now).Issue(session.KindSession, "", "kim", "", time.Hour)
	got, err := session.New(two, keys, clock.Now).Check(session.KindSession, tok)
	if err != nil {
		t.Fatalf("relay-2 refused relay-1's session: %v", err)
	}
	if got != issued || got.Person != "kim" || got.Node != "relay-1" || got.ID == "" {
		t.Errorf("claims %+v, want %+v", got, issued)
	}
	alone := trust.NewKeyring(map[string][]ed25519.PublicKey{"relay-x": {stranger.Public()}})
	if _, err := session.New(stranger, alone, clock.Now).Check(session.KindSession, tok); !errors.Is(err, session.ErrSignature) {
		t.Errorf("a node not trusting relay-1 said %v, want ErrSignature", err)
	}
}

// TestTokenRefusals: expired, of another kind, altered, resigned under
// another name, garbage.
func TestTokenRefusals(t *testing.T) {
	clock := testkit.NewClock(time.Date(2026, 12, 2, 9, 0, 0, 0, time.UTC))
	one := signer(t, "relay-1")
	toks := session.New(one, nil, clock.Now)
	link, _ := toks.Issue(session.KindLink, "", "kim", "inc-1", time.Hour)
	if _, err := toks.Check(session.KindSession, link); !errors.Is(err, session.ErrKind) {
		t.Errorf("a link taken as a session: %v", err)
	}
	if c, err := toks.Check(session.KindLink, link); err != nil || c.Incident != "inc-1" {
		t.Errorf("link: %+v %v", c, err)
	}
	payload, sig, _ := strings.Cut(link, ".")
	other, _ := session.New(signer(t, "relay-1"), nil, clock.Now).Issue(session.KindLink, "", "lee", "inc-1", time.Hour)
	otherPayload, _, _ := strings.Cut(other, ".")
	for name, tok := range map[string]string{
		"claims of another token": otherPayload + "." + sig,
		"no signature":            payload,
		"signature not base64":    payload + ".%%%",
		"claims not base64":       "%%%." + sig,
		"too long":                strings.Repeat("a", session.MaxTokenBytes+1),
		"empty":                   "",
	} {
		if _, err := toks.Check(session.KindLink, tok); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	clock.Add(time.Hour)
	if _, err := toks.Check(session.KindLink, link); !errors.Is(err, session.ErrExpired) {
		t.Errorf("a link at its expiry: %v, want ErrExpired", err)
	}
}

func FuzzCheck(f *testing.F) {
	one := signer(f, "relay-1")
	toks := session.New(one, nil, time.Now)
	good, _ := toks.Issue(session.KindSession, "", "kim", "", time.Hour)
	f.Add(good)
	f.Add("e30.AAAA")
	f.Add(".")
	f.Fuzz(func(t *testing.T, tok string) {
		c, err := toks.Check(session.KindSession, tok)
		if err == nil && (c.Person == "" || c.Node != "relay-1") {
			t.Fatalf("accepted %q as %+v", tok, c)
		}
	})
}

// TestHandoffResumesTheSameSession: relay-2 resumes, from relay-1's
// hand-off, a session with the same ID, person, incident, issue time and
// expiry; a hand-off never outlives its session, is no session itself,
// and an expired one resumes nothing.
func TestHandoffResumesTheSameSession(t *testing.T) {
	clock := testkit.NewClock(time.Date(2026, 12, 2, 9, 0, 0, 0, time.UTC))
	one, two := signer(t, "relay-1"), signer(t, "relay-2")
	keys := trust.NewKeyring(map[string][]ed25519.PublicKey{"relay-1": {one.Public()}, "relay-2": {two.Public()}})
	t1, t2 := session.New(one, keys, clock.Now), session.New(two, keys, clock.Now)
	_, s := t1.Issue(session.KindSession, "", "kim", "inc-1", time.Hour)
	clock.Add(5 * time.Minute)
	h := t1.Handoff(s, 10*time.Minute)
	if _, err := t2.Check(session.KindSession, h); !errors.Is(err, session.ErrKind) {
		t.Errorf("a hand-off taken as a session: %v", err)
	}
	tok, got, err := t2.Resume(h)
	if err != nil {
		t.Fatal(err)
	}
	if got.ID != s.ID || got.Person != "kim" || got.Incident != "inc-1" || got.Issued != s.Issued || got.Expires != s.Expires || got.Node != "relay-2" {
		t.Errorf("resumed %+v, want the session %+v signed by relay-2", got, s)
	}
	if c, err := t1.Check(session.KindSession, tok); err != nil || c != got {
		t.Errorf("relay-1 checking the resumed session: %+v %v", c, err)
	}
	clock.Add(50 * time.Minute) // 5 min before the session ends
	late := t1.Handoff(s, 10*time.Minute)
	c, _ := t1.Check(session.KindHandoff, late)
	if c.Expires != s.Expires {
		t.Errorf("a hand-off 5 min before its session ends expires at %d, want the session's %d", c.Expires, s.Expires)
	}
	clock.Add(11 * time.Minute)
	if _, _, err := t2.Resume(h); !errors.Is(err, session.ErrExpired) {
		t.Errorf("an expired hand-off resumed: %v", err)
	}
}
