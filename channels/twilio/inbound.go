package twilio

import (
	"fmt"
	"net/url"
	"strings"
	"unicode/utf8"

	"github.com/oob-relay/relay/relay"
)

// Incoming is an SMS a person sent to one of relay's numbers, as Twilio's
// messaging webhook reports it.
type Incoming struct {
	MessageSID string
	AccountSID string
	From, To   string
	Body       string
	// Media counts pictures and other media sent with it; relay passes on
	// the text only.
	Media int
}

// ParseIncoming reads the form of Twilio's incoming-message webhook. A
// missing, repeated or malformed field is an error that names it; the
// signature must be checked first (ValidSignature).
func ParseIncoming(form url.Values) (*Incoming, error) {
	var in Incoming
	var err error
	if in.MessageSID, err = field(form, "MessageSid", true); err != nil {
		return nil, err
	}
	if !messageSIDPattern.MatchString(in.MessageSID) {
		return nil, fmt.Errorf("MessageSid: %s is not a message SID", quote(in.MessageSID))
	}
	if in.AccountSID, err = field(form, "AccountSid", true); err != nil {
		return nil, err
	}
	if in.From, err = field(form, "From", true); err != nil {
		return nil, err
	}
	if in.To, err = field(form, "To", true); err != nil {
		return nil, err
	}
	if in.Body, err = field(form, "Body", false); err != nil {
		return nil, err
	}
	if !utf8.ValidString(in.Body) {
		return nil, fmt.Errorf("Body: is not valid UTF-8")
	}
	if len(in.Body) > relay.MaxTextBytes {
		return nil, fmt.Errorf("Body: is %d bytes; the limit is %d", len(in.Body), relay.MaxTextBytes)
	}
	media, err := field(form, "NumMedia", false)
	if err != nil {
		return nil, err
	}
	if media != "" {
		if _, err := fmt.Sscanf(media, "%d", &in.Media); err != nil || in.Media < 0 || in.Media > 10 {
			return nil, fmt.Errorf("NumMedia: %s is not a count of media", quote(media))
		}
	}
	if strings.TrimSpace(in.Body) == "" && in.Media == 0 {
		return nil, fmt.Errorf("Body: missing")
	}
	return &in, nil
}

// RenderMessageReply returns the TwiML that answers an incoming SMS with
// text, or with nothing when text is empty.
func RenderMessageReply(text string) string {
	if text == "" {
		return "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Response/>\n"
	}
	return "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Response>\n  <Message>" + escape(truncate(text, MaxBodyChars)) + "</Message>\n</Response>\n"
}
