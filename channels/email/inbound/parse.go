package inbound

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/mail"
	"strings"

	"github.com/emersion/go-message"
	gomail "github.com/emersion/go-message/mail"
	"github.com/emersion/go-message/textproto"
)

// DefaultMaxBytes bounds a mail when no limit is given. Replies are short;
// ten megabytes leaves room for a phone's inline photo that Parse skips.
const DefaultMaxBytes = 10 << 20

// Limits on a message's structure, so that a crafted message cannot make
// Parse recurse or loop without bound.
const (
	maxDepth = 8   // nested multiparts
	maxParts = 256 // parts in the whole message
)

// Errors of Parse. Each error Parse returns wraps exactly one of them, so a
// server can map it to a reply code; the text after it says what is wrong
// without quoting the message.
var (
	// ErrTooLarge: the message is longer than the limit.
	ErrTooLarge = errors.New("message is larger than the limit")
	// ErrNoFrom: the header has no From field, several, or one that is not
	// exactly one address.
	ErrNoFrom = errors.New("message has no single From address")
	// ErrNoText: no text/plain or text/html part, or nothing is left once
	// quoted text and signature are removed.
	ErrNoText = errors.New("message has no text")
	// ErrMalformed: the header or the MIME structure does not parse.
	ErrMalformed = errors.New("message is not well-formed")
)

// Mail is what Parse takes from an incoming message. Every string is valid
// UTF-8 without control characters other than newline and tab.
type Mail struct {
	// From is the address of the From field, as written.
	From string
	// FromName is the display name of the From field, decoded.
	FromName string
	// To and Cc are the addresses of those fields; a field that does not
	// parse is left out.
	To []string
	Cc []string
	// MessageID is the Message-ID without angle brackets, or "" when the
	// message has none that parses.
	MessageID string
	// Subject is the decoded Subject.
	Subject string
	// Text is the reply itself: the text part (or the HTML part rendered
	// as text), with quoted text and signature removed by StripQuoted.
	Text string
	// FullText is the text part before StripQuoted.
	FullText string
	// FromHTML reports whether the text came from an HTML part because the
	// message had no text/plain part.
	FromHTML bool
	// AutoReply reports that a machine sent the message, not a person: an
	// out-of-office answer or another RFC 3834 auto-submitted message, a
	// delivery report, or mail marked bulk or junk. Such mail must not be
	// posted to an incident.
	AutoReply bool
	// Attachments counts the parts that are not the message's text:
	// attachments, inline images, calendar invitations, forwarded
	// messages. They are not read.
	Attachments int
}

// Parse reads one RFC 5322 message of at most limit bytes (DefaultMaxBytes
// when limit is not positive) from r and returns its sender, recipients,
// ids and reply text. Transfer encodings (quoted-printable, base64) and
// charsets (UTF-8, EUC-KR and CP949, ISO-2022-KR, and what
// github.com/emersion/go-message/charset knows) are decoded; text/plain is
// preferred, and an HTML-only message is rendered as readable text.
//
// A read error from r is returned wrapped as it is. Every other error wraps
// ErrTooLarge, ErrNoFrom, ErrNoText or ErrMalformed.
func Parse(r io.Reader, limit int64) (*Mail, error) {
	raw, err := readMessage(r, limit)
	if err != nil {
		return nil, err
	}
	return parse(raw)
}

// readMessage reads one message of at most limit bytes (DefaultMaxBytes
// when limit is not positive) from r.
func readMessage(r io.Reader, limit int64) ([]byte, error) {
	if limit <= 0 {
		limit = DefaultMaxBytes
	}
	raw, err := io.ReadAll(io.LimitReader(r, limit+1))
	if err != nil {
		return nil, fmt.Errorf("read message: %w", err)
	}
	if int64(len(raw)) > limit {
		return nil, fmt.Errorf("%w of %d bytes", ErrTooLarge, limit)
	}
	return raw, nil
}

func parse(raw []byte) (*Mail, error) {
	br := bufio.NewReader(bytes.NewReader(raw))
	th, err := textproto.ReadHeader(br)
	if err != nil {
		return nil, fmt.Errorf("%w: the header does not parse", ErrMalformed)
	}
	h := message.Header{Header: th}
	m := &Mail{}
	if err := m.readHeader(h); err != nil {
		return nil, err
	}

	var c content
	if err := c.walk(h, br, 0); err != nil {
		return nil, err
	}
	switch {
	case len(c.plain) > 0:
		m.FullText = strings.Join(c.plain, "\n")
	case len(c.html) > 0:
		m.FullText = htmlText(strings.Join(c.html, "\n"))
		m.FromHTML = true
	default:
		return nil, fmt.Errorf("%w: no text/plain or text/html part", ErrNoText)
	}
	m.Attachments = c.attachments
	m.FullText = cleanText(m.FullText)
	m.Text = StripQuoted(m.FullText)
	if strings.TrimSpace(m.Text) == "" {
		return nil, fmt.Errorf("%w: nothing is left once quoted text and signature are removed", ErrNoText)
	}
	return m, nil
}

// readHeader fills in the fields that come from the top-level header.
func (m *Mail) readHeader(h message.Header) error {
	froms := h.Values("From")
	if len(froms) != 1 {
		return fmt.Errorf("%w: the header has %d From fields", ErrNoFrom, len(froms))
	}
	ap := mail.AddressParser{WordDecoder: &wordDecoder}
	from, err := ap.ParseList(froms[0])
	if err != nil || len(from) != 1 {
		return fmt.Errorf("%w: the From field is not one address", ErrNoFrom)
	}
	m.From, m.FromName = cleanLine(from[0].Address), cleanLine(from[0].Name)
	if m.From == "" {
		return fmt.Errorf("%w: the From field is not one address", ErrNoFrom)
	}
	m.To = addresses(ap, h.Values("To"))
	m.Cc = addresses(ap, h.Values("Cc"))
	m.Subject = cleanLine(decodeHeader(h.Get("Subject")))
	m.AutoReply = autoReply(h)
	mh := gomail.Header{Header: h}
	if id, err := mh.MessageID(); err == nil && printableASCII(id) {
		m.MessageID = id
	}
	return nil
}

// autoReply reports whether the header marks a message sent by a machine
// (RFC 3834 Auto-Submitted, the X-Autoreply family, Precedence, or a
// multipart/report delivery report).
func autoReply(h message.Header) bool {
	value := func(k string) string {
		v, _, _ := strings.Cut(h.Get(k), ";")
		return strings.ToLower(strings.TrimSpace(v))
	}
	if v := value("Auto-Submitted"); v != "" && v != "no" {
		return true
	}
	for _, k := range []string{"X-Autoreply", "X-Autorespond", "X-Autoresponse", "X-Auto-Reply"} {
		if v := value(k); v != "" && v != "no" {
			return true
		}
	}
	switch value("Precedence") {
	case "auto_reply", "bulk", "junk", "list":
		return true
	}
	return strings.HasPrefix(value("Content-Type"), "multipart/report")
}

func addresses(ap mail.AddressParser, fields []string) []string {
	var out []string
	for _, f := range fields {
		list, err := ap.ParseList(f)
		if err != nil {
			continue
		}
		for _, a := range list {
			if s := cleanLine(a.Address); s != "" {
				out = append(out, s)
			}
		}
	}
	return out
}

func printableASCII(s string) bool {
	if s == "" || len(s) > 998 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] <= ' ' || s[i] > '~' {
			return false
		}
	}
	return true
}

// content collects the text parts of a message in order.
type content struct {
	plain, html []string
	attachments int
	parts       int
}

// walk visits one entity: a multipart's children, a text part's text, or
// anything else as an attachment.
func (c *content) walk(h message.Header, body io.Reader, depth int) error {
	c.parts++
	if c.parts > maxParts {
		return fmt.Errorf("%w: more than %d MIME parts", ErrMalformed, maxParts)
	}
	mt, params, err := h.ContentType()
	if err != nil {
		// RFC 2045 section 5.2: a missing or broken Content-Type means
		// plain US-ASCII text.
		mt, params = "text/plain", nil
	}
	mt = strings.ToLower(mt)
	disp, dparams, _ := h.ContentDisposition()
	if strings.EqualFold(disp, "attachment") {
		c.attachments++
		return nil
	}
	switch {
	case strings.HasPrefix(mt, "multipart/"):
		return c.walkMultipart(mt, params, body, depth)
	case mt == "text/plain" || mt == "text/html":
		if dparams["filename"] != "" || params["name"] != "" {
			// A text file sent inline, as some phones do, is an
			// attachment, not the reply.
			c.attachments++
			return nil
		}
		text, err := readText(h, body, params)
		if err != nil {
			return err
		}
		if mt == "text/plain" {
			c.plain = append(c.plain, text)
		} else {
			c.html = append(c.html, text)
		}
		return nil
	}
	c.attachments++
	return nil
}

// walkMultipart visits the children of a multipart. Of a
// multipart/alternative it keeps the first text/plain and the first
// text/html alternative; of any other multipart (mixed, related, ...) it
// keeps every text part, in order.
func (c *content) walkMultipart(mt string, params map[string]string, body io.Reader, depth int) error {
	if depth >= maxDepth {
		return fmt.Errorf("%w: multiparts nested more than %d deep", ErrMalformed, maxDepth)
	}
	boundary := params["boundary"]
	if boundary == "" {
		return fmt.Errorf("%w: %s without a boundary", ErrMalformed, mt)
	}
	alternative := mt == "multipart/alternative"
	mr := textproto.NewMultipartReader(body, boundary)
	var kids []*content
	for n := 0; ; n++ {
		p, err := mr.NextPart()
		if err == io.EOF {
			if n == 0 {
				return fmt.Errorf("%w: %s has no parts", ErrMalformed, mt)
			}
			break
		}
		if err != nil {
			return fmt.Errorf("%w: %s: %v", ErrMalformed, mt, err)
		}
		dst := c
		if alternative {
			dst = &content{parts: c.parts}
			kids = append(kids, dst)
		}
		if err := dst.walk(message.Header{Header: p.Header}, p, depth+1); err != nil {
			return err
		}
		c.parts = dst.parts
	}
	var plain, html bool
	for _, k := range kids {
		c.attachments += k.attachments
		if !plain && len(k.plain) > 0 {
			c.plain, plain = append(c.plain, k.plain...), true
		}
		if !html && len(k.html) > 0 {
			c.html, html = append(c.html, k.html...), true
		}
	}
	return nil
}

// readText decodes a text part: its transfer encoding with go-message, its
// charset with decodeCharset (not go-message's, which cannot read
// ISO-2022-KR), and format=flowed lines.
func readText(h message.Header, body io.Reader, params map[string]string) (string, error) {
	var th message.Header
	if cte := h.Get("Content-Transfer-Encoding"); cte != "" {
		th.Set("Content-Transfer-Encoding", cte)
	}
	// An unknown transfer encoding leaves the body as it is, which is the
	// best reading of it there is.
	e, _ := message.New(th, body)
	b, err := io.ReadAll(e.Body)
	if err != nil {
		return "", fmt.Errorf("%w: a text part does not decode (%s): %v", ErrMalformed, strings.ToLower(h.Get("Content-Transfer-Encoding")), err)
	}
	text := decodeCharset(params["charset"], b)
	if strings.EqualFold(params["format"], "flowed") {
		text = unflow(text, strings.EqualFold(params["delsp"], "yes"))
	}
	return text, nil
}
