package inbound

import (
	"errors"
	"log/slog"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"

	"github.com/oob-relay/relay/internal/testkit"
)

// refusedAtConnect checks that a new connection is answered 421 4.7.0.
func refusedAtConnect(t *testing.T, addr string) {
	t.Helper()
	c, err := smtp.Dial(addr)
	if err == nil {
		err = c.Hello("mx.example.com") // the client reads the greeting here
		c.Close()
	}
	var reply *smtp.SMTPError
	if !errors.As(err, &reply) || reply.Code != 421 || reply.EnhancedCode != (smtp.EnhancedCode{4, 7, 0}) {
		t.Fatalf("connection over the limit: %v, want 421 4.7.0", err)
	}
}

func TestConnectionCaps(t *testing.T) {
	t.Run("per client", func(t *testing.T) {
		ts := startServer(t, func(o *Options) { o.Limits.MaxConnectionsPerIP = 2 })
		a, _ := dial(t, ts.addr), dial(t, ts.addr)
		refusedAtConnect(t, ts.addr)
		// The connections served are not disturbed, and one that ends
		// makes room.
		if err := a.Quit(); err != nil {
			t.Fatal(err)
		}
		testkit.Eventually(t, 10*time.Second, "a connection to be served again", func() bool {
			c, err := smtp.Dial(ts.addr)
			if err == nil {
				err = c.Hello("mx.example.com")
				c.Close()
			}
			return err == nil
		})
	})
	t.Run("overall", func(t *testing.T) {
		ts := startServer(t, func(o *Options) { o.Limits.MaxConnections = 3 })
		for range 3 {
			dial(t, ts.addr)
		}
		refusedAtConnect(t, ts.addr)
	})
	t.Run("trusted upstream held only overall", func(t *testing.T) {
		ts := startServer(t, func(o *Options) {
			o.Limits.MaxConnections, o.Limits.MaxConnectionsPerIP = 3, 1
			o.Upstream = Upstream{AuthservID: "gw.example.net", Networks: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}}
		})
		for range 3 {
			dial(t, ts.addr)
		}
		refusedAtConnect(t, ts.addr)
	})
}

// sleeps records the waits a Server asks for instead of waiting.
type sleeps struct {
	mu  sync.Mutex
	got []time.Duration
}

func (s *sleeps) sleep(d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.got = append(s.got, d)
}

func (s *sleeps) take() []time.Duration {
	s.mu.Lock()
	defer s.mu.Unlock()
	got := s.got
	s.got = nil
	return got
}

// TestLoginFailureDelays: every failed AUTH of a client waits twice as
// long as its last before the 535 is answered, across connections; the
// failures are logged with the client's address, at most once a minute,
// and never with the password.
func TestLoginFailureDelays(t *testing.T) {
	const guess = "guess-Pw-91-never-in-logs"
	var logs testkit.LogBuffer
	clock := testkit.NewClock(receivedAt)
	slept := &sleeps{}
	ts := startServer(t, func(o *Options) {
		withBot(o)
		o.Now = clock.Now
		o.Logger = slog.New(slog.NewJSONHandler(&logs, nil))
	}, func(s *Server) { s.sleep = slept.sleep })

	var want []time.Duration
	for conn := range 2 {
		c := dial(t, ts.addr)
		for range 4 {
			err := c.Auth(sasl.NewPlainClient("", botUser, guess))
			var reply *smtp.SMTPError
			if !errors.As(err, &reply) || reply.Code != 535 {
				t.Fatalf("wrong password: %v, want 535", err)
			}
		}
		if conn == 0 {
			want = append(want, time.Second, 2*time.Second, 4*time.Second, 8*time.Second)
		} else {
			want = append(want, 16*time.Second, 30*time.Second, 30*time.Second, 30*time.Second)
		}
	}
	if got := slept.take(); !equalDurations(got, want) {
		t.Fatalf("waits %v, want %v", got, want)
	}
	lines := loginLines(logs.String())
	if len(lines) != 1 || !strings.Contains(lines[0], `"remote":"127.0.0.1:`) || !strings.Contains(lines[0], `"user":"monitor"`) {
		t.Fatalf("log lines of failed logins within a minute: %q, want one naming the client", lines)
	}
	// A minute on, the next failure is logged with the count held back;
	// a password typed as the user name is not logged either.
	clock.Add(time.Minute)
	c := dial(t, ts.addr)
	if err := c.Auth(sasl.NewPlainClient("", guess, guess)); err == nil {
		t.Fatal("a wrong login succeeded")
	}
	lines = loginLines(logs.String())
	if len(lines) != 2 || !strings.Contains(lines[1], `"not_logged":7`) || !strings.Contains(lines[1], `"user":""`) {
		t.Fatalf("log lines %q, want a second one with not_logged 7 and no user", lines)
	}
	if strings.Contains(logs.String(), guess) || strings.Contains(logs.String(), botPassword) {
		t.Fatal("a password reached the log")
	}
	// The right password is still taken, and forgets the failures.
	slept.take()
	if err := c.Auth(sasl.NewPlainClient("", botUser, botPassword)); err != nil {
		t.Fatal(err)
	}
	c2 := dial(t, ts.addr)
	c2.Auth(sasl.NewPlainClient("", botUser, guess))
	if got := slept.take(); !equalDurations(got, []time.Duration{time.Second}) {
		t.Fatalf("wait after a good login and a failure: %v, want 1s", got)
	}
	// Failures are forgotten a while after the last.
	clock.Add(authMemory + time.Second)
	c2.Auth(sasl.NewPlainClient("", botUser, guess))
	if got := slept.take(); !equalDurations(got, []time.Duration{time.Second}) {
		t.Fatalf("wait long after the last failure: %v, want 1s", got)
	}
}

func equalDurations(a, b []time.Duration) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func loginLines(log string) []string {
	var out []string
	for _, l := range strings.Split(log, "\n") {
		if strings.Contains(l, `"msg":"email login refused"`) {
			out = append(out, l)
		}
	}
	return out
}

// TestMailRate: a client may start MessagesPerMinute mails a minute; more
// are refused for now at MAIL FROM, and taken again as the minute goes on.
func TestMailRate(t *testing.T) {
	clock := testkit.NewClock(receivedAt)
	ts := startServer(t, func(o *Options) {
		o.Limits.MessagesPerMinute = 3
		o.Now = clock.Now
	})
	c := dial(t, ts.addr)
	to := "db-outage@" + domain
	for range 3 {
		if err := send(c, "kim@example.com", []string{to}, mailBytes("kim@example.com", to, "", "update\n")); err != nil {
			t.Fatal(err)
		}
	}
	err := send(c, "kim@example.com", []string{to}, mailBytes("kim@example.com", to, "", "update\n"))
	wantRefused(t, err, "MAIL", 450, smtp.EnhancedCode{4, 7, 1})
	// Another connection from the same client is held to the same rate.
	err = send(dial(t, ts.addr), "kim@example.com", []string{to}, mailBytes("kim@example.com", to, "", "update\n"))
	wantRefused(t, err, "MAIL", 450, smtp.EnhancedCode{4, 7, 1})
	clock.Add(20 * time.Second) // one mail's share of a minute
	if err := send(c, "kim@example.com", []string{to}, mailBytes("kim@example.com", to, "", "update\n")); err != nil {
		t.Fatalf("after 20 s: %v", err)
	}
	if n := len(ts.rec.inbounds()); n != 4 {
		t.Fatalf("received %d, want 4", n)
	}
}

func TestClientKey(t *testing.T) {
	for _, tc := range []struct{ a, b string }{
		{"192.0.2.1", "::ffff:192.0.2.1"},
		{"2001:db8:1:2::1", "2001:db8:1:2:ffff::9"},
	} {
		if clientKey(netip.MustParseAddr(tc.a)) != clientKey(netip.MustParseAddr(tc.b)) {
			t.Errorf("%s and %s are different clients", tc.a, tc.b)
		}
	}
	if clientKey(netip.MustParseAddr("2001:db8:1:2::1")) == clientKey(netip.MustParseAddr("2001:db8:1:3::1")) {
		t.Error("two /64s are one client")
	}
}
