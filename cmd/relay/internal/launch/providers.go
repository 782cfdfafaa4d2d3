package launch

import (
	"fmt"
	"log/slog"
	"net/mail"

	"github.com/oob-relay/relay/channels/email"
	"github.com/oob-relay/relay/channels/nats"
	"github.com/oob-relay/relay/channels/twilio"
	"github.com/oob-relay/relay/config"
	"github.com/oob-relay/relay/relay"
	"github.com/oob-relay/relay/relay/delivery"
	"github.com/oob-relay/relay/relay/secret"
)

// buildProviders makes a delivery provider of every configured one, in
// the configured order, and the functions that release them.
// ingest, when not nil, receives the NATS publishers whose provider takes
// posts (ingest.enabled).
func buildProviders(cfg *config.Config, log *slog.Logger, opts Options, ingest func(provider string, p *nats.Publisher, c nats.IngestConfig)) ([]delivery.Provider, []func(), error) {
	var (
		out     []delivery.Provider
		closers []func()
	)
	add := func(name, channel string, lim config.Limit, s relay.Sender) {
		out = append(out, delivery.Provider{Name: name, Channel: channel, Sender: s, Rate: lim.Rate, Burst: lim.Burst})
	}
	for _, p := range cfg.Channels.SMS.Providers {
		s, err := twilio.New(p.Twilio, twilio.Options{Logger: log.With("provider", p.Name)})
		if err != nil {
			return nil, closers, fmt.Errorf("provider %s: %w", p.Name, err)
		}
		closers = append(closers, func() { s.Close() })
		add(p.Name, relay.ChannelSMS, p.Limit, s)
	}
	for _, p := range cfg.Channels.Voice.Providers {
		s, err := twilio.NewVoice(p.Twilio, twilio.Options{Logger: log.With("provider", p.Name)})
		if err != nil {
			return nil, closers, fmt.Errorf("provider %s: %w", p.Name, err)
		}
		closers = append(closers, func() { s.Close() })
		add(p.Name, relay.ChannelVoice, p.Limit, s)
	}
	for _, p := range cfg.Channels.Email.Providers {
		s, err := email.New(p.SMTP, email.Options{Logger: log.With("provider", p.Name), RootCAs: opts.EmailRootCAs,
			ReplyTo: replyTo(cfg)})
		if err != nil {
			return nil, closers, fmt.Errorf("provider %s: %w", p.Name, err)
		}
		add(p.Name, relay.ChannelEmail, p.Limit, s)
	}
	for _, p := range cfg.Channels.NATS.Providers {
		s, err := nats.New(p.NATS, nats.Options{Logger: log.With("provider", p.Name)})
		if err != nil {
			return nil, closers, fmt.Errorf("provider %s: %w", p.Name, err)
		}
		closers = append(closers, s.Close)
		add(p.Name, relay.ChannelNATS, p.Limit, s)
		if ingest != nil && p.NATS.Ingest.Enabled {
			ingest(p.Name, s, p.NATS.Ingest)
		}
	}
	return out, closers, nil
}

// twilioTokens lists the auth tokens of every Twilio account configured,
// which sign the webhooks Twilio calls.
func twilioTokens(cfg *config.Config) []secret.String {
	var out []secret.String
	for _, p := range cfg.Channels.SMS.Providers {
		out = append(out, p.Twilio.AuthToken)
	}
	for _, p := range cfg.Channels.Voice.Providers {
		out = append(out, p.Twilio.AuthToken)
	}
	return out
}

// replyTo gives outgoing mail its signed reply address when the node
// takes replies by email.
func replyTo(cfg *config.Config) func(*relay.Outgoing) *mail.Address {
	in := cfg.Inbound.Email
	if in == nil || len(in.ReplyKeys) == 0 {
		return nil
	}
	k, err := email.NewReplyKey(in.ReplyKeys...)
	if err != nil {
		return nil // Validate refused such keys already
	}
	return k.ReplyTo(in.Domain)
}
