package node_test

import (
	"encoding/json"
	"errors"
	"log/slog"
	"net/netip"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/oob-relay/relay/internal/testkit"
	"github.com/oob-relay/relay/relay"
	"github.com/oob-relay/relay/relay/delivery"
	"github.com/oob-relay/relay/relay/node"
	"github.com/oob-relay/relay/relay/session"
)

// loginPeople are the roster of the login tests: Kim reads Korean and
// has a phone and a mailbox, Lee reads English and has only a mailbox.
var loginPeople = &relay.Roster{People: []relay.Person{
	{ID: "kim", Name: "김민수", Phone: "+821012345678", Email: "Kim@Example.com", Lang: "ko"},
	{ID: "lee", Name: "Lee", Email: "lee@example.com", Lang: "en"},
}}

// loginSide is one node of a login test with the senders its providers
// hand codes to and what it logs.
type loginSide struct {
	*member
	sms, voice, email *testkit.Sender
	logs              *testkit.LogBuffer
	reg               *prometheus.Registry
}

// codes returns the one-time codes the side's senders were given.
func (s *loginSide) codes() []relay.Outgoing {
	var out []relay.Outgoing
	for _, snd := range []*testkit.Sender{s.sms, s.voice, s.email} {
		for _, o := range snd.Sent() {
			if o.Code != nil {
				out = append(out, o)
			}
		}
	}
	return out
}

// startLoginPair starts two authenticated members that trust each
// other's keys, on one clock.
func startLoginPair(t *testing.T, clock *testkit.Clock) (a, b *loginSide) {
	t.Helper()
	kc := newKeyedCluster(t, "node-a", "node-b")
	keys := kc.keyring("node-a", "node-b")
	start := func(name, seed string) *loginSide {
		s := &loginSide{sms: &testkit.Sender{}, voice: &testkit.Sender{}, email: &testkit.Sender{}, logs: &testkit.LogBuffer{},
			reg: prometheus.NewRegistry()}
		// No time in the log lines: only what the node wrote is searched
		// for a code.
		h := slog.NewTextHandler(s.logs, &slog.HandlerOptions{Level: slog.LevelDebug,
			ReplaceAttr: func(_ []string, a slog.Attr) slog.Attr {
				if a.Key == slog.TimeKey {
					return slog.Attr{}
				}
				return a
			}})
		s.member = startMemberWith(t, name, seed, nil, node.Options{
			Now: clock.Now, Signer: kc.signers[name], Keys: keys, Roster: loginPeople,
			PublicURL: "https://" + name + ".example.com", Logger: slog.New(h), Registerer: s.reg,
			Deadline: func(relay.Severity) time.Duration { return time.Hour },
			Providers: []delivery.Provider{
				{Name: "sms-" + name, Channel: relay.ChannelSMS, Sender: s.sms},
				{Name: "voice-" + name, Channel: relay.ChannelVoice, Sender: s.voice},
				{Name: "mail-" + name, Channel: relay.ChannelEmail, Sender: s.email},
			},
		})
		return s
	}
	a = start("node-a", "")
	b = start("node-b", a.ms.LocalAddr())
	settleMembership(t, a.member, b.member)
	return a, b
}

var client = netip.MustParseAddr("203.0.113.7")

// waitCode waits until side s handed a code to a provider and returns it.
func waitCode(t *testing.T, s *loginSide, n int) relay.Outgoing {
	t.Helper()
	testkit.Eventually(t, 10*time.Second, "the code handed to a provider", func() bool { return len(s.codes()) >= n })
	return s.codes()[n-1]
}

// waitChallenge waits until side s holds challenge id.
func waitChallenge(t *testing.T, s *loginSide, id string) {
	t.Helper()
	testkit.Eventually(t, 10*time.Second, "the challenge on "+s.n.Name(), func() bool {
		_, ok, err := s.n.Store().Challenge(id)
		return err == nil && ok
	})
}

// A code sent by node A, by SMS in Korean, is taken on node B once; on
// A it is then used. The code is in no log line, no event and no error.
func TestLoginCodeIssuedOnOneNodeIsTakenOnAnotherOnce(t *testing.T) {
	clock := testkit.NewClock(time.Now())
	a, b := startLoginPair(t, clock)
	ctx := t.Context()

	ch, err := a.n.StartLogin(ctx, "010-1234-5678", client)
	if err != nil {
		t.Fatal(err)
	}
	if ch.Person != "kim" || len(ch.SentTo) != 1 || ch.SentTo[0] != "+82 10-****-5678" || !ch.Expires.Equal(clock.Now().Add(relay.CodeTTL)) {
		t.Fatalf("challenge %+v; want kim's, sent to +82 10-****-5678, for %s", ch, relay.CodeTTL)
	}
	out := waitCode(t, a, 1)
	code := out.Code.Digits
	if out.Channel != relay.ChannelSMS || out.Person.Phone != "+821012345678" || out.Message != nil {
		t.Errorf("code went as %+v; want an SMS to Kim's phone and no message", out)
	}
	if want := "relay 로그인 코드: " + code + " (10분 유효)"; relay.CodeText(out.Code, out.Person.Lang) != want {
		t.Errorf("code text %q; want %q", relay.CodeText(out.Code, out.Person.Lang), want)
	}
	if a.voice.Count()+a.email.Count()+b.sms.Count() != 0 {
		t.Error("the code went out more than once")
	}

	waitChallenge(t, b, ch.ID)
	wrong := otherCode(code)
	if _, err := b.n.FinishLogin(ctx, ch.ID, wrong, client); !errors.Is(err, relay.ErrCodeWrong) {
		t.Fatalf("a wrong code on B: %v; want ErrCodeWrong", err)
	} else if strings.Contains(err.Error(), wrong) || strings.Contains(err.Error(), code) {
		t.Errorf("the error %q holds a code", err)
	}
	person, err := b.n.FinishLogin(ctx, ch.ID, code[:3]+" "+code[3:], client)
	if err != nil || person != "kim" {
		t.Fatalf("the code on B: %q, %v; want kim", person, err)
	}
	if _, err := b.n.FinishLogin(ctx, ch.ID, code, client); !errors.Is(err, relay.ErrCodeExpired) {
		t.Errorf("the code again on B: %v; want ErrCodeExpired", err)
	}
	testkit.Eventually(t, 10*time.Second, "the code used on A too", func() bool {
		_, err := a.n.FinishLogin(ctx, ch.ID, code, client)
		return errors.Is(err, relay.ErrCodeExpired)
	})
	for _, c := range []struct {
		s      *loginSide
		metric string
		labels []string
		want   float64
	}{
		{a, "relay_login_codes_sent_total", []string{"channel", "sms", "result", "sent"}, 1},
		{b, "relay_login_attempts_total", []string{"result", "ok"}, 1},
		{b, "relay_login_attempts_total", []string{"result", "wrong"}, 1},
	} {
		if got := testkit.Metric(t, c.s.reg, c.metric, c.labels...); got != c.want {
			t.Errorf("%s %s%v = %v; want %v", c.s.n.Name(), c.metric, c.labels, got, c.want)
		}
	}

	codeWord := regexp.MustCompile(`\b` + code + `\b`)
	for _, s := range []*loginSide{a, b} {
		if codeWord.MatchString(s.logs.String()) {
			t.Errorf("%s logged the code:\n%s", s.n.Name(), s.logs.String())
		}
		for _, e := range allEvents(t, s.n) {
			raw := e.Kind() + " " + string(mustJSON(t, e))
			if codeWord.MatchString(raw) {
				t.Errorf("%s holds an event with the code: %s", s.n.Name(), raw)
			}
		}
	}
	if !strings.Contains(a.logs.String(), "one-time code sent") {
		t.Errorf("A did not log that it sent a code:\n%s", a.logs.String())
	}
}

func mustJSON(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// otherCode returns a well-formed code that is not code.
func otherCode(code string) string {
	if code == "000000" {
		return "000001"
	}
	return "000000"
}

// A person who types their address gets the code by mail, in their
// language; a phone number reaches the person whose national number it
// is, in any usual format.
func TestLoginReachesTheContactTyped(t *testing.T) {
	clock := testkit.NewClock(time.Now())
	a, _ := startLoginPair(t, clock)
	ctx := t.Context()
	ch, err := a.n.StartLogin(ctx, " LEE@example.com ", client)
	if err != nil || ch.Person != "lee" || len(ch.SentTo) != 1 || ch.SentTo[0] != "l***@example.com" {
		t.Fatalf("login by address: %+v, %v; want lee's challenge sent to l***@example.com", ch, err)
	}
	out := waitCode(t, a, 1)
	if out.Channel != relay.ChannelEmail || out.Person.Email != "lee@example.com" ||
		relay.CodeText(out.Code, out.Person.Lang) != "relay login code: "+out.Code.Digits+" (valid 10 min)" {
		t.Errorf("code went as %+v; want a mail in English to lee@example.com", out)
	}
	for _, typed := range []string{"+82 10 1234 5678", "0082-10-1234-5678", "(010) 1234.5678"} {
		ch, err := a.n.StartLogin(ctx, typed, netip.MustParseAddr("198.51.100.1"))
		if err != nil || ch.Person != "kim" {
			t.Errorf("login by %q: %+v, %v; want kim's challenge", typed, ch, err)
		}
		clock.Add(node.CodeWindow) // out of the person's limit
	}
	if _, err := a.n.StartLogin(ctx, "kim at example", client); !errors.Is(err, relay.ErrContactFormat) {
		t.Errorf("a contact that is neither: %v; want ErrContactFormat", err)
	}
}

// An unknown contact gets a challenge of the same shape as a real one,
// nothing is sent and nothing is written; a code typed for it is wrong.
func TestLoginDecoyForUnknownContact(t *testing.T) {
	clock := testkit.NewClock(time.Now())
	a, b := startLoginPair(t, clock)
	ctx := t.Context()
	real, err := a.n.StartLogin(ctx, "010-1234-5678", client)
	if err != nil {
		t.Fatal(err)
	}
	waitCode(t, a, 1)
	// Other work of the node (its views of its peers, say) may write
	// meanwhile: only login events count.
	codeEvents := func() int {
		n := 0
		for _, e := range allEvents(t, a.n) {
			if e.Code != nil || e.Revoke != nil || e.Audit != nil {
				n++
			}
		}
		return n
	}
	before := codeEvents()
	decoy, err := a.n.StartLogin(ctx, "010-9999-5678", client)
	if err != nil {
		t.Fatal(err)
	}
	if decoy.Person != "" || len(decoy.ID) != len(real.ID) || decoy.ID == real.ID || !decoy.Expires.Equal(real.Expires) ||
		len(decoy.SentTo) != 1 || decoy.SentTo[0] != real.SentTo[0] || decoy.Purpose != real.Purpose {
		t.Errorf("decoy %+v does not look like the real challenge %+v", decoy, real)
	}
	mailDecoy, err := a.n.StartLogin(ctx, "nobody@example.com", client)
	if err != nil || mailDecoy.Person != "" || len(mailDecoy.SentTo) != 1 || mailDecoy.SentTo[0] != "n***@example.com" {
		t.Errorf("decoy for an address: %+v, %v", mailDecoy, err)
	}
	if n := len(a.codes()); n != 1 {
		t.Errorf("%d codes went out; want only the real one", n)
	}
	if after := codeEvents(); after != before {
		t.Errorf("the decoys wrote %d events", after-before)
	}
	for _, s := range []*loginSide{a, b} {
		if _, err := s.n.FinishLogin(ctx, decoy.ID, "123456", client); !errors.Is(err, relay.ErrCodeWrong) {
			t.Errorf("a code for the decoy on %s: %v; want ErrCodeWrong", s.n.Name(), err)
		}
	}
}

// A code past its time is refused, on every node.
func TestLoginCodeExpires(t *testing.T) {
	clock := testkit.NewClock(time.Now())
	a, b := startLoginPair(t, clock)
	ctx := t.Context()
	ch, err := a.n.StartLogin(ctx, "+821012345678", client)
	if err != nil {
		t.Fatal(err)
	}
	code := waitCode(t, a, 1).Code.Digits
	waitChallenge(t, b, ch.ID)
	clock.Add(relay.CodeTTL)
	for _, s := range []*loginSide{a, b} {
		if _, err := s.n.FinishLogin(ctx, ch.ID, code, client); !errors.Is(err, relay.ErrCodeExpired) {
			t.Errorf("an expired code on %s: %v; want ErrCodeExpired", s.n.Name(), err)
		}
	}
}

// Wrong codes typed on two nodes add up: after five, both nodes refuse
// every code for the person, the right one too, unread, and write
// nothing more, until the oldest wrong code leaves the window.
func TestLoginLockoutAcrossNodes(t *testing.T) {
	clock := testkit.NewClock(time.Now())
	a, b := startLoginPair(t, clock)
	ctx := t.Context()
	ch, err := a.n.StartLogin(ctx, "010-1234-5678", client)
	if err != nil {
		t.Fatal(err)
	}
	code := waitCode(t, a, 1).Code.Digits
	waitChallenge(t, b, ch.ID)
	failures := func(s *loginSide) int {
		ts, err := s.n.Store().CodeSteps("kim", false, relay.CodeFailed, time.Time{})
		if err != nil {
			t.Fatal(err)
		}
		return len(ts)
	}
	for i := range relay.MaxCodeFailures {
		s := []*loginSide{a, b}[i%2]
		if _, err := s.n.FinishLogin(ctx, ch.ID, otherCode(code), client); !errors.Is(err, relay.ErrCodeWrong) {
			t.Fatalf("wrong code %d on %s: %v; want ErrCodeWrong", i+1, s.n.Name(), err)
		}
		clock.Add(time.Second)
		testkit.Eventually(t, 10*time.Second, "the wrong codes on both nodes", func() bool {
			return failures(a) == i+1 && failures(b) == i+1
		})
	}
	for _, s := range []*loginSide{a, b} {
		_, err := s.n.FinishLogin(ctx, ch.ID, code, client)
		var rl *relay.RateLimitError
		if !errors.Is(err, relay.ErrLockedOut) || !errors.As(err, &rl) ||
			rl.RetryAfter != relay.LockoutWindow-relay.MaxCodeFailures*time.Second {
			t.Errorf("the right code on %s once locked out: %v; want ErrLockedOut for %s", s.n.Name(), err,
				relay.LockoutWindow-relay.MaxCodeFailures*time.Second)
		}
		if _, err := s.n.FinishLogin(ctx, ch.ID, otherCode(code), client); !errors.Is(err, relay.ErrLockedOut) {
			t.Errorf("a wrong code on %s once locked out: %v; want ErrLockedOut", s.n.Name(), err)
		}
	}
	if n := failures(a); n != relay.MaxCodeFailures {
		t.Errorf("%d wrong codes written; want no more than %d", n, relay.MaxCodeFailures)
	}
	trail, err := a.n.AuditTrail(10)
	if err != nil || len(trail) == 0 || trail[0].Action != "login.lockout" || trail[0].Actor != "kim" {
		t.Errorf("audit trail %+v, %v; want the lockout", trail, err)
	}

	// Once the window lets the oldest go, a new code works.
	clock.Add(relay.LockoutWindow)
	if _, err := a.n.FinishLogin(ctx, ch.ID, code, client); !errors.Is(err, relay.ErrCodeExpired) {
		t.Errorf("the old code after the lockout: %v; want ErrCodeExpired", err)
	}
	ch2, err := b.n.StartLogin(ctx, "010-1234-5678", client)
	if err != nil {
		t.Fatal(err)
	}
	code2 := waitCode(t, b, 1).Code.Digits
	if person, err := b.n.FinishLogin(ctx, ch2.ID, code2, client); err != nil || person != "kim" {
		t.Errorf("a new code after the lockout: %q, %v", person, err)
	}
}

// Twenty wrong codes from one address in an hour lock the address out,
// whichever challenges they were for.
func TestLoginAddressLockout(t *testing.T) {
	clock := testkit.NewClock(time.Now())
	a, _ := startLoginPair(t, clock)
	ctx := t.Context()
	for i := range relay.MaxAddressFailures {
		if _, err := a.n.FinishLogin(ctx, "00000000000000000000000000000000", "123456", client); !errors.Is(err, relay.ErrCodeWrong) {
			t.Fatalf("wrong code %d: %v", i+1, err)
		}
		clock.Add(time.Minute)
	}
	_, err := a.n.FinishLogin(ctx, "00000000000000000000000000000000", "123456", client)
	var rl *relay.RateLimitError
	if !errors.Is(err, relay.ErrLockedOut) || !errors.As(err, &rl) || rl.RetryAfter != relay.AddressWindow-time.Duration(relay.MaxAddressFailures)*time.Minute {
		t.Fatalf("after %d wrong codes: %v; want the address locked out", relay.MaxAddressFailures, err)
	}
	if _, err := a.n.FinishLogin(ctx, "00000000000000000000000000000000", "123456", netip.MustParseAddr("2001:db8::1")); !errors.Is(err, relay.ErrCodeWrong) {
		t.Errorf("another address: %v; want only ErrCodeWrong", err)
	}
	clock.Add(rl.RetryAfter)
	if _, err := a.n.FinishLogin(ctx, "00000000000000000000000000000000", "123456", client); !errors.Is(err, relay.ErrCodeWrong) {
		t.Errorf("once the window moved on: %v; want ErrCodeWrong", err)
	}
}

// Codes sent to one person are limited on every node together, and
// codes asked for from one address on this node.
func TestLoginRateLimits(t *testing.T) {
	clock := testkit.NewClock(time.Now())
	a, b := startLoginPair(t, clock)
	ctx := t.Context()
	other := func(i int) netip.Addr { return netip.AddrFrom4([4]byte{198, 51, 100, byte(i)}) }
	for i := range node.CodesPerPerson {
		s := []*loginSide{a, b}[i%2]
		ch, err := s.n.StartLogin(ctx, "010-1234-5678", other(i))
		if err != nil {
			t.Fatalf("code %d on %s: %v", i+1, s.n.Name(), err)
		}
		waitChallenge(t, a, ch.ID)
		waitChallenge(t, b, ch.ID)
		clock.Add(time.Minute)
	}
	_, err := a.n.StartLogin(ctx, "010-1234-5678", other(9))
	var rl *relay.RateLimitError
	if !errors.As(err, &rl) || rl.What != "person" || rl.RetryAfter != node.CodeWindow-node.CodesPerPerson*time.Minute {
		t.Fatalf("a fourth code for kim: %v; want a person limit for %s", err, node.CodeWindow-node.CodesPerPerson*time.Minute)
	}
	// A decoy is limited alike.
	for range node.CodesPerPerson {
		if _, err := a.n.StartLogin(ctx, "010-5555-0000", other(10)); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := a.n.StartLogin(ctx, "010-5555-0000", other(11)); !errors.As(err, &rl) || rl.What != "person" {
		t.Errorf("a fourth code for an unknown number: %v; want a person limit", err)
	}

	clock.Add(node.CodeWindow)
	for i := range node.CodesPerAddress {
		if _, err := a.n.StartLogin(ctx, "010-7777-"+string(rune('0'+i))+"000", client); err != nil {
			t.Fatalf("code %d from one address: %v", i+1, err)
		}
	}
	if _, err := a.n.StartLogin(ctx, "lee@example.com", client); !errors.As(err, &rl) || rl.What != "address" || rl.RetryAfter != node.CodeWindow {
		t.Errorf("one more from the address: %v; want an address limit for %s", err, node.CodeWindow)
	}
	if n := len(a.codes()); n != node.CodesPerPerson-1 {
		t.Errorf("A sent %d codes; want %d", n, node.CodesPerPerson-1)
	}
}

// Revocations replicate: a session revoked on A is refused on B, and
// revoking every session of a person refuses those issued until then,
// not those issued later.
func TestSessionRevocationReplicates(t *testing.T) {
	clock := testkit.NewClock(time.Now())
	a, b := startLoginPair(t, clock)
	ctx := t.Context()
	tok, claims := a.n.Tokens().Issue(session.KindSession, "", "kim", "", a.n.SessionTTL())
	if c, err := b.n.Tokens().Check(session.KindSession, tok); err != nil || c != claims {
		t.Fatalf("A's session on B: %+v, %v", c, err)
	}
	if b.n.SessionRevoked(claims) {
		t.Fatal("a fresh session is revoked")
	}
	if err := a.n.RevokeSession(ctx, claims.ID, "kim", "kim"); err != nil {
		t.Fatal(err)
	}
	testkit.Eventually(t, 10*time.Second, "the session revoked on B", func() bool { return b.n.SessionRevoked(claims) })

	_, other := b.n.Tokens().Issue(session.KindSession, "", "kim", "", b.n.SessionTTL())
	_, lees := b.n.Tokens().Issue(session.KindSession, "", "lee", "", b.n.SessionTTL())
	if err := b.n.RevokeSessions(ctx, "kim", "admin-park"); err != nil {
		t.Fatal(err)
	}
	clock.Add(time.Second)
	_, later := a.n.Tokens().Issue(session.KindSession, "", "kim", "", a.n.SessionTTL())
	testkit.Eventually(t, 10*time.Second, "every earlier session of kim revoked on A", func() bool { return a.n.SessionRevoked(other) })
	if a.n.SessionRevoked(later) || a.n.SessionRevoked(lees) {
		t.Error("a later session, or another person's, is revoked")
	}

	// Kept until the sessions they name have expired, then forgotten.
	clock.Add(node.DefaultLinkTTL + time.Minute)
	up, err := a.n.Upkeep(ctx)
	if err != nil || up.Login.Revocations != 2 {
		t.Errorf("upkeep %+v, %v; want both revocations forgotten", up.Login, err)
	}
}

// The audit trail replicates, newest first, its text made printable and
// bounded.
func TestAuditTrailReplicates(t *testing.T) {
	clock := testkit.NewClock(time.Now())
	a, b := startLoginPair(t, clock)
	ctx := t.Context()
	if err := a.n.Audit(ctx, relay.AuditEntry{Actor: "kim", Action: "login", Address: client.String()}); err != nil {
		t.Fatal(err)
	}
	clock.Add(time.Second)
	if err := b.n.Audit(ctx, relay.AuditEntry{Actor: "token:ops", Action: "post", Target: "db-fire",
		Detail: "2층\x1b[2J 화재\n" + strings.Repeat("가", 400)}); err != nil {
		t.Fatal(err)
	}
	var trail []relay.AuditEntry
	testkit.Eventually(t, 10*time.Second, "both entries on A", func() bool {
		trail, _ = a.n.AuditTrail(10)
		return len(trail) == 2
	})
	if trail[0].Action != "post" || trail[0].Node != "node-b" || trail[1].Action != "login" || trail[1].Node != "node-a" ||
		!trail[1].At.Equal(clock.Now().Add(-time.Second).UTC()) {
		t.Errorf("trail %+v; want B's post, then A's login", trail)
	}
	if d := trail[0].Detail; len(d) > relay.MaxAuditDetail || strings.ContainsAny(d, "\x1b\n") || !strings.HasPrefix(d, "2층") {
		t.Errorf("detail %q is not cleaned and bounded", d)
	}
	if err := a.n.Audit(ctx, relay.AuditEntry{Action: "login"}); err == nil {
		t.Error("an entry without an actor was recorded")
	}
}

// allEvents returns every event n's log holds.
func allEvents(t *testing.T, n *node.Node) []relay.Event {
	t.Helper()
	marks, err := n.Store().Marks()
	if err != nil {
		t.Fatal(err)
	}
	var out []relay.Event
	for origin := range marks {
		evs, err := n.Store().EventsFrom(origin, 0, 1<<20)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, evs...)
	}
	return out
}

// BenchmarkStartLogin compares how long a login for a known contact and
// for an unknown one (a decoy) takes to answer: they should be alike, so
// that the time does not tell who is on staff.
func BenchmarkStartLogin(b *testing.B) {
	for _, c := range []struct{ name, contact string }{{"known", "010-1234-5678"}, {"unknown", "010-9999-0000"}} {
		b.Run(c.name, func(b *testing.B) {
			clock := testkit.NewClock(time.Now())
			m := startMemberWith(b, "bench", "", nil, node.Options{
				Now: clock.Now, Roster: loginPeople, Deadline: func(relay.Severity) time.Duration { return time.Hour },
				Providers: []delivery.Provider{{Name: "sms", Channel: relay.ChannelSMS, Sender: &testkit.Sender{CountOnly: true}}},
			})
			for b.Loop() {
				clock.Add(node.CodeWindow) // out of every limit
				if _, err := m.n.StartLogin(b.Context(), c.contact, client); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
