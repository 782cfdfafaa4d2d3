package devstack

import (
	"crypto/rand"
	"encoding/hex"
	"os"
	"path/filepath"

	"github.com/oob-relay/relay/channels/email/inbound"
	"github.com/oob-relay/relay/channels/nats"
	"github.com/oob-relay/relay/config"
	"github.com/oob-relay/relay/relay/alertmanager"
	"github.com/oob-relay/relay/relay/secret"
)

// Names of what relay dev takes in besides the API.
const (
	// MailDomain is the domain of the dev cluster's reply and incident
	// addresses.
	MailDomain = "relay.localhost"
	// Bot is the bot that may post over NATS and by mail.
	Bot = "dev-bot"
	// NATSPostSubject and NATSAckSubject are where Bot posts and
	// acknowledges over NATS.
	NATSPostSubject = "relay.post." + Bot
	NATSAckSubject  = "relay.ack." + Bot
)

// secrets are the dev cluster's secrets besides the admin token, kept in
// the data dir so that a restarted relay dev keeps them.
type secrets struct {
	replyKey     string
	alertmanager string
	botPassword  string
}

func loadSecrets(dir string) (secrets, error) {
	var s secrets
	var err error
	for _, f := range []struct {
		name string
		to   *string
	}{{"reply-key", &s.replyKey}, {"alertmanager-token", &s.alertmanager}, {"bot-password", &s.botPassword}} {
		if *f.to, err = loadSecret(filepath.Join(dir, f.name)); err != nil {
			return s, err
		}
	}
	return s, nil
}

// loadSecret reads a random secret kept at path, or makes one.
func loadSecret(path string) (string, error) {
	if b, err := os.ReadFile(path); err == nil && len(b) >= 32 {
		return string(b), nil
	}
	var raw [24]byte
	if _, err := rand.Read(raw[:]); err != nil {
		return "", err
	}
	v := hex.EncodeToString(raw[:])
	return v, os.WriteFile(path, []byte(v), 0o600)
}

// inboundConfig turns on every inbound path of a dev node: replies and
// bot posts by mail on smtpAddr, Alertmanager's webhook routed to the
// on-call group, and NATS posts and acknowledgements from Bot. Incoming
// SMS arrive on the Twilio webhook every node with a public URL serves.
func (s *Stack) inboundConfig(cfg *config.Config, smtpAddr string) {
	cfg.Inbound.Email = &inbound.Config{
		Listen:    smtpAddr,
		Domain:    MailDomain,
		ReplyKeys: []secret.String{secret.New(s.secrets.replyKey)},
		Auth: []inbound.AuthUser{{Username: Bot, Password: secret.New(s.secrets.botPassword),
			To: []string{"group:oncall"}}},
	}
	cfg.Inbound.Alertmanager = &alertmanager.Config{
		Token:   secret.New(s.secrets.alertmanager),
		Default: &alertmanager.Route{To: []string{"group:oncall"}},
	}
	p := &cfg.Channels.NATS.Providers[0].NATS
	p.Ingest = nats.IngestConfig{Enabled: true, Bots: []nats.Bot{{
		Name: Bot, Allow: []string{nats.ActionPost, nats.ActionAck}, AckFor: []string{"everyone"},
	}}}
}

// Inbound says how to reach the dev cluster's inbound paths.
type Inbound struct {
	// SMTP are the nodes' SMTP servers, host:port, in node order.
	SMTP []string
	// BotPassword is Bot's SMTP password (AUTH PLAIN).
	BotPassword string
	// AlertmanagerToken is the bearer token of the Alertmanager webhook.
	AlertmanagerToken string
	// NATS is the embedded NATS server's URL.
	NATS string
}

// Inbound returns how to reach the inbound paths.
func (s *Stack) Inbound() Inbound {
	in := Inbound{BotPassword: s.secrets.botPassword, AlertmanagerToken: s.secrets.alertmanager, NATS: s.nats.ClientURL()}
	for _, n := range s.nodes {
		in.SMTP = append(in.SMTP, n.cfg.Inbound.Email.Listen)
	}
	return in
}
