package inbound

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"

	"github.com/emersion/go-smtp"

	"github.com/oob-relay/relay/relay"
	"github.com/oob-relay/relay/relay/secret"
)

// Bot is a login for AUTH PLAIN and the identity its mail posts as. A
// bot's mail to an incident address is posted to the incident by the bot,
// whatever its From says: a bot never speaks for a person.
type Bot struct {
	Password secret.String
	// Name is the author of the bot's posts; the username when empty.
	Name string
	// To is the audience of a post to an incident that has no message
	// yet, which opens it. Without it, the bot posts only to incidents
	// that exist.
	To []string
	// Severity of the bot's posts; relay.DefaultSeverity when empty.
	Severity relay.Severity
}

// BotPost is a bot's mail to an incident address, to be posted.
type BotPost struct {
	// Bot is the author: Bot.Name.
	Bot string
	// Incident is the incident of the address.
	Incident string
	// Text is the Subject, a blank line and the text of the mail.
	Text     string
	Severity relay.Severity
	// To is Bot.To: the audience when the incident has no message yet.
	To []string
	// Key is the post's idempotency key, from the mail's Message-ID and
	// the incident, so that a mail sent again posts once; "" when the
	// mail has no Message-ID.
	Key string
}

// bot is a Bot without its password.
type bot struct {
	name     string
	to       []string
	severity relay.Severity
}

// botText is what a bot's mail posts: its Subject, a blank line and its
// text, as written (a bot's text has no quoted original to cut), or only
// the text when the Subject is empty or is the text's first line.
func botText(m *Mail) string {
	text := strings.TrimSpace(m.FullText)
	subject := strings.TrimSpace(m.Subject)
	first, _, _ := strings.Cut(text, "\n")
	if subject == "" || strings.TrimSpace(first) == subject {
		return text
	}
	return subject + "\n\n" + text
}

// botKey is the idempotency key of a bot's mail to an incident.
func botKey(messageID, incident string) string {
	if messageID == "" {
		return ""
	}
	sum := sha256.Sum256([]byte(messageID + "\x00" + incident))
	return "email:" + hex.EncodeToString(sum[:16])
}

// errBotAudience is the refusal of a bot's post whose audience the roster
// does not resolve, a matter of configuration the sender cannot fix.
func errBotAudience(err error) *smtp.SMTPError {
	return &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 3, 0},
		Message: "The bot's post cannot be addressed: " + clip(err.Error())}
}

// postAsBot posts a logged-in bot's mail to incident and maps the outcome
// to a reply.
func (ss *session) postAsBot(t target, m *Mail, text string) error {
	b := ss.bot
	p := &BotPost{Bot: b.name, Incident: t.incident, Text: text, Severity: b.severity, To: b.to,
		Key: botKey(m.MessageID, t.incident)}
	ctx, cancel := context.WithTimeout(ss.s.ctx, ReceiveTimeout)
	defer cancel()
	id, err := ss.s.opts.Post(ctx, p)
	log := ss.s.log.With("bot", b.name, "login", ss.login, "to", t.addr, "incident", t.incident,
		"message_id", m.MessageID, "remote", ss.remote())
	var fe *relay.FieldError
	switch {
	case err == nil:
		log.Info("email bot post", "id", id, "text_bytes", len(text))
		return nil
	case errors.Is(err, relay.ErrNoIncident):
		log.Info("email bot post refused", "reason", "no incident", "err", err)
		return errNoIncident
	case errors.As(err, &fe):
		log.Warn("email bot post refused", "reason", "audience", "err", err)
		return errBotAudience(err)
	}
	log.Warn("email bot post not taken, the sender will retry", "err", err)
	return errTemporary
}

// botTextRefusal checks a bot's text against the size of a message.
func botTextRefusal(text string) error {
	if len(text) > relay.MaxTextBytes {
		return fmt.Errorf("%w: the post is %d bytes of text, more than the %d a message holds", ErrTooLarge, len(text), relay.MaxTextBytes)
	}
	return nil
}
