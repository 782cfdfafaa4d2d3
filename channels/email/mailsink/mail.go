package mailsink

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/mail"
	"strings"
	"time"

	gomail "github.com/emersion/go-message/mail"
)

// Envelope is what the client said in MAIL FROM and RCPT TO.
type Envelope struct {
	From string
	To   []string
}

// Mail is one message the sink accepted: its envelope, its raw bytes and
// its parsed form. Text bodies are decoded to UTF-8 with "\n" line endings.
type Mail struct {
	Envelope Envelope
	// Raw is the message exactly as received, CRLF line endings included.
	Raw []byte
	// TLS reports whether the message arrived over an encrypted connection.
	TLS bool
	// User is the AUTH PLAIN user, empty without authentication.
	User string
	// Hello is the name the client gave in EHLO.
	Hello string

	// Header holds every header field as received.
	Header     gomail.Header
	Subject    string
	From       []*mail.Address
	To         []*mail.Address
	ReplyTo    []*mail.Address
	Date       time.Time
	MessageID  string   // without angle brackets
	InReplyTo  []string // without angle brackets
	References []string // without angle brackets
	// Text and HTML are the first text/plain and text/html parts.
	Text string
	HTML string
	// ParseErr says what could not be parsed; the parsed fields are then
	// partial, but Raw is complete.
	ParseErr error
}

// parse reads raw with go-message, collecting every problem in ParseErr.
func parse(raw []byte) Mail {
	m := Mail{Raw: raw}
	var errs []error
	note := func(what string, err error) {
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", what, err))
		}
	}
	r, err := gomail.CreateReader(bytes.NewReader(raw))
	if r == nil {
		m.ParseErr = fmt.Errorf("header: %w", err)
		return m
	}
	note("message", err)
	m.Header = r.Header
	m.Subject, err = r.Header.Subject()
	note("Subject", err)
	m.From, err = r.Header.AddressList("From")
	note("From", err)
	m.To, err = r.Header.AddressList("To")
	note("To", err)
	m.ReplyTo, err = r.Header.AddressList("Reply-To")
	note("Reply-To", err)
	m.Date, err = r.Header.Date()
	note("Date", err)
	m.MessageID, err = r.Header.MessageID()
	note("Message-ID", err)
	m.InReplyTo, err = r.Header.MsgIDList("In-Reply-To")
	note("In-Reply-To", err)
	m.References, err = r.Header.MsgIDList("References")
	note("References", err)
	for {
		p, err := r.NextPart()
		if errors.Is(err, io.EOF) {
			break
		}
		if p == nil {
			note("body", err)
			break
		}
		note("part", err) // an unknown charset still yields the part
		h, ok := p.Header.(*gomail.InlineHeader)
		if !ok {
			continue
		}
		typ, _, _ := h.ContentType()
		body, err := io.ReadAll(p.Body)
		note(typ+" part", err)
		text := strings.ReplaceAll(string(body), "\r\n", "\n")
		switch {
		case typ == "text/plain" && m.Text == "":
			m.Text = text
		case typ == "text/html" && m.HTML == "":
			m.HTML = text
		}
	}
	m.ParseErr = errors.Join(errs...)
	return m
}

// String renders the mail for a person to read: the envelope, the main
// headers decoded, and the text body.
func (m Mail) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "Envelope: %s -> %s", m.Envelope.From, strings.Join(m.Envelope.To, ", "))
	if m.TLS {
		b.WriteString(" (TLS)")
	}
	b.WriteByte('\n')
	line := func(k, v string) {
		if v != "" {
			fmt.Fprintf(&b, "%s: %s\n", k, v)
		}
	}
	line("From", addresses(m.From))
	line("To", addresses(m.To))
	line("Reply-To", addresses(m.ReplyTo))
	if !m.Date.IsZero() {
		line("Date", m.Date.Format(time.RFC1123Z))
	}
	line("Subject", m.Subject)
	line("Message-ID", m.MessageID)
	if m.ParseErr != nil {
		line("Parse error", m.ParseErr.Error())
	}
	b.WriteByte('\n')
	b.WriteString(strings.TrimRight(m.Text, "\n"))
	b.WriteByte('\n')
	return b.String()
}

// addresses formats a list for reading: names decoded, not RFC 2047.
func addresses(l []*mail.Address) string {
	s := make([]string, len(l))
	for i, a := range l {
		if a.Name != "" {
			s[i] = a.Name + " <" + a.Address + ">"
		} else {
			s[i] = a.Address
		}
	}
	return strings.Join(s, ", ")
}
