package main

import (
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	natsserver "github.com/nats-io/nats-server/v2/server"

	"github.com/oob-relay/relay/channels/email/mailsink"
	"github.com/oob-relay/relay/channels/twilio/emulator"
	"github.com/oob-relay/relay/channels/twilio/emulator/emulatortest"
	"github.com/oob-relay/relay/internal/testkit"
)

// sinks are the real counterparts a relay serve process delivers to.
type sinks struct {
	emu  *emulator.Emulator
	mail *mailsink.Sink
	nats *natsserver.Server
}

func startSinks(t testing.TB) *sinks {
	t.Helper()
	emu := emulatortest.Start(t, emulator.Options{Accounts: map[string]string{emulatortest.AccountSID: emulatortest.AuthToken}})
	mail, err := mailsink.Start(mailsink.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { mail.Close() })
	ns, err := natsserver.NewServer(&natsserver.Options{Host: "127.0.0.1", Port: -1, NoLog: true, NoSigs: true})
	if err != nil {
		t.Fatal(err)
	}
	go ns.Start()
	if !ns.ReadyForConnections(10 * time.Second) {
		t.Fatal("nats server not ready")
	}
	t.Cleanup(func() { ns.Shutdown(); ns.WaitForShutdown() })
	return &sinks{emu: emu, mail: mail, nats: ns}
}

// nodeConfig writes a config for a node delivering to the sinks and
// returns its path and the node's API URL.
func nodeConfig(t testing.TB, dir string, s *sinks, smsRate, emailRate float64) (path, url string) {
	t.Helper()
	addr := freeAddr(t)
	cfg := fmt.Sprintf(`node:
  name: crash-1
  data_dir: data
http:
  listen: %s
api:
  tokens:
    - name: ops-bot
      role: bot
      token_env: TEST_RELAY_TOKEN
roster_file: roster.yaml
delivery:
  backoff: {initial: 50ms, max: 500ms}
channels:
  sms:
    providers:
      - name: twilio-test
        %s
        twilio:
          account_sid: %s
          auth_token_env: TEST_TWILIO_TOKEN
          from: "+15005550006"
          api_url: %s
  email:
    providers:
      - name: smtp-test
        %s
        smtp:
          address: %s
          tls: none
          from: "relay <relay@example.com>"
  nats:
    providers:
      - name: nats-test
        nats:
          urls: [%s]
%s`, addr, limit(smsRate), emulatortest.AccountSID, s.emu.URL(), limit(emailRate), s.mail.Addr(), s.nats.ClientURL(), unlimitedRates)
	path = filepath.Join(dir, "relay.yaml")
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	return path, "http://" + addr
}

// limit is a provider's rate limit in the config; none for rate 0.
func limit(rate float64) string {
	if rate == 0 {
		return "rate: 0"
	}
	return fmt.Sprintf("rate: %g\n        burst: 10", rate)
}

const testToken = "test-token-0123456789abcdef"

// proc is a running relay serve process.
type proc struct {
	cmd    *exec.Cmd
	output testkit.LogBuffer // stdout and stderr
	exited chan struct{}
}

func (p *proc) log() string { return p.output.String() }

// serve starts relay serve and waits until its API is ready.
func serve(t testing.TB, cfgPath, url string) *proc {
	t.Helper()
	bin, err := exec.LookPath("relay")
	if err != nil {
		t.Fatal(err)
	}
	return serveWith(t, bin, cfgPath, url)
}

// serveWith is serve with the relay binary at bin.
func serveWith(t testing.TB, bin, cfgPath, url string) *proc {
	t.Helper()
	return serveClient(t, bin, cfgPath, url, http.DefaultClient)
}

// serveClient is serveWith asking for readiness with hc (an HTTPS client
// that trusts the node's CA, say), with env added to its environment.
func serveClient(t testing.TB, bin, cfgPath, url string, hc *http.Client, env ...string) *proc {
	t.Helper()
	p := &proc{exited: make(chan struct{})}
	p.cmd = exec.Command(bin, "serve", "--config", cfgPath)
	p.cmd.Env = append(os.Environ(), "TEST_RELAY_TOKEN="+testToken, "TEST_TWILIO_TOKEN="+emulatortest.AuthToken)
	p.cmd.Env = append(p.cmd.Env, env...)
	p.cmd.Stderr = &p.output
	p.cmd.Stdout = &p.output
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { p.cmd.Wait(); close(p.exited) }()
	t.Cleanup(func() {
		p.cmd.Process.Kill()
		<-p.exited
		if t.Failed() {
			t.Logf("relay serve log:\n%s", p.log())
		}
	})
	deadline := time.Now().Add(20 * time.Second)
	for {
		resp, err := hc.Get(url + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return p
			}
		}
		select {
		case <-p.exited:
			t.Fatalf("relay serve exited early:\n%s", p.log())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("relay serve not ready at %s:\n%s", url, p.log())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// kill ends the process with SIGKILL, as a power cut would.
func (p *proc) kill(t testing.TB) {
	t.Helper()
	if err := p.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	<-p.exited
}

// stop ends the process with SIGTERM and waits for a clean exit.
func (p *proc) stop(t testing.TB) {
	t.Helper()
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case <-p.exited:
	case <-time.After(30 * time.Second):
		t.Fatalf("relay serve did not stop on SIGTERM:\n%s", p.log())
	}
	if code := p.cmd.ProcessState.ExitCode(); code != 0 {
		t.Fatalf("relay serve exited %d on SIGTERM:\n%s", code, p.log())
	}
}

func freeAddr(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// writeRoster writes a roster of n people, each with a phone and an
// email, all in group "all".
func writeRoster(t testing.TB, dir string, n int) { writeRosterOf(t, dir, n, nil) }

// writeRosterOf is writeRoster whose people take the given channels, or
// every contact method when none is given.
func writeRosterOf(t testing.TB, dir string, n int, channels []string) {
	t.Helper()
	var b strings.Builder
	b.WriteString("people:\n")
	for i := range n {
		fmt.Fprintf(&b, "  - id: p%05d\n    name: 직원 %d\n    phone: \"+8210%08d\"\n    email: p%05d@example.com\n", i, i, i, i)
		if len(channels) > 0 {
			fmt.Fprintf(&b, "    channels: [%s]\n", strings.Join(channels, ", "))
		}
	}
	b.WriteString("groups:\n  - id: all\n    members: [")
	for i := range n {
		if i > 0 {
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, "p%05d", i)
	}
	b.WriteString("]\n")
	if err := os.WriteFile(filepath.Join(dir, "roster.yaml"), []byte(b.String()), 0o600); err != nil {
		t.Fatal(err)
	}
}

// shippedRelay builds relay as it ships into the test's temporary
// folder and returns its path: the race detector, which the tests' own
// binary carries, slows a process several times over, and a test of
// timing under load must run what production runs.
func shippedRelay(t testing.TB) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "relay")
	cmd := exec.Command(filepath.Join(runtime.GOROOT(), "bin", "go"), "build", "-o", path, ".")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return path
}
