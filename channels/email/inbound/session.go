package inbound

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"slices"
	"strings"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"

	"github.com/oob-relay/relay/channels/email"
	"github.com/oob-relay/relay/relay"
)

// Refusals, with the reply code each maps to.
var (
	errUnknownDomain = &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 1, 1},
		Message: "No such mailbox: not a mail domain of this relay"}
	errNoMailbox = &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 1, 1},
		Message: "No such mailbox"}
	errNoIncident = &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 1, 1},
		Message: "No such incident"}
	errBadToken = &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 7, 1},
		Message: "Reply address does not verify"}
	errOtherPerson = &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 7, 1},
		Message: "Reply address belongs to another sender"}
	errUnknownSender = &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 7, 1},
		Message: "Sender is not on the roster"}
	errFromMismatch = &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 7, 1},
		Message: "From header and envelope sender are different people"}
	errIncidentAddressesOff = &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 7, 1},
		Message: "Incident addresses take no mail from people here: answer to the reply address of the mail you got"}
	errSenderCheckLater = &smtp.SMTPError{Code: 451, EnhancedCode: smtp.EnhancedCode{4, 4, 3},
		Message: "The sender's DKIM and SPF records cannot be looked up now, try again later"}
	errTooLarge = &smtp.SMTPError{Code: 552, EnhancedCode: smtp.EnhancedCode{5, 3, 4},
		Message: "Message too big"}
	errLineTooLong = &smtp.SMTPError{Code: 500, EnhancedCode: smtp.EnhancedCode{5, 5, 0},
		Message: fmt.Sprintf("Line too long: a line of mail may hold at most %d octets (RFC 5322 allows 998)", MaxLineLength)}
	errTemporary = &smtp.SMTPError{Code: 451, EnhancedCode: smtp.EnhancedCode{4, 3, 0},
		Message: "Temporary failure, try again later"}
	errEncryptionRequired = &smtp.SMTPError{Code: 538, EnhancedCode: smtp.EnhancedCode{5, 7, 11},
		Message: "Encryption required for requested authentication mechanism"}
)

// errNotAuthenticated is the 550 5.7.26 refusal (RFC 7372: multiple
// authentication checks failed) of mail whose From domain neither DKIM
// nor SPF vouches for; the text says why, as DMARC reports would.
func errNotAuthenticated(fromDomain string, reasons []string) *smtp.SMTPError {
	msg := fmt.Sprintf("The From domain %s is not authenticated: %s", clip(fromDomain), strings.Join(reasons, "; "))
	if len(msg) > 400 {
		msg = msg[:400] + "…"
	}
	return &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 7, 26}, Message: strings.ToValidUTF8(msg, "")}
}

// errTooMuchMail is the 450 4.7.1 refusal of a mail over its client's
// rate, as Postfix answers.
func errTooMuchMail(ip netip.Addr) *smtp.SMTPError {
	return &smtp.SMTPError{Code: 450, EnhancedCode: smtp.EnhancedCode{4, 7, 1},
		Message: fmt.Sprintf("Too much mail from %s, try again later", ip)}
}

// errBadMessage is the 554 5.6.0 refusal of a message that does not parse;
// the text says what is wrong without quoting the message.
func errBadMessage(err error) *smtp.SMTPError {
	return &smtp.SMTPError{Code: 554, EnhancedCode: smtp.EnhancedCode{5, 6, 0},
		Message: "Message refused: " + strings.ReplaceAll(err.Error(), "\n", " ")}
}

type backend struct{ s *Server }

// NewSession starts a session for a connection, and again after STARTTLS.
func (b *backend) NewSession(c *smtp.Conn) (smtp.Session, error) {
	ss := &session{s: b.s, conn: c, tc: tracked(c.Conn())}
	if b.s.authConfigured {
		return &authSession{ss}, nil
	}
	return ss, nil
}

// target is one accepted recipient.
type target struct {
	addr, person, incident string
	token                  bool // a reply address, bound to person
	bot                    bool // an incident address a logged-in bot posts to
}

// session holds one mail transaction at a time.
type session struct {
	s     *Server
	conn  *smtp.Conn
	tc    *trackedConn // nil when the connection is not tracked
	login string       // the bot logged in, if any
	bot   *bot         // its identity

	from       string // MAIL FROM
	fromPerson string // the roster person of MAIL FROM, "" for none
	rcpts      []target
}

// Reset ends the transaction (after DATA, RSET or a new EHLO).
func (ss *session) Reset() {
	ss.from, ss.fromPerson, ss.rcpts = "", "", nil
	if ss.tc != nil {
		ss.tc.setBusy(false)
	}
}

func (ss *session) Logout() error {
	ss.Reset()
	return nil
}

// Mail starts a transaction and looks the envelope sender up on the
// roster; refusing is left to RCPT, which knows what the mail is for.
func (ss *session) Mail(from string, _ *smtp.MailOptions) error {
	if ip := ss.remoteIP(); !ss.s.opts.Upstream.contains(ip) && !ss.s.clients.allowMail(clientKey(ip)) {
		ss.s.metrics.mailLimited.Inc()
		if log, skipped := ss.s.clients.limited(clientKey(ip)); log {
			ss.s.log.Warn("email refused for the client's mail rate", "remote", ss.remote(), "not_logged", skipped)
		}
		return errTooMuchMail(ip)
	}
	if ss.tc != nil {
		ss.tc.setBusy(true)
	}
	ss.from, ss.fromPerson = from, ""
	if from != "" {
		if p, ok := ss.s.opts.Lookup(from); ok {
			ss.fromPerson = p
		}
	}
	return nil
}

// Rcpt accepts or refuses one recipient.
func (ss *session) Rcpt(to string, _ *smtp.RcptOptions) error {
	t, err := ss.recipient(to)
	if err != nil {
		ss.refused("RCPT", to, err)
		return err
	}
	for _, have := range ss.rcpts {
		if have.person == t.person && have.incident == t.incident {
			return nil // the same reply twice; post it once
		}
	}
	ss.rcpts = append(ss.rcpts, t)
	return nil
}

// recipient checks one RCPT TO against the domain, the reply address or
// incident, and the envelope sender.
func (ss *session) recipient(to string) (target, error) {
	opts := &ss.s.opts
	at := strings.LastIndexByte(to, '@')
	if at < 0 || !strings.EqualFold(to[at+1:], opts.Domain) {
		return target{}, errUnknownDomain
	}
	if email.IsReplyAddress(to) {
		if opts.Keys.IsZero() {
			return target{}, errNoMailbox
		}
		person, incident, err := opts.Keys.Parse(to)
		if errors.Is(err, email.ErrCompactReply) {
			// The address binds its person without carrying it: it can
			// only be checked for the sender's own person.
			if ss.fromPerson == "" {
				return target{}, errUnknownSender
			}
			person = ss.fromPerson
			incident, err = opts.Keys.ParseFor(to, person)
		}
		switch {
		case err != nil:
			return target{}, errBadToken
		case ss.fromPerson == "":
			return target{}, errUnknownSender
		case ss.fromPerson != person:
			return target{}, errOtherPerson
		}
		return target{addr: to, person: person, incident: incident, token: true}, nil
	}
	incident := strings.ToLower(to[:at])
	// A bot with an audience of its own may open an incident; anyone
	// else writes to one that exists.
	opens := ss.bot != nil && len(ss.bot.to) > 0
	if !relay.ValidID(incident) || (!opens && !opts.Incident(incident)) {
		return target{}, errNoIncident
	}
	if ss.login == "" && opts.IncidentAddressesOff {
		return target{}, errIncidentAddressesOff
	}
	if ss.fromPerson == "" && ss.login == "" {
		return target{}, errUnknownSender
	}
	if ss.bot != nil {
		return target{addr: to, incident: incident, bot: true}, nil
	}
	return target{addr: to, person: ss.fromPerson, incident: incident}, nil
}

// Data parses the mail, checks its From header and hands the reply to the
// Receiver once per accepted recipient.
func (ss *session) Data(r io.Reader) error {
	var m *Mail
	raw, err := readMessage(r, ss.s.opts.MaxBytes)
	if err == nil {
		m, err = parse(raw)
	}
	if err == nil && len(m.Text) > relay.MaxTextBytes {
		err = fmt.Errorf("%w: the reply is %d bytes of text, more than the %d a message holds", ErrTooLarge, len(m.Text), relay.MaxTextBytes)
	}
	if err == nil && slices.ContainsFunc(ss.rcpts, func(t target) bool { return t.bot }) {
		err = botTextRefusal(botText(m))
	}
	if err != nil {
		reply := parseRefusal(err)
		ss.refused("DATA", "", reply)
		return reply
	}
	// The From header must be the same person as the envelope: that is
	// what a person's mail client shows and what a reply was made for.
	hp, known := ss.s.opts.Lookup(m.From)
	if ss.login == "" && (!known || hp != ss.fromPerson) {
		reply := errUnknownSender
		if known {
			reply = errFromMismatch
		}
		ss.refused("DATA", m.From, reply)
		return reply
	}
	// Mail from a person to an incident address carries no signed token:
	// its From domain must vouch for it (DKIM or SPF, aligned).
	checked := ""
	if ss.login == "" && slices.ContainsFunc(ss.rcpts, func(t target) bool { return !t.token }) {
		c := ss.s.checkSender(ss.s.ctx, raw, m.From, ss.from, ss.conn.Hostname(), ss.remoteIP())
		ss.s.metrics.senderChecks.WithLabelValues(c.result()).Inc()
		if !c.pass {
			var reply error = errSenderCheckLater
			if !c.temp {
				d, _ := addressDomain(m.From)
				reply = errNotAuthenticated(d, c.reasons)
			}
			ss.refused("DATA", m.From, reply)
			return reply
		}
		checked = cmp.Or(c.detail, c.how)
	}
	var posted int
	var failure error
	for _, t := range ss.rcpts {
		if t.bot {
			err := ss.postAsBot(t, m, botText(m))
			if err != nil {
				failure = worse(failure, err)
				continue
			}
			posted++
			continue
		}
		in := &relay.Inbound{
			Channel: relay.ChannelEmail, From: m.From, To: t.addr, Text: m.Text,
			Person: t.person, Incident: t.incident, ID: m.MessageID, At: ss.s.opts.Now(),
			Automatic: m.AutoReply, // recorded, sent to nobody, never bounced
		}
		switch {
		case t.token && hp != t.person:
			// A logged-in bot sending a person's reply address.
			ss.refused("DATA", m.From, errFromMismatch)
			failure = worse(failure, errFromMismatch)
			continue
		case !t.token:
			in.Person = hp
		}
		if err := ss.receive(in, m, checked); err != nil {
			failure = worse(failure, err)
			continue
		}
		posted++
	}
	switch {
	case failure == errTemporary:
		// Ask for the whole mail again; replies already posted carry
		// the Message-ID, so the core takes them once.
		return failure
	case posted == 0 && failure != nil:
		return failure
	}
	return nil
}

// receive hands one reply to the Receiver and maps its error to a reply.
func (ss *session) receive(in *relay.Inbound, m *Mail, checked string) error {
	ctx, cancel := context.WithTimeout(ss.s.ctx, ReceiveTimeout)
	defer cancel()
	_, err := ss.s.opts.Receiver.Receive(ctx, in)
	log := ss.s.log.With("from", in.From, "to", in.To, "person", in.Person, "incident", in.Incident,
		"message_id", in.ID, "login", ss.login, "remote", ss.remote())
	switch {
	case err == nil:
		log.Info("email reply received", "text_bytes", len(in.Text), "html", m.FromHTML, "attachments", m.Attachments,
			"sender_check", checked)
		return nil
	case errors.Is(err, relay.ErrUnknownSender):
		log.Info("email reply refused", "reason", "unknown sender", "err", err)
		return errUnknownSender
	case errors.Is(err, relay.ErrNoIncident):
		log.Info("email reply refused", "reason", "no incident", "err", err)
		return errNoIncident
	}
	log.Warn("email reply not taken, the sender will retry", "err", err)
	return errTemporary
}

// worse returns the refusal that decides the reply to DATA: a temporary
// failure over any permanent one, else the first.
func worse(have, next error) error {
	if have == nil || next == errTemporary {
		return next
	}
	return have
}

// parseRefusal maps an error of Parse to a reply.
func parseRefusal(err error) *smtp.SMTPError {
	var se *smtp.SMTPError
	switch {
	case errors.Is(err, ErrTooLarge):
		return errTooLarge
	case errors.Is(err, smtp.ErrTooLongLine):
		// No retry can shorten the line: refuse for good, so the
		// sender bounces it at once.
		return errLineTooLong
	case errors.As(err, &se):
		return se // go-smtp's own, such as 552 for a message over its limit
	case errors.Is(err, ErrNoFrom), errors.Is(err, ErrNoText), errors.Is(err, ErrMalformed):
		return errBadMessage(err)
	}
	return errTemporary // the connection failed while reading
}

func (ss *session) refused(stage, addr string, err error) {
	code := 0
	var se *smtp.SMTPError
	if errors.As(err, &se) {
		code = se.Code
	}
	ss.s.log.Info("email refused", "stage", stage, "code", code, "reason", err.Error(),
		"mail_from", ss.from, "address", addr, "login", ss.login, "remote", ss.remote())
}

// remoteIP is the client's address, the zero Addr when it is not TCP.
func remoteIP(a net.Addr) netip.Addr {
	if tcp, ok := a.(*net.TCPAddr); ok {
		return tcp.AddrPort().Addr().Unmap()
	}
	return netip.Addr{}
}

func (ss *session) remoteIP() netip.Addr { return remoteIP(ss.conn.Conn().RemoteAddr()) }

func (ss *session) remote() string {
	if a := ss.conn.Conn().RemoteAddr(); a != nil {
		return a.String()
	}
	return ""
}

// authSession is a session that offers AUTH PLAIN to bots, on encrypted or
// loopback connections only.
type authSession struct{ *session }

func (as *authSession) authAllowed() bool {
	_, tls := as.conn.TLSConnectionState()
	return tls || as.s.loopback(as.conn.Conn().RemoteAddr())
}

func (as *authSession) AuthMechanisms() []string {
	if !as.authAllowed() {
		return nil
	}
	return []string{sasl.Plain}
}

func (as *authSession) Auth(mech string) (sasl.Server, error) {
	if !as.authAllowed() {
		return nil, errEncryptionRequired
	}
	if mech != sasl.Plain {
		return nil, smtp.ErrAuthUnknownMechanism
	}
	return sasl.NewPlainServer(func(identity, username, password string) error {
		key := clientKey(as.remoteIP())
		if (identity != "" && identity != username) || !as.s.login(username, password) {
			as.loginFailed(key, username)
			return smtp.ErrAuthFailed
		}
		as.s.clients.loginSucceeded(key)
		as.login, as.bot = username, as.s.bots[username]
		as.s.log.Info("email login", "user", username, "remote", as.remote())
		return nil
	}), nil
}

// loginFailed counts a failed login, logs it (at most once a minute per
// client, with the failures held back since), and waits longer with each
// failure of the client before the refusal is answered. The log names the
// user only when it is a configured login: what a client sends as a user
// name may be a password typed in the wrong field. The password is never
// logged.
func (as *authSession) loginFailed(key, username string) {
	s := as.s
	s.metrics.loginFailures.Inc()
	delay, fails, log, skipped := s.clients.loginFailed(key)
	if log {
		user := ""
		if s.bots[username] != nil {
			user = username
		}
		s.log.Warn("email login refused", "remote", as.remote(), "user", user, "known_user", user != "",
			"failures", fails, "not_logged", skipped, "delay", delay)
	}
	s.sleep(delay)
}
