package devstack

import (
	"encoding/json"
	"errors"
	"log/slog"
	"strings"
	"time"

	natsserver "github.com/nats-io/nats-server/v2/server"
	natsgo "github.com/nats-io/nats.go"

	"github.com/oob-relay/relay/channels/email/mailsink"
	"github.com/oob-relay/relay/channels/twilio/emulator"
)

func (s *Stack) startTwilio(log *slog.Logger, spec *emulator.Spec) error {
	emu, err := emulator.New(emulator.Options{
		Spec:     spec,
		Accounts: map[string]string{accountSID: authToken},
		Logger:   log.With("sink", "twilio"),
		OnMessage: func(m emulator.Message) {
			s.printf("[sms]   %s → %s (%d segment(s), %s)\n         %s", m.From, m.To, m.Segments, m.Encoding, indent(m.Body))
		},
		OnCall: func(c emulator.Call) {
			s.printf("[voice] %s → %s (answer it with a key press in the playground, /dev/)", c.From, c.To)
		},
	})
	if err != nil {
		return err
	}
	s.emu = emu
	return emu.Start("127.0.0.1:0")
}

func (s *Stack) startSMTP(log *slog.Logger) (*mailsink.Cert, error) {
	cert, err := mailsink.SelfSigned("127.0.0.1", "localhost")
	if err != nil {
		return nil, err
	}
	sink, err := mailsink.Start(mailsink.Options{
		TLS:    cert.Server,
		Logger: log.With("sink", "smtp"),
		OnMail: func(m mailsink.Mail) {
			to := strings.Join(m.Envelope.To, ", ")
			s.printf("[email] %s → %s\n         Subject: %s\n         %s", m.Envelope.From, to, m.Subject, indent(m.Text))
		},
	})
	if err != nil {
		return nil, err
	}
	s.sink = sink
	return cert, nil
}

func (s *Stack) startNATS() error {
	srv, err := natsserver.NewServer(&natsserver.Options{Host: "127.0.0.1", Port: -1, NoLog: true, NoSigs: true})
	if err != nil {
		return err
	}
	go srv.Start()
	if !srv.ReadyForConnections(10 * time.Second) {
		srv.Shutdown()
		return errors.New("embedded NATS server did not start within 10s")
	}
	s.nats = srv
	nc, err := natsgo.Connect(srv.ClientURL(), natsgo.Name("relay dev watcher"))
	if err != nil {
		return err
	}
	s.watch = nc
	_, err = nc.Subscribe("relay.incident.>", func(m *natsgo.Msg) {
		var ev struct {
			Incident string `json:"incident"`
			Severity string `json:"severity"`
			Text     string `json:"text"`
		}
		if json.Unmarshal(m.Data, &ev) != nil {
			s.printf("[nats]  %s: %d bytes (not JSON)", m.Subject, len(m.Data))
			return
		}
		s.printf("[nats]  %s (%s)\n         %s", m.Subject, ev.Severity, indent(ev.Text))
	})
	return err
}

func indent(s string) string {
	return strings.ReplaceAll(strings.TrimRight(s, "\n"), "\n", "\n         ")
}

// DemoRoster is the roster relay dev starts with.
const DemoRoster = `# The demo roster of relay dev. Change it and apply it with
#   relay roster apply roster.yaml
people:
  - id: kim
    name: 김민지
    phone: "+821012345678"
    email: minji.kim@example.com
    channels: [sms, email, voice]
    lang: ko
    roles: [commander]
  - id: lee
    name: 이서준
    phone: "+821098765432"
    email: seojun.lee@example.com
    channels: [sms]
    lang: ko
  - id: park
    name: 박지훈
    email: jihoon.park@example.com
    lang: ko
  - id: alex
    name: Alex Morgan
    phone: "+14155550123"
    email: alex.morgan@example.com
    channels: [email, sms]
    lang: en
    roles: [admin]
groups:
  - id: oncall
    name: 당직
    members: [kim, lee]
  - id: infra
    name: 인프라팀
    members: [kim, lee, park, alex]
`
