package email

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/mail"
	"regexp"
	"strings"
	"unicode/utf8"

	"github.com/emersion/go-message"
	gomail "github.com/emersion/go-message/mail"

	"github.com/oob-relay/relay/relay"
)

// RenderParams is what Render needs besides the delivery.
type RenderParams struct {
	// From is the sender; its domain names the Message-ID and the
	// incident thread.
	From *mail.Address
	// ReplyTo, when set, is where replies should go (an incident reply
	// address).
	ReplyTo *mail.Address
}

// errNoRecipient marks deliveries without a usable recipient address.
var errNoRecipient = errors.New("no usable email address")

// idPattern is what may appear in a Message-ID local part and in the
// X-Relay headers without quoting.
var idPattern = regexp.MustCompile(`^[A-Za-z0-9.-]+$`)

// MessageID returns the Message-ID of a delivery sent from domain, without
// angle brackets: "{deliveryID}@{domain}". It is the same on every attempt,
// so a receiving server or client can drop duplicates.
func MessageID(deliveryID, domain string) string {
	return deliveryID + "@" + domain
}

// ThreadID returns the id every message of an incident refers to in
// In-Reply-To and References, without angle brackets, so mail clients
// group the incident into one conversation.
func ThreadID(incident, domain string) string {
	return "incident." + incident + "@" + domain
}

// Render returns the complete MIME message (headers and body, CRLF line
// endings, 7-bit clean) for one email delivery. It is a pure function of
// its arguments: the same delivery renders to the same bytes, so the
// Date is the message's acceptance time and the MIME boundary is derived
// from the content.
func Render(out *relay.Outgoing, p RenderParams) ([]byte, error) {
	if out != nil && out.Code != nil {
		return renderCode(out, p)
	}
	if err := checkRenderable(out, p); err != nil {
		return nil, err
	}
	m, person := out.Message, out.Person
	w := wordsFor(person.LangOrDefault())
	domain := domainOf(p.From.Address)
	subj := subject(m, w)
	plain := plainBody(m, w, out.Link)
	htm := htmlBody(m, w, subj, out.Link)
	sum := sha256.Sum256([]byte(out.DeliveryID + "\x00" + plain + "\x00" + htm))
	boundary := "relay-" + hex.EncodeToString(sum[:12])

	fields := []field{
		{"Date", m.AcceptedAt.UTC().Format("Mon, 02 Jan 2006 15:04:05 -0700")},
		{"From", p.From.String()},
		{"To", (&mail.Address{Name: person.Name, Address: person.Email}).String()},
	}
	if p.ReplyTo != nil {
		fields = append(fields, field{"Reply-To", p.ReplyTo.String()})
	}
	thread := "<" + ThreadID(m.Incident, domain) + ">"
	fields = append(fields,
		field{"Subject", encodeText(subj)},
		field{"Message-ID", "<" + MessageID(out.DeliveryID, domain) + ">"},
		field{"In-Reply-To", thread},
		field{"References", thread},
		field{"Auto-Submitted", "auto-generated"},
		field{"X-Auto-Response-Suppress", "All"},
	)
	if m.Severity == relay.SeverityCritical && m.Drill == "" {
		fields = append(fields,
			field{"Importance", "high"},
			field{"Priority", "urgent"},
			field{"X-Priority", "1 (Highest)"},
		)
	}
	fields = append(fields,
		field{"X-Relay-Incident", m.Incident},
		field{"X-Relay-Message", m.ID},
		field{"X-Relay-Delivery", out.DeliveryID},
		field{"Content-Language", w.tag},
		field{"MIME-Version", "1.0"},
		field{"Content-Type", mime.FormatMediaType("multipart/alternative", map[string]string{"boundary": boundary})},
	)

	var buf bytes.Buffer
	mw, err := message.CreateWriter(&buf, header(fields))
	if err != nil {
		return nil, fmt.Errorf("write header: %w", err)
	}
	for _, part := range []struct{ typ, body string }{{"text/plain", plain}, {"text/html", htm}} {
		pw, err := mw.CreatePart(header([]field{
			{"Content-Type", part.typ + "; charset=utf-8"},
			{"Content-Transfer-Encoding", "quoted-printable"},
		}))
		if err != nil {
			return nil, fmt.Errorf("create %s part: %w", part.typ, err)
		}
		if _, err := io.WriteString(pw, part.body); err != nil {
			return nil, fmt.Errorf("write %s part: %w", part.typ, err)
		}
		if err := pw.Close(); err != nil {
			return nil, fmt.Errorf("write %s part: %w", part.typ, err)
		}
	}
	if err := mw.Close(); err != nil {
		return nil, fmt.Errorf("close message: %w", err)
	}
	return buf.Bytes(), nil
}

// maxWordBytes is how many bytes of UTF-8 one encoded-word carries, so
// that a word ("=?utf-8?b?" + 52 base64 characters + "?=") fits on the
// first line of a folded Subject within RFC 2047's 76 characters.
const maxWordBytes = 39

// encodeText encodes s for an unstructured header as RFC 2047 B
// encoded-words split at character boundaries, so the header folds
// between words. ASCII text that needs no encoding is returned as is.
func encodeText(s string) string {
	if mime.BEncoding.Encode("utf-8", s) == s {
		return s
	}
	var words []string
	for len(s) > 0 {
		n := 0
		for n < len(s) {
			_, size := utf8.DecodeRuneInString(s[n:])
			if n > 0 && n+size > maxWordBytes {
				break
			}
			n += size
		}
		words = append(words, "=?utf-8?b?"+base64.StdEncoding.EncodeToString([]byte(s[:n]))+"?=")
		s = s[n:]
	}
	return strings.Join(words, " ")
}

type field struct{ key, value string }

// header builds a go-message header whose fields are written in the order
// given (go-message writes the most recently added field first).
func header(fields []field) message.Header {
	var h gomail.Header
	for i := len(fields) - 1; i >= 0; i-- {
		h.Add(fields[i].key, fields[i].value)
	}
	return h.Header
}

// checkRenderable refuses deliveries that cannot make a well-formed
// message, before anything reaches a header.
func checkRenderable(out *relay.Outgoing, p RenderParams) error {
	switch {
	case out == nil || out.Message == nil:
		return errors.New("email: delivery has no message")
	case out.Person == nil:
		return fmt.Errorf("email: delivery has no person: %w", errNoRecipient)
	case out.Person.Email == "":
		return fmt.Errorf("email: person %q: %w", out.Person.ID, errNoRecipient)
	case p.From == nil:
		return errors.New("email: no sender address")
	case !idPattern.MatchString(out.DeliveryID):
		return fmt.Errorf("email: delivery id %q must be made of A-Z, a-z, 0-9, '.' and '-'", out.DeliveryID)
	case !idPattern.MatchString(out.Message.ID):
		return fmt.Errorf("email: message id %q must be made of A-Z, a-z, 0-9, '.' and '-'", out.Message.ID)
	case !idPattern.MatchString(out.Message.Incident):
		return fmt.Errorf("email: incident id %q must be made of A-Z, a-z, 0-9, '.' and '-'", out.Message.Incident)
	case out.Message.AcceptedAt.IsZero():
		return errors.New("email: message has no acceptance time for its Date")
	}
	if err := checkMailbox(out.Person.Email); err != nil {
		return fmt.Errorf("email: recipient %q %v: %w", out.Person.Email, err, errNoRecipient)
	}
	if err := checkMailbox(p.From.Address); err != nil {
		return fmt.Errorf("email: sender %q %v", p.From.Address, err)
	}
	if p.ReplyTo != nil {
		if err := checkMailbox(p.ReplyTo.Address); err != nil {
			return fmt.Errorf("email: reply-to %q %v", p.ReplyTo.Address, err)
		}
	}
	return nil
}
