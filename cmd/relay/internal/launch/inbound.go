package launch

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/oob-relay/relay/channels/email/inbound"
	"github.com/oob-relay/relay/channels/nats"
	"github.com/oob-relay/relay/channels/twilio"
	"github.com/oob-relay/relay/config"
	"github.com/oob-relay/relay/relay"
	"github.com/oob-relay/relay/relay/alertmanager"
	"github.com/oob-relay/relay/relay/node"
	"github.com/oob-relay/relay/relay/problem"
)

// AlertmanagerPath is where a node takes Alertmanager's webhooks.
const AlertmanagerPath = "/v1/hooks/alertmanager"

type natsIngest struct {
	provider string
	pub      *nats.Publisher
	cfg      nats.IngestConfig
}

// startInbound starts what takes replies and posts besides the API: the
// SMTP server for replies and the NATS ingests.
func (s *Server) startInbound(ctx context.Context, cfg *config.Config, ingests []natsIngest) error {
	n := s.Node
	if ec := cfg.Inbound.Email; ec != nil {
		o, err := ec.Options()
		if err != nil {
			return fmt.Errorf("inbound.email.%w", err)
		}
		o.Receiver = n
		o.Post = func(ctx context.Context, p *inbound.BotPost) (string, error) {
			acc, err := n.PostToIncident(ctx, node.Author{Name: p.Bot, Via: relay.ViaEmail}, p.Incident, p.Text, p.Severity, p.To, p.Key)
			if err != nil {
				return "", err
			}
			return acc.Message.ID, nil
		}
		o.Registerer = s.Registry
		o.Logger = s.log.With("inbound", "email")
		o.Lookup = func(addr string) (string, bool) { return personByEmail(n, addr) }
		o.Incident = func(id string) bool {
			_, err := n.Store().Incident(id)
			return err == nil
		}
		srv, err := inbound.New(o)
		if err != nil {
			return fmt.Errorf("inbound.email: %w", err)
		}
		ln, err := net.Listen("tcp", o.Addr)
		if err != nil {
			return fmt.Errorf("inbound.email.listen: %w", err)
		}
		go func() {
			if err := srv.Serve(ln); err != nil && !errors.Is(err, inbound.ErrServerClosed) {
				s.log.Error("the SMTP server for replies stopped", "err", err)
			}
		}()
		s.log.Info("taking replies by email", "smtp", ln.Addr().String(), "domain", o.Domain)
		s.inbound = append(s.inbound, func(ctx context.Context) { srv.Shutdown(ctx) })
	}
	for _, in := range ingests {
		ing, err := nats.Subscribe(ctx, in.pub.Conn(), in.cfg, natsInbox{n}, nats.Options{
			Logger:     s.log.With("inbound", "nats", "provider", in.provider),
			Registerer: prometheus.WrapRegistererWith(prometheus.Labels{"provider": in.provider}, s.Registry),
		})
		if err != nil {
			return fmt.Errorf("nats ingest: %w", err)
		}
		s.log.Info("taking posts over NATS", "provider", in.provider, "post", in.cfg.PostSubject+".<bot>", "ack", in.cfg.AckSubject+".<bot>",
			"queue_group", in.cfg.QueueGroup, "bots", len(in.cfg.Bots))
		s.inbound = append(s.inbound, func(ctx context.Context) { ing.Close(ctx) })
	}
	return nil
}

func (s *Server) stopInbound(ctx context.Context) {
	for _, stop := range s.inbound {
		stop(ctx)
	}
	s.inbound = nil
}

func personByEmail(n *node.Node, addr string) (string, bool) {
	roster, err := n.Roster()
	if err != nil {
		return "", false
	}
	for _, p := range roster.People {
		if p.Email != "" && strings.EqualFold(p.Email, addr) {
			return p.ID, true
		}
	}
	return "", false
}

// natsInbox takes NATS posts and acknowledgements into the node.
type natsInbox struct{ n *node.Node }

func (b natsInbox) Post(ctx context.Context, p *relay.Post, author, key string) (string, bool, error) {
	acc, err := b.n.Post(ctx, p, node.Author{Name: author, Via: relay.ViaNATS}, key)
	if errors.Is(err, node.ErrKeyReused) {
		return "", false, &problem.Problem{Code: problem.CodeKeyReused, Message: err.Error()}
	}
	if err != nil {
		return "", false, err
	}
	return acc.Message.ID, acc.Replayed, nil
}

func (b natsInbox) Ack(ctx context.Context, bot string, a nats.AckRequest) ([]string, error) {
	incident := a.Incident
	if a.Message != "" {
		m, err := b.n.Store().Message(a.Message)
		if err != nil {
			return nil, err
		}
		incident = m.Incident
	}
	if a.Answer != 0 {
		if _, err := b.n.AnswerIncident(ctx, a.Person, incident, a.Answer, relay.ChannelNATS, bot); err != nil {
			return nil, err
		}
	}
	return b.n.AckIncident(ctx, a.Person, incident, relay.ChannelNATS)
}

func (b natsInbox) Member(_ context.Context, person string, targets []string) (bool, error) {
	roster, err := b.n.OnCallRoster()
	if err != nil {
		return false, err
	}
	return roster.IncludesAt(person, targets, time.Now()), nil
}

// twilioNode is the node as Twilio's webhooks see it.
type twilioNode struct{ *node.Node }

var (
	_ twilio.Node           = twilioNode{}
	_ twilio.CanaryRecorder = twilioNode{}
)

func (n twilioNode) Delivery(id string) (*relay.Delivery, error) { return n.Store().Delivery(id) }
func (n twilioNode) Message(id string) (*relay.Message, error)   { return n.Store().Message(id) }

func alertmanagerHandler(n *node.Node, cfg *alertmanager.Config, log *slog.Logger, reg prometheus.Registerer) http.Handler {
	return alertmanager.Handler(alertmanager.Options{
		Config: cfg, Logger: log.With("inbound", "alertmanager"), Registerer: reg,
		Post: func(ctx context.Context, p *relay.Post, key string) (string, bool, error) {
			acc, err := n.Post(ctx, p, node.Author{Name: "alertmanager", Via: relay.ViaAlertmanager}, key)
			if err != nil {
				return "", false, err
			}
			return acc.Message.ID, acc.Replayed, nil
		},
		Heartbeat: func(ctx context.Context, receiver string, firing bool) (bool, error) {
			if !n.Heartbeat(receiver) {
				return false, nil
			}
			if !firing {
				return true, nil
			}
			return true, n.Beat(ctx, receiver, "alertmanager")
		},
	})
}

// ownNumbers lists relay's own sending numbers.
func ownNumbers(cfg *config.Config) []string {
	var out []string
	for _, p := range cfg.Channels.SMS.Providers {
		if p.Twilio.From != "" {
			out = append(out, p.Twilio.From)
		}
	}
	for _, p := range cfg.Channels.Voice.Providers {
		if p.Twilio.From != "" {
			out = append(out, p.Twilio.From)
		}
	}
	return out
}
