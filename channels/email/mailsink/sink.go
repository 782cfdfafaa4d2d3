// Package mailsink is an in-process SMTP server that keeps every mail it
// receives. Tests use it as the far end of the email channel and script
// its failures (rejections, unknown mailboxes, stalls, dropped
// connections); `relay dev` uses it as its local mail server and prints
// what arrives.
//
// A Sink speaks real SMTP (go-smtp) on a TCP port, optionally with
// STARTTLS or implicit TLS and AUTH PLAIN, and parses each mail with
// go-message so callers can compare decoded headers and bodies.
package mailsink

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"slices"
	"sync"
	"time"

	"github.com/emersion/go-smtp"
)

// DefaultMaxMessageBytes bounds a mail when Options.MaxMessageBytes is zero.
const DefaultMaxMessageBytes = 10 << 20

// Options configure a Sink.
type Options struct {
	// Addr is the address to listen on; "127.0.0.1:0" when empty.
	Addr string
	// TLS enables STARTTLS, or TLS from the first byte with ImplicitTLS.
	// SelfSigned makes one for 127.0.0.1 and localhost.
	TLS         *tls.Config
	ImplicitTLS bool
	// Username and Password, when set, require AUTH PLAIN with them
	// before MAIL FROM. Without TLS, AUTH is offered on the plain
	// connection; with TLS only once it is encrypted.
	Username string
	Password string
	// MaxMessageBytes bounds a mail; DefaultMaxMessageBytes when zero.
	MaxMessageBytes int64
	// Logger receives the server's errors. Nil discards.
	Logger *slog.Logger
	// OnMail, when set, is called with every mail received, after it is
	// recorded and before the client gets its reply. It runs on the
	// connection's goroutine and may be called concurrently.
	OnMail func(Mail)
}

func (o *Options) validate() error {
	var errs []error
	if o.ImplicitTLS && o.TLS == nil {
		errs = append(errs, errors.New("mailsink: ImplicitTLS needs a TLS configuration"))
	}
	if (o.Username == "") != (o.Password == "") {
		errs = append(errs, errors.New("mailsink: set both Username and Password, or neither"))
	}
	if o.MaxMessageBytes < 0 {
		errs = append(errs, errors.New("mailsink: MaxMessageBytes must not be negative"))
	}
	return errors.Join(errs...)
}

// Sink is a running SMTP server that records mail. Its methods are safe
// for concurrent use.
type Sink struct {
	opts   Options
	srv    *smtp.Server
	ln     *trackingListener
	served chan struct{}
	done   chan struct{}
	close  sync.Once

	mu      sync.Mutex
	mails   []Mail
	changed chan struct{} // closed and replaced when a mail arrives
	faults  faults
}

// Start listens on opts.Addr and serves SMTP until Close.
func Start(opts Options) (*Sink, error) {
	if err := opts.validate(); err != nil {
		return nil, err
	}
	if opts.Addr == "" {
		opts.Addr = "127.0.0.1:0"
	}
	if opts.MaxMessageBytes == 0 {
		opts.MaxMessageBytes = DefaultMaxMessageBytes
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	l, err := net.Listen("tcp", opts.Addr)
	if err != nil {
		return nil, fmt.Errorf("mailsink: %w", err)
	}
	s := &Sink{
		opts:    opts,
		ln:      &trackingListener{Listener: l, conns: map[*trackedConn]struct{}{}},
		served:  make(chan struct{}),
		done:    make(chan struct{}),
		changed: make(chan struct{}),
		faults:  newFaults(),
	}
	s.srv = smtp.NewServer(&backend{sink: s})
	s.srv.Domain = "localhost"
	s.srv.MaxMessageBytes = opts.MaxMessageBytes
	s.srv.MaxRecipients = 100
	s.srv.ReadTimeout = 5 * time.Minute
	s.srv.WriteTimeout = time.Minute
	s.srv.ErrorLog = slogPrinter{opts.Logger}
	s.srv.AllowInsecureAuth = opts.TLS == nil
	var serveOn net.Listener = s.ln
	if opts.ImplicitTLS {
		serveOn = tls.NewListener(s.ln, opts.TLS)
	} else {
		s.srv.TLSConfig = opts.TLS
	}
	go func() {
		defer close(s.served)
		_ = s.srv.Serve(serveOn)
	}()
	return s, nil
}

// Addr returns the address the sink listens on, as host:port.
func (s *Sink) Addr() string { return s.ln.Addr().String() }

// Mails returns the mails received so far, oldest first. The Mails share
// their byte slices with the sink and must not be modified.
func (s *Sink) Mails() []Mail {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.mails)
}

// WaitMails returns the mails received once there are at least n, or an
// error when ctx is done or the sink is closed first.
func (s *Sink) WaitMails(ctx context.Context, n int) ([]Mail, error) {
	for {
		s.mu.Lock()
		if len(s.mails) >= n {
			out := slices.Clone(s.mails)
			s.mu.Unlock()
			return out, nil
		}
		have, changed := len(s.mails), s.changed
		s.mu.Unlock()
		select {
		case <-changed:
		case <-ctx.Done():
			return s.Mails(), fmt.Errorf("mailsink: %d of %d mails received: %w", have, n, ctx.Err())
		case <-s.done:
			return s.Mails(), fmt.Errorf("mailsink: closed with %d of %d mails received", have, n)
		}
	}
}

// Close stops the server, drops every connection (ending any stall) and
// waits for the connections' goroutines to finish.
func (s *Sink) Close() error {
	s.close.Do(func() {
		close(s.done)
		s.ln.closeAll()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		// The listener is closed already (closeAll), which Shutdown
		// reports as net.ErrClosed.
		if err := s.srv.Shutdown(ctx); err != nil && !errors.Is(err, smtp.ErrServerClosed) && !errors.Is(err, net.ErrClosed) {
			s.opts.Logger.Warn("mailsink: connections did not finish", "err", err)
		}
		<-s.served
	})
	return nil
}

func (s *Sink) record(m Mail) {
	s.mu.Lock()
	s.mails = append(s.mails, m)
	close(s.changed)
	s.changed = make(chan struct{})
	s.mu.Unlock()
	if s.opts.OnMail != nil {
		s.opts.OnMail(m)
	}
}

// trackingListener remembers accepted connections so Close can drop them
// all, including any go-smtp has not registered yet.
type trackingListener struct {
	net.Listener
	mu     sync.Mutex
	conns  map[*trackedConn]struct{}
	closed bool
}

func (l *trackingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		c.Close()
		return nil, net.ErrClosed
	}
	tc := &trackedConn{Conn: c, l: l}
	l.conns[tc] = struct{}{}
	return tc, nil
}

func (l *trackingListener) closeAll() {
	l.mu.Lock()
	l.closed = true
	conns := make([]*trackedConn, 0, len(l.conns))
	for c := range l.conns {
		conns = append(conns, c)
	}
	l.mu.Unlock()
	l.Listener.Close()
	for _, c := range conns {
		c.Conn.Close()
	}
}

type trackedConn struct {
	net.Conn
	l *trackingListener
}

func (c *trackedConn) Close() error {
	c.l.mu.Lock()
	delete(c.l.conns, c)
	c.l.mu.Unlock()
	return c.Conn.Close()
}

// slogPrinter adapts go-smtp's error log to slog.
type slogPrinter struct{ log *slog.Logger }

func (p slogPrinter) Printf(format string, v ...any) {
	p.log.Warn("mailsink: smtp server error", "detail", fmt.Sprintf(format, v...))
}

func (p slogPrinter) Println(v ...any) {
	p.log.Warn("mailsink: smtp server error", "detail", fmt.Sprint(v...))
}
