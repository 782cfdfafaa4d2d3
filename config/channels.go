package config

import (
	"fmt"
	"math"

	"github.com/oob-relay/relay/channels/email"
	"github.com/oob-relay/relay/channels/nats"
	"github.com/oob-relay/relay/channels/twilio"
	"github.com/oob-relay/relay/relay"
)

// Channels lists the providers of each channel. A channel without
// providers is not used by this node; EnabledChannels lists the others.
// The delivery engine tries a channel's providers in the order given.
type Channels struct {
	SMS   SMSChannel   `yaml:"sms"`
	Voice VoiceChannel `yaml:"voice"`
	Email EmailChannel `yaml:"email"`
	NATS  NATSChannel  `yaml:"nats"`
}

// SMSChannel lists the providers that send SMS.
type SMSChannel struct {
	Providers []SMSProvider `yaml:"providers"`
}

// VoiceChannel lists the Twilio accounts that place voice calls. A call
// speaks the message in the person's language and asks them to press 1 to
// acknowledge; it needs http.public_url for the answer to reach the node.
type VoiceChannel struct {
	Providers []VoiceProvider `yaml:"providers"`
}

// VoiceProvider is one Twilio account that places calls. Its twilio.from
// is the calling number; a messaging service cannot call.
type VoiceProvider struct {
	// Name identifies the provider in records, logs and metrics. It must
	// satisfy relay.ValidID and be unique across all channels.
	Name   string `yaml:"name"`
	Limit  `yaml:",inline"`
	Twilio twilio.Config `yaml:"twilio"`
	// Canary, when set, tests the provider now and then (see Canary).
	Canary *Canary `yaml:"canary"`
}

// EmailChannel lists the providers that send email.
type EmailChannel struct {
	Providers []EmailProvider `yaml:"providers"`
}

// NATSChannel lists the providers that publish to NATS.
type NATSChannel struct {
	Providers []NATSProvider `yaml:"providers"`
}

// Limit bounds how fast the delivery engine makes attempts through one
// provider. It sits inline beside the provider's name.
type Limit struct {
	// Rate is the sustained attempts per second; 0 means unlimited. A
	// Twilio long code sends about one SMS a second, so it needs rate: 1.
	Rate float64 `yaml:"rate"`
	// Burst is how many attempts may go at once after a quiet spell.
	// Default 1 when Rate is set; it has no use without Rate.
	Burst int `yaml:"burst"`
}

// SMSProvider is one Twilio account that carries the SMS channel.
type SMSProvider struct {
	// Name identifies the provider in records, logs and metrics. It must
	// satisfy relay.ValidID and be unique across all channels.
	Name   string `yaml:"name"`
	Limit  `yaml:",inline"`
	Twilio twilio.Config `yaml:"twilio"`
	// Canary, when set, tests the provider now and then (see Canary).
	Canary *Canary `yaml:"canary"`
}

// EmailProvider is one SMTP smarthost that carries the email channel.
type EmailProvider struct {
	// Name identifies the provider in records, logs and metrics. It must
	// satisfy relay.ValidID and be unique across all channels.
	Name  string `yaml:"name"`
	Limit `yaml:",inline"`
	SMTP  email.Config `yaml:"smtp"`
}

// NATSProvider is one NATS connection that carries the NATS channel.
type NATSProvider struct {
	// Name identifies the provider in records, logs and metrics. It must
	// satisfy relay.ValidID and be unique across all channels.
	Name  string `yaml:"name"`
	Limit `yaml:",inline"`
	NATS  nats.Config `yaml:"nats"`
}

// channelConfig is what every channel's own configuration provides.
type channelConfig interface {
	SetDefaults()
	Validate() error
	ResolveSecrets(dir string, getenv func(string) string) error
}

// provider is one configured provider of any channel, with its key path.
type provider struct {
	channel string
	key     string // "channels.sms.providers[0]"
	name    string
	limit   *Limit
	sub     string // the key of the channel configuration: "twilio"
	conf    channelConfig
}

// providers lists every provider in file order: sms, voice, email, nats.
func (c *Config) providers() []provider {
	var out []provider
	key := func(ch string, i int) string { return fmt.Sprintf("channels.%s.providers[%d]", ch, i) }
	for i := range c.Channels.SMS.Providers {
		p := &c.Channels.SMS.Providers[i]
		out = append(out, provider{relay.ChannelSMS, key("sms", i), p.Name, &p.Limit, "twilio", &p.Twilio})
	}
	for i := range c.Channels.Voice.Providers {
		p := &c.Channels.Voice.Providers[i]
		out = append(out, provider{relay.ChannelVoice, key("voice", i), p.Name, &p.Limit, "twilio", &p.Twilio})
	}
	for i := range c.Channels.Email.Providers {
		p := &c.Channels.Email.Providers[i]
		out = append(out, provider{relay.ChannelEmail, key("email", i), p.Name, &p.Limit, "smtp", &p.SMTP})
	}
	for i := range c.Channels.NATS.Providers {
		p := &c.Channels.NATS.Providers[i]
		out = append(out, provider{relay.ChannelNATS, key("nats", i), p.Name, &p.Limit, "nats", &p.NATS})
	}
	return out
}

// setDefaults gives a rate limit its default burst.
func (l *Limit) setDefaults() {
	if l.Rate > 0 && l.Burst == 0 {
		l.Burst = 1
	}
}

// validate reports problems with a limit, keys relative to the provider.
func (l *Limit) validate(bad func(key, format string, args ...any)) {
	switch {
	case math.IsNaN(l.Rate) || math.IsInf(l.Rate, 0):
		bad("rate", "must be a number of attempts per second, or 0 for no limit")
	case l.Rate < 0:
		bad("rate", "%g must not be negative; 0 means no limit", l.Rate)
	}
	switch {
	case l.Burst < 0:
		bad("burst", "%d must not be negative", l.Burst)
	case l.Burst > 0 && l.Rate == 0:
		bad("burst", "has no effect without rate; set rate (attempts per second) or remove burst")
	}
}
