package mailsink

import (
	"crypto/subtle"
	"io"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
)

var errAuthRequired = &smtp.SMTPError{Code: 530, EnhancedCode: smtp.EnhancedCode{5, 7, 0}, Message: "Authentication required"}

// backend makes a session per connection (and again after STARTTLS).
type backend struct{ sink *Sink }

func (b *backend) NewSession(c *smtp.Conn) (smtp.Session, error) {
	if err := b.sink.fault(c, StageHello); err != nil {
		return nil, err
	}
	s := &session{sink: b.sink, conn: c}
	if b.sink.opts.Username != "" {
		return &authSession{s}, nil
	}
	return s, nil
}

// session records one SMTP transaction at a time.
type session struct {
	sink *Sink
	conn *smtp.Conn
	user string // authenticated user, empty before AUTH
	from string
	to   []string
}

func (s *session) Reset() {
	s.from, s.to = "", nil
}

func (s *session) Logout() error { return nil }

func (s *session) Mail(from string, _ *smtp.MailOptions) error {
	if s.sink.opts.Username != "" && s.user == "" {
		return errAuthRequired
	}
	if err := s.sink.fault(s.conn, StageMail); err != nil {
		return err
	}
	s.from = from
	return nil
}

func (s *session) Rcpt(to string, _ *smtp.RcptOptions) error {
	if err := s.sink.fault(s.conn, StageRcpt); err != nil {
		return err
	}
	if reply, ok := s.sink.rejectedRecipient(to); ok {
		return reply
	}
	s.to = append(s.to, to)
	return nil
}

func (s *session) Data(r io.Reader) error {
	raw, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	if err := s.sink.fault(s.conn, StageData); err != nil {
		return err
	}
	_, secure := s.conn.TLSConnectionState()
	m := parse(raw)
	m.Envelope = Envelope{From: s.from, To: append([]string(nil), s.to...)}
	m.TLS, m.User, m.Hello = secure, s.user, s.conn.Hostname()
	s.sink.record(m)
	return nil
}

// authSession is a session that offers and requires AUTH PLAIN.
type authSession struct{ *session }

func (s *authSession) AuthMechanisms() []string { return []string{sasl.Plain} }

func (s *authSession) Auth(mech string) (sasl.Server, error) {
	if mech != sasl.Plain {
		return nil, smtp.ErrAuthUnknownMechanism
	}
	return sasl.NewPlainServer(func(identity, username, password string) error {
		want := s.sink.opts
		okUser := subtle.ConstantTimeCompare([]byte(username), []byte(want.Username)) == 1
		okPass := subtle.ConstantTimeCompare([]byte(password), []byte(want.Password)) == 1
		if !okUser || !okPass || (identity != "" && identity != username) {
			return smtp.ErrAuthFailed
		}
		s.user = username
		return nil
	}), nil
}
