package email

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/mail"

	"github.com/emersion/go-message"

	"github.com/oob-relay/relay/relay"
)

// codeSubjects are the subject of a one-time code's mail, by purpose and
// language. The code is not in the subject, which phones show on a locked
// screen.
var codeSubjects = map[string]map[string]string{
	relay.PurposeLogin:   {"ko": "relay 로그인 코드", "en": "relay login code"},
	relay.PurposeContact: {"ko": "relay 연락처 확인 코드", "en": "relay contact check code"},
}

// codeNotes end a code's mail, by language.
var codeNotes = map[string]string{
	"ko": "이 코드를 요청하지 않았다면 이 메일을 무시하세요. 코드는 누구에게도 알려주지 마세요.",
	"en": "If you did not ask for this code, ignore this mail. Never tell anyone the code.",
}

// renderCode returns the mail of a one-time code (out.Code): a short
// text/plain message, in the person's language, with relay.CodeText and
// a note, no Reply-To and no incident thread.
func renderCode(out *relay.Outgoing, p RenderParams) ([]byte, error) {
	switch {
	case out.Person == nil || out.Person.Email == "":
		return nil, fmt.Errorf("email: a code needs a recipient: %w", errNoRecipient)
	case p.From == nil:
		return nil, errors.New("email: no sender address")
	case !idPattern.MatchString(out.DeliveryID):
		return nil, fmt.Errorf("email: delivery id %q must be made of A-Z, a-z, 0-9, '.' and '-'", out.DeliveryID)
	case out.Code.Issued.IsZero():
		return nil, errors.New("email: code has no time for its Date")
	}
	if err := checkMailbox(out.Person.Email); err != nil {
		return nil, fmt.Errorf("email: recipient %q %v: %w", out.Person.Email, err, errNoRecipient)
	}
	if err := checkMailbox(p.From.Address); err != nil {
		return nil, fmt.Errorf("email: sender %q %v", p.From.Address, err)
	}
	lang := relay.CodeLang(out.Person.LangOrDefault())
	subjects, ok := codeSubjects[out.Code.Purpose]
	if !ok {
		subjects = codeSubjects[relay.PurposeLogin]
	}
	fields := []field{
		{"Date", out.Code.Issued.UTC().Format("Mon, 02 Jan 2006 15:04:05 -0700")},
		{"From", p.From.String()},
		{"To", (&mail.Address{Name: out.Person.Name, Address: out.Person.Email}).String()},
		{"Subject", encodeText(subjects[lang])},
		{"Message-ID", "<" + MessageID(out.DeliveryID, domainOf(p.From.Address)) + ">"},
		{"Auto-Submitted", "auto-generated"},
		{"X-Auto-Response-Suppress", "All"},
		{"Content-Language", lang},
		{"MIME-Version", "1.0"},
		{"Content-Type", "text/plain; charset=utf-8"},
		{"Content-Transfer-Encoding", "quoted-printable"},
	}
	var buf bytes.Buffer
	w, err := message.CreateWriter(&buf, header(fields))
	if err != nil {
		return nil, fmt.Errorf("write header: %w", err)
	}
	body := relay.CodeText(out.Code, lang) + "\n\n" + codeNotes[lang] + "\n"
	if _, err := io.WriteString(w, body); err != nil {
		return nil, fmt.Errorf("write body: %w", err)
	}
	if err := w.Close(); err != nil {
		return nil, fmt.Errorf("close message: %w", err)
	}
	return buf.Bytes(), nil
}
