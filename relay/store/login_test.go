package store

import (
	"bytes"
	"context"
	"encoding/json"
	"path/filepath"
	"testing"
	"time"

	"github.com/oob-relay/relay/relay"
)

var loginT0 = time.Date(2026, 12, 2, 4, 0, 0, 0, time.UTC)

func issued(id, person string, at time.Time) relay.Event {
	return relay.Event{Code: &relay.CodeEvent{Challenge: id, Person: person, Step: relay.CodeIssued, At: at, From: "203.0.113.7",
		Purpose: relay.PurposeLogin, Salt: bytes.Repeat([]byte{1}, relay.CodeSaltBytes), Hash: bytes.Repeat([]byte{2}, relay.CodeHashBytes),
		SentTo: []string{"+82 10-****-5678"}, To: []relay.Destination{{Channel: relay.ChannelSMS, Address: "+821012345678"}},
		Expires: at.Add(relay.CodeTTL)}}
}

func step(id, person, s string, at time.Time) relay.Event {
	return relay.Event{Code: &relay.CodeEvent{Challenge: id, Person: person, Step: s, At: at, From: "203.0.113.7"}}
}

// Code steps fold in any order to the same challenge and counts, on a
// peer that merges them and on a store restored from a snapshot that
// folds its log again over them (nothing counted twice); upkeep prunes
// them once their windows have passed.
func TestCodeStepsFoldInAnyOrderAndOnce(t *testing.T) {
	ctx := context.Background()
	const id = "0123456789abcdef0123456789abcdef"
	s := open(t, t.TempDir(), "seoul")
	defer s.Close()
	evs, err := s.Append(ctx, step(id, "kim", relay.CodeFailed, loginT0.Add(time.Minute)),
		step(id, "kim", relay.CodeUsed, loginT0.Add(2*time.Minute)), issued(id, "kim", loginT0))
	if err != nil {
		t.Fatal(err)
	}
	check := func(name string, st *Store) {
		t.Helper()
		rec, ok, err := st.Challenge(id)
		if err != nil || !ok || !rec.Issued || !rec.Used || rec.Person != "kim" || !rec.Expires.Equal(loginT0.Add(relay.CodeTTL)) ||
			len(rec.Hash) != relay.CodeHashBytes {
			t.Errorf("%s: challenge %+v, %v, %v; want issued and used", name, rec, ok, err)
		}
		for _, c := range []struct {
			subject   string
			byAddress bool
			step      string
		}{{"kim", false, relay.CodeFailed}, {"kim", false, relay.CodeIssued}, {"203.0.113.7", true, relay.CodeFailed}} {
			ts, err := st.CodeSteps(c.subject, c.byAddress, c.step, loginT0)
			if err != nil || len(ts) != 1 {
				t.Errorf("%s: %s steps of %s: %v, %v; want one", name, c.step, c.subject, ts, err)
			}
		}
		if ts, _ := st.CodeSteps("kim", false, relay.CodeFailed, loginT0.Add(time.Minute+time.Nanosecond)); len(ts) != 0 {
			t.Errorf("%s: a window after the wrong code counts %v", name, ts)
		}
	}
	check("writer", s)

	peer := open(t, t.TempDir(), "busan")
	defer peer.Close()
	rev := []relay.Event{evs[2], evs[0], evs[1]}
	if _, err := peer.Merge(ctx, rev); err != nil {
		t.Fatal(err)
	}
	check("peer", peer)

	path := filepath.Join(t.TempDir(), "snap")
	if _, err := s.WriteSnapshot(path); err != nil {
		t.Fatal(err)
	}
	if err := s.Restore(ctx, path); err != nil {
		t.Fatal(err)
	}
	check("restored", s)

	// A second issue of the same id does not replace the first's hash.
	forged := issued(id, "kim", loginT0.Add(time.Minute))
	forged.Code.Hash = bytes.Repeat([]byte{9}, relay.CodeHashBytes)
	if _, err := s.Append(ctx, forged); err != nil {
		t.Fatal(err)
	}
	if rec, _, _ := s.Challenge(id); rec.Hash[0] != 2 {
		t.Error("a later issue replaced the challenge's hash")
	}

	up, err := s.PruneLogin(ctx, loginT0.Add(relay.CodeTTL+time.Hour+time.Second), 0)
	if err != nil || up.Challenges != 1 || up.Steps != 8 {
		t.Errorf("prune: %+v, %v; want the challenge and its 8 step keys gone", up, err)
	}
	if _, ok, _ := s.Challenge(id); ok {
		t.Error("the challenge outlived its pruning")
	}
}

// Revocations and audit entries survive a snapshot and are pruned by
// their time.
func TestRevocationsAndAuditThroughSnapshot(t *testing.T) {
	ctx := context.Background()
	s := open(t, t.TempDir(), "seoul")
	defer s.Close()
	_, err := s.Append(ctx,
		relay.Event{Revoke: &relay.Revocation{Person: "kim", Session: "abc_DEF-123", Until: loginT0.Add(time.Hour), By: "kim"}},
		relay.Event{Revoke: &relay.Revocation{Person: "lee", Before: loginT0, Until: loginT0.Add(2 * time.Hour), By: "admin"}},
		relay.Event{Revoke: &relay.Revocation{Person: "lee", Before: loginT0.Add(-time.Hour), Until: loginT0.Add(time.Hour), By: "admin"}},
		relay.Event{Audit: &relay.AuditEntry{At: loginT0, Node: "seoul", Actor: "kim", Action: "login"}},
		relay.Event{Audit: &relay.AuditEntry{At: loginT0.Add(-500 * 24 * time.Hour), Node: "seoul", Actor: "kim", Action: "ack"}},
	)
	if err != nil {
		t.Fatal(err)
	}
	dst := open(t, t.TempDir(), "busan")
	defer dst.Close()
	path := filepath.Join(t.TempDir(), "snap")
	if _, err := s.WriteSnapshot(path); err != nil {
		t.Fatal(err)
	}
	if err := dst.Restore(ctx, path); err != nil {
		t.Fatal(err)
	}
	for name, st := range map[string]*Store{"writer": s, "restored": dst} {
		if byID, _, err := st.Revoked("abc_DEF-123", "kim"); err != nil || !byID {
			t.Errorf("%s: kim's session not revoked: %v", name, err)
		}
		if _, before, _ := st.Revoked("", "lee"); !before.Equal(loginT0) {
			t.Errorf("%s: lee's sessions revoked until %s; want the later revocation, %s", name, before, loginT0)
		}
		trail, err := st.AuditTrail(10)
		if err != nil || len(trail) != 2 || trail[0].Action != "login" {
			t.Errorf("%s: trail %+v, %v; want the login first", name, trail, err)
		}
	}
	up, err := s.PruneLogin(ctx, loginT0.Add(90*time.Minute), 400*24*time.Hour)
	if err != nil || up.Revocations != 1 || up.Audit != 1 {
		t.Errorf("prune: %+v, %v; want kim's revocation and the old entry gone", up, err)
	}
	if _, before, _ := s.Revoked("", "lee"); before.IsZero() {
		t.Error("lee's revocation, kept two hours, was pruned after 90 minutes")
	}
}

// Code events, revocations and audit entries from elsewhere are checked
// before anything is merged.
func TestLoginEventsFromElsewhereAreChecked(t *testing.T) {
	base := func() relay.Event {
		e := issued("0123456789abcdef0123456789abcdef", "kim", loginT0)
		e.Origin, e.Seq = "x", 1
		return e
	}
	for _, c := range []struct {
		name   string
		mutate func(*relay.Event)
	}{
		{"short salt", func(e *relay.Event) { e.Code.Salt = e.Code.Salt[:4] }},
		{"long life", func(e *relay.Event) { e.Code.Expires = loginT0.Add(time.Hour) }},
		{"unknown step", func(e *relay.Event) { e.Code.Step = "guessed" }},
		{"failed with a hash", func(e *relay.Event) { e.Code.Step = relay.CodeFailed }},
		{"bad address", func(e *relay.Event) { e.Code.From = "not an ip" }},
		{"bad person", func(e *relay.Event) { e.Code.Person = "Kim Min-su" }},
		{"control in sent_to", func(e *relay.Event) { e.Code.SentTo = []string{"\x1b[2J"} }},
		{"revocation of nothing", func(e *relay.Event) {
			e.Code, e.Revoke = nil, &relay.Revocation{Person: "kim", Until: loginT0}
		}},
		{"audit without actor", func(e *relay.Event) { e.Code, e.Audit = nil, &relay.AuditEntry{At: loginT0, Action: "login"} }},
	} {
		e := base()
		if err := e.Check(); err != nil {
			t.Fatalf("the base event: %v", err)
		}
		c.mutate(&e)
		if err := e.Check(); err == nil {
			t.Errorf("%s: accepted", c.name)
		}
	}
}

// FuzzLoginEventCheck decodes events holding login payloads as a peer's
// push would carry them: Check never panics, and what it accepts folds.
func FuzzLoginEventCheck(f *testing.F) {
	for _, e := range []relay.Event{issued("0123456789abcdef0123456789abcdef", "kim", loginT0),
		step("0123456789abcdef0123456789abcdef", "kim", relay.CodeFailed, loginT0),
		{Revoke: &relay.Revocation{Person: "kim", Before: loginT0, Until: loginT0.Add(time.Hour), By: "kim"}},
		{Audit: &relay.AuditEntry{At: loginT0, Actor: "kim", Action: "login", Detail: "2층"}}} {
		e.Origin, e.Seq = "x", 1
		raw, _ := json.Marshal(e)
		f.Add(raw)
	}
	s := open(f, f.TempDir(), "seoul")
	f.Cleanup(func() { s.Close() })
	f.Fuzz(func(t *testing.T, raw []byte) {
		var e relay.Event
		if json.Unmarshal(raw, &e) != nil || e.Check() != nil {
			return
		}
		e.Origin = "fuzz"
		if _, err := s.Merge(context.Background(), []relay.Event{e}); err != nil {
			t.Fatalf("an event Check accepts does not merge: %v", err)
		}
	})
}
