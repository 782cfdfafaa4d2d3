package email

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"syscall"

	"github.com/emersion/go-smtp"

	"github.com/oob-relay/relay/relay"
	"github.com/oob-relay/relay/relay/secret"
)

// recipientCodes are enhanced status codes (RFC 3463) that blame the
// recipient's mailbox or domain, whatever the step.
var recipientCodes = map[smtp.EnhancedCode]bool{
	{5, 1, 1}:  true, // bad destination mailbox address
	{5, 1, 2}:  true, // bad destination system address
	{5, 1, 3}:  true, // bad destination mailbox address syntax
	{5, 1, 6}:  true, // destination mailbox has moved
	{5, 1, 10}: true, // recipient address has null MX
	{5, 2, 1}:  true, // mailbox disabled
}

// classify turns a failed session into a *relay.SendError with the
// password scrubbed from its text. See Sender.Send for the table.
func (s *Sender) classify(ctx context.Context, err error) *relay.SendError {
	se := classifyErr(ctx, err)
	se.Err = s.scrub(se.Err)
	return se
}

func classifyErr(ctx context.Context, err error) *relay.SendError {
	var step string
	var stepErr *stepError
	if errors.As(err, &stepErr) {
		step = stepErr.step
	}
	var reply *smtp.SMTPError
	if errors.As(err, &reply) {
		se := classifyReply(step, reply)
		se.Err = err
		se.Code = strconv.Itoa(reply.Code)
		return se
	}
	if errors.Is(err, errNoStartTLS) || errors.Is(err, errCleartextAuth) ||
		errors.Is(err, errNoAuthPlain) || isTLSFailure(err) {
		return relay.Permanent(relay.ReasonAuth, err)
	}
	if ctxErr := ctx.Err(); ctxErr != nil {
		if !errors.Is(err, ctxErr) {
			err = fmt.Errorf("%w (%w)", err, ctxErr)
		}
		if errors.Is(ctxErr, context.DeadlineExceeded) {
			return relay.Temporary(relay.ReasonTimeout, err)
		}
		// Cancelled by the caller: nothing is known about the server.
		return relay.Temporary(relay.ReasonUnknown, err)
	}
	var ne net.Error
	switch {
	case errors.Is(err, context.DeadlineExceeded), errors.As(err, &ne) && ne.Timeout():
		return relay.Temporary(relay.ReasonTimeout, err)
	case errors.As(err, &ne), errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF),
		errors.Is(err, net.ErrClosed), errors.Is(err, syscall.ECONNRESET),
		errors.Is(err, syscall.ECONNREFUSED), errors.Is(err, syscall.EPIPE):
		return relay.Temporary(relay.ReasonNetwork, err)
	}
	return relay.Temporary(relay.ReasonUnknown, err)
}

// classifyReply sorts an SMTP reply by its code, its enhanced code and the
// step that drew it.
func classifyReply(step string, r *smtp.SMTPError) *relay.SendError {
	switch {
	case r.Temporary():
		return relay.Temporary(relay.ReasonProvider, r)
	case r.Code/100 != 5:
		// Not a failure reply at all: the server broke the protocol.
		return relay.Temporary(relay.ReasonProvider, r)
	case step == "AUTH", r.Code == 530, r.Code == 534, r.Code == 535, r.EnhancedCode == smtp.EnhancedCode{5, 7, 8}:
		return relay.Permanent(relay.ReasonAuth, r)
	case recipientCodes[r.EnhancedCode]:
		return relay.Permanent(relay.ReasonRecipient, r)
	case step == "RCPT TO" && (r.Code == 550 || r.Code == 551 || r.Code == 553) && r.EnhancedCode[1] != 7:
		// 5.7.x to RCPT is policy (relaying denied), not a bad mailbox.
		return relay.Permanent(relay.ReasonRecipient, r)
	}
	return relay.Permanent(relay.ReasonRejected, r)
}

// isTLSFailure reports whether a secure connection could not be set up
// for a reason other than the network: the certificate did not verify,
// the server does not speak TLS there, or it refused the handshake.
func isTLSFailure(err error) bool {
	var (
		verr *tls.CertificateVerificationError
		uerr x509.UnknownAuthorityError
		herr x509.HostnameError
		cerr x509.CertificateInvalidError
		rerr tls.RecordHeaderError
		aerr tls.AlertError
		oerr *net.OpError
	)
	return errors.As(err, &verr) || errors.As(err, &uerr) || errors.As(err, &herr) ||
		errors.As(err, &cerr) || errors.As(err, &rerr) || errors.As(err, &aerr) ||
		errors.As(err, &oerr) && oerr.Op == "remote error"
}

// scrub removes the password from an error's text, in the clear and in
// the base64 forms AUTH PLAIN sends, in case a server echoes it back in
// a reply. A scrubbed error keeps its text but loses its chain.
func (s *Sender) scrub(err error) error {
	pw := s.password()
	if err == nil || pw == "" {
		return err
	}
	msg := err.Error()
	forms := []string{
		pw,
		base64.StdEncoding.EncodeToString([]byte("\x00" + s.cfg.Username + "\x00" + pw)),
		base64.StdEncoding.EncodeToString([]byte(pw)),
	}
	clean := msg
	for _, f := range forms {
		clean = strings.ReplaceAll(clean, f, secret.Masked)
	}
	if clean == msg {
		return err
	}
	return errors.New(clean)
}
