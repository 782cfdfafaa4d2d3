// Package devstack runs a complete local relay for trying it out: a
// cluster of nodes (three unless told otherwise) whose SMS goes to a
// Twilio emulator, whose email goes to an SMTP sink
// over STARTTLS and whose NATS events go to an embedded NATS server, with a
// demo roster. Everything the sinks receive is printed in readable form.
package devstack

import (
	"context"
	"crypto/rand"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	natsserver "github.com/nats-io/nats-server/v2/server"
	natsgo "github.com/nats-io/nats.go"

	"github.com/oob-relay/relay/channels/email"
	"github.com/oob-relay/relay/channels/email/mailsink"
	"github.com/oob-relay/relay/channels/nats"
	"github.com/oob-relay/relay/channels/twilio"
	"github.com/oob-relay/relay/channels/twilio/emulator"
	"github.com/oob-relay/relay/cmd/relay/internal/launch"
	"github.com/oob-relay/relay/config"
	"github.com/oob-relay/relay/gossip"
	"github.com/oob-relay/relay/relay/secret"
	"github.com/oob-relay/relay/relay/trust"
)

// Credentials of the emulated Twilio account.
const (
	accountSID = "AC00000000000000000000000000000de0"
	authToken  = "devdevdevdevdevdevdevdevdevdev00"
	fromNumber = "+15005550006"
)

// Options configure a dev stack.
type Options struct {
	// DataDir keeps the node's store; empty means a temporary folder
	// removed by Close.
	DataDir string
	// HTTPAddr is the API's address; empty means 127.0.0.1:8080 when it
	// is free, else any free port.
	HTTPAddr string
	// Out receives what the sinks receive, in readable form.
	Out    io.Writer
	Logger *slog.Logger
	// Nodes is how many nodes form the dev cluster; zero means 3.
	Nodes int
	// TwilioSpec, when set, makes the emulator check every request
	// against Twilio's OpenAPI description (tests set it).
	TwilioSpec *emulator.Spec
}

// Stack is a running dev system.
type Stack struct {
	// URLs are the nodes' API base URLs; Token is an admin token.
	URLs  []string
	Token string

	out    io.Writer
	outMu  sync.Mutex
	nodes  []*devNode
	dir    string
	roster string
	log    *slog.Logger
	roots  *x509.CertPool
	mu     sync.Mutex // guards nodes' servers
	emu    *emulator.Emulator
	sink   *mailsink.Sink
	nats   *natsserver.Server
	watch  *natsgo.Conn
	tmpDir string
	// demo is the demo watched target and heartbeat.
	demo *demoWatch
	// secrets are the inbound paths' secrets.
	secrets secrets
	// phones and mails record what the demo people sent.
	sentMu sync.Mutex
	sent   []sentItem
}

// Start starts the sinks and the node.
func Start(ctx context.Context, opts Options) (st *Stack, err error) {
	if opts.Out == nil {
		opts.Out = io.Discard
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	s := &Stack{out: opts.Out}
	defer func() {
		if err != nil {
			s.Close(context.Background())
		}
	}()
	dir := opts.DataDir
	if dir == "" {
		if s.tmpDir, err = os.MkdirTemp("", "relay-dev-"); err != nil {
			return nil, err
		}
		dir = s.tmpDir
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}

	if err := s.startTwilio(opts.Logger, opts.TwilioSpec); err != nil {
		return nil, fmt.Errorf("twilio emulator: %w", err)
	}
	cert, err := s.startSMTP(opts.Logger)
	if err != nil {
		return nil, fmt.Errorf("smtp sink: %w", err)
	}
	if err := s.startNATS(); err != nil {
		return nil, fmt.Errorf("nats: %w", err)
	}
	if s.demo, err = startDemoWatch(); err != nil {
		return nil, fmt.Errorf("demo target: %w", err)
	}

	rosterPath := filepath.Join(dir, "roster.yaml")
	if _, err := os.Stat(rosterPath); errors.Is(err, os.ErrNotExist) {
		if err := os.WriteFile(rosterPath, []byte(DemoRoster), 0o600); err != nil {
			return nil, err
		}
	}
	s.Token, err = loadToken(filepath.Join(dir, "dev-token"))
	if err != nil {
		return nil, err
	}
	if s.secrets, err = loadSecrets(dir); err != nil {
		return nil, err
	}

	nodes := opts.Nodes
	if nodes <= 0 {
		nodes = 3
	}
	s.dir, s.roster, s.log, s.roots = dir, rosterPath, opts.Logger, cert.Pool
	// Every dev node's key, made now, in one trusted keys file: the dev
	// cluster is authenticated as a real one is.
	keysFile, err := devKeys(dir, nodes)
	if err != nil {
		return nil, err
	}
	for i := 1; i <= nodes; i++ {
		var ln net.Listener
		if i == 1 {
			ln, err = listen(opts.HTTPAddr)
		} else {
			ln, err = listenNear(s.nodes[0].cfg.HTTP.Listen, i-1)
		}
		if err != nil {
			return nil, err
		}
		gossipAddr, err := freeAddr()
		if err != nil {
			ln.Close()
			return nil, err
		}
		smtpAddr, err := freeAddr()
		if err != nil {
			ln.Close()
			return nil, err
		}
		cfg := s.config(devName(i), dir, rosterPath)
		s.demo.watchConfig(cfg, i)
		s.inboundConfig(cfg, smtpAddr)
		// The emulator posts receipts and key presses back to the node.
		cfg.HTTP.PublicURL = "http://" + ln.Addr().String()
		cfg.HTTP.Listen = ln.Addr().String()
		cfg.Cluster = &config.Cluster{Config: gossip.Config{Bind: gossipAddr, Advertise: gossipAddr, Preset: gossip.PresetLAN},
			TrustedKeysFile: keysFile}
		if len(s.nodes) > 0 {
			cfg.Cluster.Seeds = []string{s.nodes[0].cfg.Cluster.Bind}
		}
		cfg.SetDefaults()
		if err := errors.Join(cfg.Validate()); err != nil && !onlyClusterSecrets(err) {
			ln.Close()
			return nil, fmt.Errorf("dev config: %w", err)
		}
		n := &devNode{cfg: cfg}
		srv, err := launch.Start(ctx, cfg, s.launchOptions(n, ln))
		if err != nil {
			ln.Close()
			return nil, err
		}
		n.srv = srv
		s.nodes = append(s.nodes, n)
		s.URLs = append(s.URLs, srv.URL)
	}
	s.demo.wg.Add(1)
	go s.beat()
	return s, nil
}

// config is the configuration of one dev node.
func (s *Stack) config(name, dir, roster string) *config.Config {
	cfg := &config.Config{Dir: dir, RosterFile: roster}
	cfg.Node.Name = name
	cfg.Node.DataDir = filepath.Join(dir, name)
	cfg.API.Tokens = []config.Token{{Name: "dev-admin", Role: "admin", Token: secret.New(s.Token)}}
	cfg.Channels.SMS.Providers = []config.SMSProvider{{Name: "twilio-emulator", Twilio: twilio.Config{
		AccountSID: accountSID, AuthToken: secret.New(authToken), From: fromNumber, APIURL: s.emu.URL(),
	}}}
	cfg.Channels.Voice.Providers = []config.VoiceProvider{{Name: "twilio-voice-emulator", Twilio: twilio.Config{
		AccountSID: accountSID, AuthToken: secret.New(authToken), From: fromNumber, APIURL: s.emu.URL(),
	}}}
	cfg.Channels.Email.Providers = []config.EmailProvider{{Name: "smtp-sink", SMTP: email.Config{
		Address: s.sink.Addr(), TLS: email.TLSStartTLS, From: "relay 알림 <relay@relay.localhost>",
	}}}
	cfg.Channels.NATS.Providers = []config.NATSProvider{{Name: "nats-embedded", NATS: nats.Config{
		URLs: []string{s.nats.ClientURL()},
	}}}
	cfg.SetDefaults()
	return cfg
}

// TwilioViolations lists the requests and answers the emulator found
// outside Twilio's OpenAPI description.
func (s *Stack) TwilioViolations() []string { return s.emu.Violations() }

// Emulator returns the Twilio emulator, for tests to script.
func (s *Stack) Emulator() *emulator.Emulator { return s.emu }

// Sink returns the SMTP sink, for tests to read.
func (s *Stack) Sink() *mailsink.Sink { return s.sink }

// Close stops the nodes, then the sinks, and removes a temporary data dir.
func (s *Stack) Close(ctx context.Context) error {
	var errs []error
	if s.demo != nil {
		errs = append(errs, s.demo.close(ctx))
	}
	s.mu.Lock()
	for _, n := range s.nodes {
		if n.srv != nil {
			errs = append(errs, n.srv.Shutdown(ctx))
			n.srv = nil
		}
	}
	s.mu.Unlock()
	if s.watch != nil {
		s.watch.Close()
	}
	if s.nats != nil {
		s.nats.Shutdown()
		s.nats.WaitForShutdown()
	}
	if s.sink != nil {
		errs = append(errs, s.sink.Close())
	}
	if s.emu != nil {
		errs = append(errs, s.emu.Close())
	}
	if s.tmpDir != "" {
		errs = append(errs, os.RemoveAll(s.tmpDir))
	}
	return errors.Join(errs...)
}

// listen binds addr, or 127.0.0.1:8080 if free, or any free port.
func listen(addr string) (net.Listener, error) {
	if addr != "" {
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			return nil, fmt.Errorf("--http %s: %w", addr, err)
		}
		return ln, nil
	}
	if ln, err := net.Listen("tcp", "127.0.0.1:8080"); err == nil {
		return ln, nil
	}
	return net.Listen("tcp", "127.0.0.1:0")
}

// loadToken reads the dev admin token kept in the data dir, or makes one,
// so a restarted relay dev keeps the token already exported.
func loadToken(path string) (string, error) {
	if b, err := os.ReadFile(path); err == nil && len(b) >= 32 {
		return string(b), nil
	}
	var raw [16]byte
	if _, err := rand.Read(raw[:]); err != nil {
		return "", err
	}
	tok := "dev-" + hex.EncodeToString(raw[:])
	return tok, os.WriteFile(path, []byte(tok), 0o600)
}

func (s *Stack) printf(format string, args ...any) {
	s.outMu.Lock()
	defer s.outMu.Unlock()
	fmt.Fprintf(s.out, "%s  "+format+"\n", append([]any{time.Now().Format("15:04:05")}, args...)...)
}

func devName(i int) string { return fmt.Sprintf("dev-%d", i) }

// devKeys makes (or reads) the key of each of the dev nodes in its data
// dir and writes their trusted keys file in dir.
func devKeys(dir string, nodes int) (string, error) {
	var b strings.Builder
	for i := 1; i <= nodes; i++ {
		s, err := trust.LoadOrCreate(filepath.Join(dir, devName(i)), devName(i))
		if err != nil {
			return "", err
		}
		b.WriteString(s.Line() + "\n")
	}
	path := filepath.Join(dir, "trusted-keys")
	return path, os.WriteFile(path, []byte(b.String()), 0o600)
}
