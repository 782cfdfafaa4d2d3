package config

import (
	"github.com/oob-relay/relay/channels/email/inbound"
	"github.com/oob-relay/relay/relay"
	"github.com/oob-relay/relay/relay/alertmanager"
)

// Inbound configures what the node takes in besides its API: replies by
// email and Alertmanager's webhooks, and the limits on replies on every
// channel. Incoming SMS need no section: they arrive on the Twilio webhook
// of every node with a public URL; NATS posts are a NATS provider's
// ingest.
type Inbound struct {
	// Replies keep replies from flooding an incident and auto-responders
	// from answering each other (see relay.ReplyLimits); every key has a
	// default.
	Replies relay.ReplyLimits `yaml:"replies"`
	// Email runs an SMTP server for replies; left out, none runs.
	Email *inbound.Config `yaml:"email"`
	// Alertmanager takes Prometheus Alertmanager's webhook at
	// POST /v1/hooks/alertmanager; left out, the path is not served.
	Alertmanager *alertmanager.Config `yaml:"alertmanager"`
}

func (in *Inbound) setDefaults() {
	in.Replies.SetDefaults()
	if in.Email != nil {
		in.Email.SetDefaults()
	}
	if in.Alertmanager != nil {
		in.Alertmanager.SetDefaults()
	}
}

func (in *Inbound) validate() []error {
	errs := prefixed("inbound.replies", in.Replies.Validate())
	if in.Email != nil {
		errs = append(errs, prefixed("inbound.email", in.Email.Validate())...)
	}
	if in.Alertmanager != nil {
		errs = append(errs, prefixed("inbound.alertmanager", in.Alertmanager.Validate())...)
	}
	return errs
}

func (in *Inbound) resolveSecrets(dir string, getenv func(string) string) []error {
	var errs []error
	if in.Email != nil {
		errs = append(errs, prefixed("inbound.email", in.Email.ResolveSecrets(dir, getenv))...)
	}
	if in.Alertmanager != nil {
		errs = append(errs, prefixed("inbound.alertmanager", in.Alertmanager.ResolveSecrets(dir, getenv))...)
	}
	return errs
}
