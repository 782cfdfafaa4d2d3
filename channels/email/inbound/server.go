package inbound

import (
	"cmp"
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/emersion/go-smtp"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/oob-relay/relay/channels/email"
	"github.com/oob-relay/relay/relay"
)

// Limits of the SMTP server, with the reason for each.
const (
	// MaxRecipients bounds RCPT TO per mail. A reply goes to one
	// incident; ten leaves room for a reply-all that names several
	// relay addresses without letting one mail fan out widely.
	MaxRecipients = 10
	// ReadTimeout bounds the wait for a command and for a whole DATA
	// upload (go-smtp sets the deadline once per command). RFC 5321
	// section 4.5.3.2 asks servers to wait five minutes for commands.
	ReadTimeout = 5 * time.Minute
	// WriteTimeout bounds writing one reply to a client that stopped
	// reading.
	WriteTimeout = time.Minute
	// ReceiveTimeout bounds one Receiver.Receive call, well inside the
	// ten minutes a client waits for the reply to DATA.
	ReceiveTimeout = 30 * time.Second
	// MaxLineLength bounds one line of a command or of a mail, CRLF
	// included: twice the 1,000 octets RFC 5321 section 4.5.3.1.6 lets
	// servers insist on, as go-smtp allows by default.
	MaxLineLength = 2000
	// forceGrace is how long Shutdown waits for connections to end after
	// it closed them, when its context ran out first.
	forceGrace = 5 * time.Second
)

// ErrServerClosed is returned by Serve and ListenAndServe after Shutdown.
var ErrServerClosed = errors.New("inbound: server closed")

// Options configure a Server.
type Options struct {
	// Addr is the address ListenAndServe listens on, such as ":25".
	Addr string
	// Domain is the mail domain replies are sent to: reply addresses
	// "r+<token>@<Domain>" and incident addresses "<incident>@<Domain>".
	// Recipients in other domains are refused. It is also the name the
	// server greets with.
	Domain string
	// Keys verifies reply addresses. The zero ReplyKey refuses them, so
	// only incident addresses are accepted.
	Keys email.ReplyKey
	// Receiver takes every accepted reply. Required.
	Receiver relay.Receiver
	// Lookup returns the person whose roster address email is. It is
	// given the address as written and should compare without regard to
	// case. It is called from many connections at once. Required.
	Lookup func(email string) (personID string, ok bool)
	// Incident reports whether an incident exists, for mail to
	// "<incident>@<Domain>". It is called from many connections at once.
	// Required.
	Incident func(id string) bool
	// MaxBytes bounds a mail; DefaultMaxBytes when zero.
	MaxBytes int64
	// Auth holds optional logins for bots, by username. A logged-in bot
	// posts its mail to incident addresses as itself, through Post.
	// AUTH PLAIN is offered only on connections encrypted with STARTTLS
	// or coming from the loopback interface.
	Auth map[string]Bot
	// Post posts a bot's mail to an incident: to everyone the incident's
	// messages were addressed to, or BotPost.To when it has none yet; it
	// returns an error wrapping relay.ErrNoIncident when it has neither,
	// and a *relay.FieldError when the roster does not resolve the
	// audience. It is called from many connections at once. Required
	// with Auth.
	Post func(ctx context.Context, p *BotPost) (messageID string, err error)
	// TLS, when set, offers STARTTLS.
	TLS *tls.Config
	// IncidentAddressesOff refuses mail from people to incident
	// addresses, so that people answer only through their signed reply
	// addresses; logged-in bots still post to them.
	IncidentAddressesOff bool
	// Resolver looks up the DKIM keys and the SPF and DMARC records
	// that mail from people to incident addresses is checked against;
	// net.DefaultResolver when nil.
	Resolver Resolver
	// Upstream, when its AuthservID is set, is a mail server in front of
	// the relay whose Authentication-Results are believed.
	Upstream Upstream
	// Limits bound connections, mails and logins per client and overall.
	Limits Limits
	// Registerer takes the server's metrics; nil registers them nowhere.
	Registerer prometheus.Registerer
	// Logger receives a line per accepted or refused mail, never a
	// body or a secret. Nil discards.
	Logger *slog.Logger
	// Now gives the time of an Inbound; time.Now when nil.
	Now func() time.Time
}

func (o *Options) validate() error {
	var errs []error
	bad := func(format string, args ...any) {
		errs = append(errs, fmt.Errorf("inbound: "+format, args...))
	}
	if o.Domain == "" || strings.ContainsAny(o.Domain, " \t\r\n@<>") {
		bad("Domain %q must be a mail domain such as relay.example.com", o.Domain)
	}
	if o.Receiver == nil {
		bad("Receiver is required")
	}
	if o.Lookup == nil {
		bad("Lookup is required")
	}
	if o.Incident == nil {
		bad("Incident is required")
	}
	if o.MaxBytes < 0 {
		bad("MaxBytes must not be negative")
	}
	if o.Limits.MaxConnections < 0 || o.Limits.MaxConnectionsPerIP < 0 || o.Limits.MessagesPerMinute < 0 {
		bad("Limits must not be negative")
	}
	if o.Upstream.AuthservID != "" && len(o.Upstream.Networks) == 0 {
		bad("Upstream %q has no Networks", o.Upstream.AuthservID)
	}
	for user, b := range o.Auth {
		if user == "" || strings.ContainsAny(user, "\x00\r\n") {
			bad("Auth has a username %q that is empty or holds NUL, CR or LF", user)
		}
		if b.Password.IsZero() {
			bad("Auth user %q has no password", user)
		}
		for _, t := range b.To {
			if msg := relay.CheckTarget(t); msg != "" {
				bad("Auth user %q: To %q %s", user, t, msg)
			}
		}
		if b.Severity != "" && !b.Severity.Valid() {
			bad("Auth user %q: Severity %q must be one of critical, warning and info", user, b.Severity)
		}
	}
	if len(o.Auth) > 0 && o.Post == nil {
		bad("Post is required with Auth")
	}
	return errors.Join(errs...)
}

// Server is an SMTP server that takes replies to incident mail and hands
// them to a relay.Receiver. Its methods are safe for concurrent use.
type Server struct {
	opts    Options
	log     *slog.Logger
	srv     *smtp.Server
	metrics *metrics
	// login checks a bot's credentials; a func so that neither fmt nor a
	// debugger's print of the Server shows them.
	login func(user, password string) bool
	// bots are the logins' identities, by username, without passwords.
	bots map[string]*bot
	// loopback reports whether a client address may use AUTH without TLS.
	loopback       func(net.Addr) bool
	authConfigured bool
	clients        *clients
	// sleep waits before answering a failed login; it returns early
	// when the server stops.
	sleep func(time.Duration)
	stop  chan struct{} // closed when Shutdown begins

	ctx    context.Context // ends Receive calls when Shutdown gives up waiting
	cancel context.CancelFunc

	mu        sync.Mutex
	listeners []net.Listener
	draining  atomic.Bool
	conns     map[*trackedConn]struct{}
	connsDone sync.WaitGroup
}

// New returns a Server for opts. It does not listen; call Serve or
// ListenAndServe.
func New(opts Options) (*Server, error) {
	if err := opts.validate(); err != nil {
		return nil, err
	}
	if opts.MaxBytes == 0 {
		opts.MaxBytes = DefaultMaxBytes
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Resolver == nil {
		opts.Resolver = net.DefaultResolver
	}
	reg := opts.Registerer
	if reg == nil {
		reg = prometheus.NewRegistry()
	}
	m, err := newMetrics(reg)
	if err != nil {
		return nil, err
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	opts.Domain = strings.ToLower(opts.Domain)
	opts.Limits.setDefaults()
	bots := make(map[string]*bot, len(opts.Auth))
	for u, b := range opts.Auth {
		bots[u] = &bot{name: cmp.Or(b.Name, u), to: slices.Clone(b.To), severity: b.Severity}
	}
	s := &Server{
		opts:           opts,
		log:            log,
		metrics:        m,
		login:          loginChecker(opts.Auth),
		loopback:       isLoopback,
		authConfigured: len(opts.Auth) > 0,
		bots:           bots,
		clients:        newClients(opts.Limits, opts.Now),
		stop:           make(chan struct{}),
		conns:          map[*trackedConn]struct{}{},
	}
	s.sleep = s.pause
	s.ctx, s.cancel = context.WithCancel(context.Background())
	// The passwords now live only in the checker.
	s.opts.Auth = nil

	srv := smtp.NewServer(&backend{s: s})
	srv.Domain = opts.Domain
	srv.MaxMessageBytes = opts.MaxBytes
	srv.MaxRecipients = MaxRecipients
	srv.MaxLineLength = MaxLineLength
	srv.ReadTimeout = ReadTimeout
	srv.WriteTimeout = WriteTimeout
	srv.TLSConfig = opts.TLS
	// Sessions decide per connection whether AUTH is offered.
	srv.AllowInsecureAuth = true
	srv.ErrorLog = slogPrinter{log}
	s.srv = srv
	return s, nil
}

// loginChecker returns a function that checks a username and password in
// time that does not depend on how much of the password is right.
func loginChecker(auth map[string]Bot) func(user, password string) bool {
	sums := make(map[string][32]byte, len(auth))
	for user, b := range auth {
		sums[user] = sha256.Sum256([]byte(b.Password.Reveal()))
	}
	return func(user, password string) bool {
		want, ok := sums[user]
		got := sha256.Sum256([]byte(password))
		return subtle.ConstantTimeCompare(got[:], want[:]) == 1 && ok
	}
}

func isLoopback(a net.Addr) bool {
	tcp, ok := a.(*net.TCPAddr)
	return ok && tcp.IP.IsLoopback()
}

// Serve accepts SMTP connections on l until Shutdown, and then returns
// ErrServerClosed. Any other error ends serving too and is returned.
func (s *Server) Serve(l net.Listener) error {
	tl := &trackingListener{Listener: l, s: s}
	s.mu.Lock()
	if s.draining.Load() {
		s.mu.Unlock()
		l.Close()
		return ErrServerClosed
	}
	s.listeners = append(s.listeners, tl)
	s.mu.Unlock()
	s.log.Info("email: inbound SMTP server listening", "addr", l.Addr().String(), "domain", s.opts.Domain,
		"starttls", s.opts.TLS != nil, "reply_addresses", !s.opts.Keys.IsZero())
	err := s.srv.Serve(tl)
	if s.draining.Load() {
		return ErrServerClosed
	}
	return err
}

// ListenAndServe listens on Options.Addr and serves until Shutdown.
func (s *Server) ListenAndServe() error {
	if s.opts.Addr == "" {
		return errors.New("inbound: Options.Addr is empty")
	}
	l, err := net.Listen("tcp", s.opts.Addr)
	if err != nil {
		return fmt.Errorf("inbound: %w", err)
	}
	return s.Serve(l)
}

// Addr returns the address of the first listener Serve was given, or nil
// before there is one.
func (s *Server) Addr() net.Addr {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.listeners) == 0 {
		return nil
	}
	return s.listeners[0].Addr()
}

// Shutdown stops accepting connections, lets every mail under way finish
// and closes each connection when it is idle, answering a client waiting
// for its next command with 421. When ctx ends first, it cancels the
// Receive calls under way, closes every connection and returns ctx's
// error.
func (s *Server) Shutdown(ctx context.Context) error {
	s.mu.Lock()
	if s.draining.Swap(true) {
		s.mu.Unlock()
		return ErrServerClosed
	}
	close(s.stop)
	listeners := s.listeners
	idle := make([]*trackedConn, 0, len(s.conns))
	for c := range s.conns {
		idle = append(idle, c)
	}
	s.mu.Unlock()

	for _, l := range listeners {
		l.Close()
	}
	for _, c := range idle {
		c.wakeIfIdle()
	}
	err := s.srv.Shutdown(ctx)
	if err == nil || errors.Is(err, net.ErrClosed) {
		s.cancel()
		return nil
	}
	// ctx ran out: abort what is left.
	s.cancel()
	s.mu.Lock()
	for c := range s.conns {
		c.Conn.Close()
	}
	s.mu.Unlock()
	done := make(chan struct{})
	go func() {
		s.connsDone.Wait()
		close(done)
	}()
	t := time.NewTimer(forceGrace)
	defer t.Stop()
	select {
	case <-done:
	case <-t.C:
		s.log.Warn("email: inbound connections did not end after being closed")
	}
	return err
}

// pause waits d, or until the server stops.
func (s *Server) pause(d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-s.stop:
	}
}

// slogPrinter adapts go-smtp's error log to slog.
type slogPrinter struct{ log *slog.Logger }

func (p slogPrinter) Printf(format string, v ...any) {
	p.log.Warn("email: inbound SMTP server error", "detail", fmt.Sprintf(format, v...))
}

func (p slogPrinter) Println(v ...any) {
	p.log.Warn("email: inbound SMTP server error", "detail", fmt.Sprint(v...))
}
