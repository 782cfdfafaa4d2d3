package email

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/mail"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"

	"github.com/oob-relay/relay/relay"
	"github.com/oob-relay/relay/relay/secret"
)

// Options are a Sender's collaborators.
type Options struct {
	// Logger receives debug lines about attempts and warnings about unsafe
	// settings. Nil discards.
	Logger *slog.Logger
	// RootCAs, when set, is trusted instead of ca_file and the system
	// roots (for an in-process server with a generated certificate).
	RootCAs *x509.CertPool
	// ReplyTo, when set, gives the Reply-To address of a delivery, or nil
	// for none.
	ReplyTo func(out *relay.Outgoing) *mail.Address
}

// Sender delivers email through one smarthost. It is safe for concurrent
// use; every Send opens its own connection.
type Sender struct {
	cfg Config // with the password moved to password
	// password hides the value from reflection (fmt's %+v of a Sender).
	password func() string
	from     *mail.Address
	tls      *tls.Config // nil for TLSNone
	log      *slog.Logger
	replyTo  func(*relay.Outgoing) *mail.Address
}

var _ relay.Sender = (*Sender)(nil)

// New returns a Sender for cfg. It applies cfg's defaults, validates it
// and reads ca_file; call cfg.ResolveSecrets first when the password comes
// from the environment or a file.
func New(cfg Config, opts Options) (*Sender, error) {
	cfg.SetDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.PasswordEnv != "" || cfg.PasswordFile != "" {
		return nil, errors.New("password: password_env and password_file must be resolved (Config.ResolveSecrets) before New")
	}
	from, err := parseFrom(cfg.From)
	if err != nil {
		return nil, fmt.Errorf("from: %q %v", cfg.From, err)
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	pw := cfg.Password
	cfg.Password = secret.String{}
	s := &Sender{cfg: cfg, password: pw.Reveal, from: from, log: log, replyTo: opts.ReplyTo}
	if cfg.TLS != TLSNone {
		if s.tls, err = tlsConfig(&cfg, opts.RootCAs); err != nil {
			return nil, err
		}
	}
	host, _, _ := net.SplitHostPort(cfg.Address)
	if cfg.InsecureSkipVerify {
		log.Warn("email: server certificates are not verified", "address", cfg.Address)
	}
	if cfg.TLS == TLSNone && cfg.Username != "" && !relay.LoopbackHost(host) {
		log.Warn("email: credentials are sent unencrypted to a host that is not loopback", "address", cfg.Address)
	}
	return s, nil
}

func tlsConfig(cfg *Config, roots *x509.CertPool) (*tls.Config, error) {
	name := cfg.TLSServerName
	if name == "" {
		name, _, _ = net.SplitHostPort(cfg.Address)
	}
	tc := &tls.Config{ServerName: name, MinVersion: tls.VersionTLS12, InsecureSkipVerify: cfg.InsecureSkipVerify}
	switch {
	case roots != nil:
		tc.RootCAs = roots
	case cfg.CAFile != "":
		pem, err := os.ReadFile(cfg.CAFile)
		if err != nil {
			var pe *os.PathError
			if errors.As(err, &pe) {
				err = pe.Err
			}
			return nil, fmt.Errorf("ca_file: cannot read %s: %v", cfg.CAFile, err)
		}
		tc.RootCAs = x509.NewCertPool()
		if !tc.RootCAs.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("ca_file: %s holds no PEM certificate", cfg.CAFile)
		}
	}
	return tc, nil
}

// Send makes one delivery attempt: it renders the message, dials the
// smarthost, secures the connection, authenticates, and submits it. It
// returns when ctx is done; without a deadline on ctx the attempt is
// bounded by the configured timeout. The Receipt's ProviderID is the
// Message-ID without angle brackets.
//
// Failures are *relay.SendError:
//
//   - SMTP 4xx (421, 450, 451, 452, ...): temporary, ReasonProvider.
//   - SMTP 530, 534, 535, 5.7.8 and any 5xx to AUTH: permanent, ReasonAuth.
//   - SMTP 550, 551, 553 to RCPT TO, or enhanced codes 5.1.1, 5.1.2,
//     5.1.3, 5.1.6, 5.1.10, 5.2.1 anywhere: permanent, ReasonRecipient.
//   - other SMTP 5xx: permanent, ReasonRejected.
//   - the ctx deadline or the configured timeout: temporary, ReasonTimeout.
//   - refused, reset or dropped connections: temporary, ReasonNetwork.
//   - a server certificate that does not verify, a TLS handshake the
//     server refuses, a server that does not offer STARTTLS when tls is
//     starttls, no AUTH PLAIN, or credentials that would go out
//     unencrypted: permanent, ReasonAuth. These need an operator (or are
//     an attack on the connection); the same request to the same server
//     cannot succeed, so the engine should move on to another provider
//     rather than retry.
//
// Code is the SMTP reply code when there was one. The password never
// appears in an error or a log line.
func (s *Sender) Send(ctx context.Context, out *relay.Outgoing) (relay.Receipt, error) {
	p := RenderParams{From: s.from}
	if s.replyTo != nil {
		p.ReplyTo = s.replyTo(out)
	}
	raw, err := Render(out, p)
	if err != nil {
		if errors.Is(err, errNoRecipient) {
			return relay.Receipt{}, relay.Permanent(relay.ReasonRecipient, err)
		}
		return relay.Receipt{}, relay.Permanent(relay.ReasonUnknown, err)
	}
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, s.cfg.Timeout)
		defer cancel()
	}
	id := MessageID(out.DeliveryID, domainOf(s.from.Address))
	start := time.Now()
	if err := s.submit(ctx, out.Person.Email, raw); err != nil {
		se := s.classify(ctx, err)
		s.log.Debug("email attempt failed", "delivery", out.DeliveryID, "address", s.cfg.Address,
			"reason", se.Reason, "temporary", se.Temporary, "code", se.Code, "err", se.Err, "elapsed", time.Since(start))
		return relay.Receipt{}, se
	}
	s.log.Debug("email sent", "delivery", out.DeliveryID, "message_id", id, "address", s.cfg.Address, "elapsed", time.Since(start))
	return relay.Receipt{ProviderID: id}, nil
}

// submit runs one SMTP session.
func (s *Sender) submit(ctx context.Context, rcpt string, raw []byte) error {
	c, closeConn, err := s.connect(ctx, s.cfg.TLS)
	if errors.Is(err, errNoStartTLS) && s.cfg.TLS == TLSOpportunistic {
		// go-smtp closes the connection when STARTTLS is missing, so the
		// plain session needs a second one, unless it would carry
		// credentials in the clear.
		if s.cfg.Username != "" {
			return &stepError{"AUTH", errCleartextAuth}
		}
		c, closeConn, err = s.connect(ctx, TLSNone)
	}
	if err != nil {
		return err
	}
	defer closeConn()

	if err := c.Hello(s.cfg.Hello); err != nil {
		return &stepError{"EHLO", err}
	}
	_, encrypted := c.TLSConnectionState()
	if s.cfg.Username != "" {
		if !encrypted && s.cfg.TLS != TLSNone {
			return &stepError{"AUTH", errCleartextAuth}
		}
		if !c.SupportsAuth(sasl.Plain) {
			return &stepError{"AUTH", errNoAuthPlain}
		}
		if err := c.Auth(sasl.NewPlainClient("", s.cfg.Username, s.password())); err != nil {
			return &stepError{"AUTH", err}
		}
	}
	if err := c.Mail(s.from.Address, &smtp.MailOptions{Size: int64(len(raw))}); err != nil {
		return &stepError{"MAIL FROM", err}
	}
	if err := c.Rcpt(rcpt, nil); err != nil {
		return &stepError{"RCPT TO", err}
	}
	w, err := c.Data()
	if err != nil {
		return &stepError{"DATA", err}
	}
	if _, err := w.Write(raw); err != nil {
		return &stepError{"DATA", err}
	}
	if err := w.Close(); err != nil {
		return &stepError{"DATA", err}
	}
	// The message is accepted; a failed QUIT changes nothing for it.
	if err := c.Quit(); err != nil {
		s.log.Debug("email QUIT failed after the message was accepted", "address", s.cfg.Address, "err", err)
	}
	return nil
}

// connect dials the smarthost and secures the connection as mode says.
// The connection is bounded by ctx: its deadlines never pass ctx's, and it
// is closed when ctx is done. The returned func releases it.
func (s *Sender) connect(ctx context.Context, mode TLSMode) (*smtp.Client, func(), error) {
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", s.cfg.Address)
	if err != nil {
		return nil, nil, &stepError{"dial", err}
	}
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	closeConn := func() {
		stop()
		conn.Close()
	}
	deadline, _ := ctx.Deadline()
	dc := &deadlineConn{Conn: conn, limit: deadline}
	if err := dc.SetDeadline(deadline); err != nil {
		closeConn()
		return nil, nil, &stepError{"dial", err}
	}
	var c *smtp.Client
	switch mode {
	case TLSImplicit:
		tc := tls.Client(dc, s.tls)
		if err := tc.HandshakeContext(ctx); err != nil {
			closeConn()
			return nil, nil, &stepError{"TLS handshake", err}
		}
		c = smtp.NewClient(tc)
	case TLSStartTLS, TLSOpportunistic:
		// go-smtp greets with "EHLO localhost" before STARTTLS; the
		// configured name is used once the connection is encrypted.
		c, err = smtp.NewClientStartTLS(dc, s.tls)
		if err != nil {
			closeConn()
			if strings.Contains(err.Error(), "doesn't support STARTTLS") {
				err = errNoStartTLS
			}
			return nil, nil, &stepError{"STARTTLS", err}
		}
	default:
		c = smtp.NewClient(dc)
	}
	return c, func() { c.Close(); closeConn() }, nil
}

// deadlineConn keeps every deadline go-smtp sets within limit, so its
// per-command timeouts cannot outlast the attempt's context.
type deadlineConn struct {
	net.Conn
	limit time.Time
}

func (c *deadlineConn) clamp(t time.Time) time.Time {
	if !c.limit.IsZero() && (t.IsZero() || t.After(c.limit)) {
		return c.limit
	}
	return t
}

func (c *deadlineConn) SetDeadline(t time.Time) error     { return c.Conn.SetDeadline(c.clamp(t)) }
func (c *deadlineConn) SetReadDeadline(t time.Time) error { return c.Conn.SetReadDeadline(c.clamp(t)) }
func (c *deadlineConn) SetWriteDeadline(t time.Time) error {
	return c.Conn.SetWriteDeadline(c.clamp(t))
}

// stepError names the SMTP step an error happened in.
type stepError struct {
	step string
	err  error
}

func (e *stepError) Error() string {
	if r, ok := e.err.(*smtp.SMTPError); ok {
		reply := strconv.Itoa(r.Code)
		if r.EnhancedCode != smtp.EnhancedCodeNotSet && r.EnhancedCode != smtp.NoEnhancedCode {
			reply += fmt.Sprintf(" %d.%d.%d", r.EnhancedCode[0], r.EnhancedCode[1], r.EnhancedCode[2])
		}
		return e.step + ": server replied " + reply + " " + r.Message
	}
	return e.step + ": " + e.err.Error()
}
func (e *stepError) Unwrap() error { return e.err }

var (
	errNoStartTLS    = errors.New("server does not offer STARTTLS, which tls: starttls requires")
	errCleartextAuth = errors.New("refusing to send credentials over an unencrypted connection (the server offered no STARTTLS)")
	errNoAuthPlain   = errors.New("server does not offer AUTH PLAIN")
)
