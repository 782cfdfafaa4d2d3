package inbound

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-smtp"
	"go.uber.org/goleak"

	"github.com/oob-relay/relay/channels/email"
	"github.com/oob-relay/relay/internal/testkit"
	"github.com/oob-relay/relay/relay"
	"github.com/oob-relay/relay/relay/secret"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

const (
	domain    = "relay.example.com"
	keySecret = "inbound-test-reply-key-0123456789-abcdefghijklmnop"
)

var (
	// roster maps addresses to people, as the node's roster would.
	roster = map[string]string{
		"kim@example.com":  "kim",
		"park@example.com": "park",
	}
	longIncident = "storage-array-b-controller-failover" // 35 characters: compact with "kim"
	incidents    = map[string]bool{"db-outage": true, "net-down": true, longIncident: true}
	receivedAt   = time.Date(2026, 11, 24, 6, 3, 0, 0, time.UTC)
)

func testKey(t testing.TB) email.ReplyKey {
	t.Helper()
	k, err := email.NewReplyKey(secret.New(keySecret))
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func lookup(addr string) (string, bool) {
	p, ok := roster[strings.ToLower(addr)]
	return p, ok
}

// recorder is a relay.Receiver that keeps what it receives. Fail, when
// set, decides the error of each call.
type recorder struct {
	mu      sync.Mutex
	got     []relay.Inbound
	changed chan struct{}
	fail    func(ctx context.Context, in *relay.Inbound) error
}

func newRecorder() *recorder { return &recorder{changed: make(chan struct{})} }

func (r *recorder) Receive(ctx context.Context, in *relay.Inbound) (*relay.Answer, error) {
	if r.fail != nil {
		if err := r.fail(ctx, in); err != nil {
			return nil, err
		}
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.got = append(r.got, *in)
	close(r.changed)
	r.changed = make(chan struct{})
	return &relay.Answer{Incident: in.Incident}, nil
}

func (r *recorder) inbounds() []relay.Inbound {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]relay.Inbound(nil), r.got...)
}

// poster is an Options.Post that keeps what it is given. Fail, when set,
// decides the error of each call.
type poster struct {
	mu   sync.Mutex
	got  []BotPost
	fail func(p *BotPost) error
}

func (p *poster) post(_ context.Context, bp *BotPost) (string, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.fail != nil {
		if err := p.fail(bp); err != nil {
			return "", err
		}
	}
	p.got = append(p.got, *bp)
	return fmt.Sprintf("m%d", len(p.got)), nil
}

func (p *poster) posts() []BotPost {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]BotPost(nil), p.got...)
}

// testServer is a Server serving on 127.0.0.1 for one test.
type testServer struct {
	*Server
	addr  string
	rec   *recorder
	posts *poster      // what logged-in bots posted
	dns   *testkit.DNS // the server's resolver
	done  chan error   // Serve's result
}

// startServer starts a Server with the test roster, incidents and key;
// mutate may change its options first, and hooks the Server before it
// serves.
func startServer(t *testing.T, mutate func(*Options), hooks ...func(*Server)) *testServer {
	t.Helper()
	rec := newRecorder()
	// The test client sends as example.com's own mail server would: its
	// SPF record names 127.0.0.1.
	dns := testkit.StartDNS(t)
	dns.TXT("example.com", "v=spf1 ip4:127.0.0.1 -all")
	posts := &poster{}
	opts := Options{
		Post:     posts.post,
		Domain:   domain,
		Keys:     testKey(t),
		Receiver: rec,
		Lookup:   lookup,
		Incident: func(id string) bool { return incidents[id] },
		Now:      func() time.Time { return receivedAt },
		Resolver: dns.Resolver(),
	}
	if mutate != nil {
		mutate(&opts)
	}
	s, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	for _, h := range hooks {
		h(s)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ts := &testServer{Server: s, addr: l.Addr().String(), rec: rec, posts: posts, dns: dns, done: make(chan error, 1)}
	go func() { ts.done <- s.Serve(l) }()
	t.Cleanup(func() { ts.stop(t) })
	return ts
}

// stop shuts the server down and checks that Serve returned as it should.
func (ts *testServer) stop(t *testing.T) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := ts.Shutdown(ctx); err != nil && !errors.Is(err, ErrServerClosed) {
		t.Errorf("Shutdown: %v", err)
	}
	select {
	case err := <-ts.done:
		if !errors.Is(err, ErrServerClosed) {
			t.Errorf("Serve returned %v, want ErrServerClosed", err)
		}
		ts.done <- err // for a second stop
	case <-ctx.Done():
		t.Error("Serve did not return after Shutdown")
	}
}

// dial opens an SMTP client session that says EHLO.
func dial(t *testing.T, addr string) *smtp.Client {
	t.Helper()
	c, err := smtp.Dial(addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	if err := c.Hello("mx.example.com"); err != nil {
		t.Fatal(err)
	}
	return c
}

// sendErr is a failed step of a mail transaction.
type sendErr struct {
	stage string
	err   error
}

func (e *sendErr) Error() string { return e.stage + ": " + e.err.Error() }
func (e *sendErr) Unwrap() error { return e.err }

// send runs one mail transaction on c: MAIL FROM, every RCPT TO, DATA.
func send(c *smtp.Client, from string, to []string, raw []byte) error {
	if err := c.Mail(from, nil); err != nil {
		return &sendErr{"MAIL", err}
	}
	for _, rcpt := range to {
		if err := c.Rcpt(rcpt, nil); err != nil {
			return &sendErr{"RCPT", err}
		}
	}
	w, err := c.Data()
	if err != nil {
		return &sendErr{"DATA", err}
	}
	if _, err := w.Write(raw); err != nil {
		return &sendErr{"DATA", err}
	}
	if err := w.Close(); err != nil {
		return &sendErr{"DATA", err}
	}
	return nil
}

// sendOne sends one mail on a new connection and quits.
func sendOne(t *testing.T, addr, from string, to []string, raw []byte) error {
	t.Helper()
	c := dial(t, addr)
	err := send(c, from, to, raw)
	if err == nil {
		if qerr := c.Quit(); qerr != nil {
			t.Errorf("QUIT: %v", qerr)
		}
	}
	return err
}

// wantRefused checks that err is the SMTP reply code and enhanced code at
// stage.
func wantRefused(t *testing.T, err error, stage string, code int, enhanced smtp.EnhancedCode) {
	t.Helper()
	var se *sendErr
	var reply *smtp.SMTPError
	if !errors.As(err, &se) || !errors.As(err, &reply) {
		t.Fatalf("got %v, want %d %d.%d.%d at %s", err, code, enhanced[0], enhanced[1], enhanced[2], stage)
	}
	if se.stage != stage || reply.Code != code || reply.EnhancedCode != enhanced {
		t.Fatalf("got %d %v %q at %s, want %d %v at %s", reply.Code, reply.EnhancedCode, reply.Message, se.stage,
			code, enhanced, stage)
	}
}

// mailBytes is a small UTF-8 plain text mail with CRLF line endings.
func mailBytes(from, to, id, body string) []byte {
	var b strings.Builder
	fmt.Fprintf(&b, "From: %s\r\nTo: %s\r\nSubject: Re: incident\r\n", from, to)
	if id != "" {
		fmt.Fprintf(&b, "Message-ID: <%s>\r\n", id)
	}
	b.WriteString("MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n")
	b.WriteString(strings.ReplaceAll(body, "\n", "\r\n"))
	return []byte(b.String())
}
