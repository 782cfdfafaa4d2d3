package main

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	natsserver "github.com/nats-io/nats-server/v2/server"
	"go.uber.org/goleak"

	"github.com/oob-relay/relay/channels/email/mailsink"
	"github.com/oob-relay/relay/channels/twilio/emulator"
	"github.com/oob-relay/relay/channels/twilio/emulator/emulatortest"
	"github.com/oob-relay/relay/relay"
	"github.com/oob-relay/relay/relay/client"
)

// benchPeople is the roster size of BenchmarkServeRSS.
const benchPeople = 2000

// BenchmarkServeRSS measures the resident memory of a real relay serve
// process delivering to the real sinks (the Twilio emulator, an SMTP sink
// and a NATS server, all in this process) with no rate limit: once idle
// with a roster of 2,000 people loaded, and again after fan-outs to all of
// them on sms and email (plus the NATS broadcast) have settled. Each
// iteration is one fan-out, timed from the post until the node reports
// every delivery settled; run it with -benchtime 1x for one fan-out.
//
// It reports rss_idle_MiB, rss_after_MiB, the process's peak resident
// memory (rss_peak_MiB, VmHWM) and the deliveries settled per second.
func BenchmarkServeRSS(b *testing.B) {
	leaks := goleak.IgnoreCurrent()
	b.Cleanup(func() { goleak.VerifyNone(b, leaks) })
	dir := b.TempDir()
	s := benchStartSinks(b)
	benchWriteRoster(b, dir, benchPeople)
	cfg, base := benchNodeConfig(b, dir, s)
	p := benchServe(b, cfg, base)
	status := fmt.Sprintf("/proc/%d/status", p.cmd.Process.Pid)

	u, err := url.Parse(base)
	if err != nil {
		b.Fatal(err)
	}
	tr := &http.Transport{}
	b.Cleanup(tr.CloseIdleConnections)
	c := client.New([]*url.URL{u}, testToken, &http.Client{Transport: tr, Timeout: 30 * time.Second})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	rssIdle := benchProcStatus(b, status, "VmRSS")

	const want = 2*benchPeople + 1
	b.ResetTimer()
	for i := range b.N {
		acc, err := c.Post(ctx, &relay.Post{Incident: "idc-fire", Text: "전사 공지: 서울 IDC 화재, 판교로 전환 중",
			To: []string{"group:all"}, Severity: relay.SeverityCritical}, "")
		if err != nil {
			b.Fatal(err)
		}
		if acc.Deliveries != want {
			b.Fatalf("fan-out has %d deliveries, want %d", acc.Deliveries, want)
		}
		// Wait on the sinks, which signal each arrival, and only then ask
		// the node, whose answer lists every delivery.
		if err := s.emu.WaitRequests(ctx, (i+1)*benchPeople); err != nil {
			b.Fatalf("SMS at the emulator: %d of %d: %v", s.emu.Requests(), (i+1)*benchPeople, err)
		}
		if _, err := s.mail.WaitMails(ctx, (i+1)*benchPeople); err != nil {
			b.Fatalf("mails at the sink: %d of %d: %v", len(s.mail.Mails()), (i+1)*benchPeople, err)
		}
		benchSettled(b, ctx, c, acc.ID, want)
	}
	b.StopTimer()

	if got := len(s.emu.Messages()); got != b.N*benchPeople {
		b.Errorf("the emulator holds %d messages, want %d", got, b.N*benchPeople)
	}
	if got := len(s.mail.Mails()); got != b.N*benchPeople {
		b.Errorf("the mail sink holds %d mails, want %d", got, b.N*benchPeople)
	}
	b.ReportMetric(rssIdle, "rss_idle_MiB")
	b.ReportMetric(benchProcStatus(b, status, "VmRSS"), "rss_after_MiB")
	b.ReportMetric(benchProcStatus(b, status, "VmHWM"), "rss_peak_MiB")
	b.ReportMetric(float64(b.N*want)/b.Elapsed().Seconds(), "deliveries/s")
}

// benchSettled waits until the node reports message id settled, and
// checks that every one of its want deliveries was sent or delivered.
func benchSettled(b *testing.B, ctx context.Context, c *client.Client, id string, want int) {
	b.Helper()
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		m, err := c.Message(ctx, id)
		if err != nil {
			b.Fatal(err)
		}
		if m.Settled {
			if ok := m.Summary[relay.StatusSent] + m.Summary[relay.StatusDelivered]; ok != want {
				b.Fatalf("message %s settled with %v, want %d sent or delivered", id, m.Summary, want)
			}
			return
		}
		select {
		case <-tick.C:
		case <-ctx.Done():
			b.Fatalf("message %s not settled: %v", id, m.Summary)
		}
	}
}

// benchProcStatus returns a memory field (VmRSS, VmHWM) of a
// /proc/<pid>/status file in MiB.
func benchProcStatus(tb testing.TB, path, field string) float64 {
	tb.Helper()
	f, err := os.Open(path)
	if err != nil {
		tb.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), field+":"); ok {
			kb, err := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 64)
			if err != nil {
				tb.Fatalf("%s: %s %q: %v", path, field, v, err)
			}
			return kb / 1024
		}
	}
	tb.Fatalf("%s has no %s line", path, field)
	return 0
}

// The helpers below do what startSinks, nodeConfig, serve and writeRoster
// in process_test.go do, for a benchmark: those take a *testing.T.
// benchNodeConfig also differs in leaving the providers without a rate
// limit, which nodeConfig cannot express: its burst: 10 is refused
// without a rate.

func benchStartSinks(tb testing.TB) *sinks {
	tb.Helper()
	emu := emulatortest.Start(tb, emulator.Options{Accounts: map[string]string{emulatortest.AccountSID: emulatortest.AuthToken}})
	mail, err := mailsink.Start(mailsink.Options{})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { mail.Close() })
	ns, err := natsserver.NewServer(&natsserver.Options{Host: "127.0.0.1", Port: -1, NoLog: true, NoSigs: true})
	if err != nil {
		tb.Fatal(err)
	}
	go ns.Start()
	if !ns.ReadyForConnections(10 * time.Second) {
		tb.Fatal("nats server not ready")
	}
	tb.Cleanup(func() { ns.Shutdown(); ns.WaitForShutdown() })
	return &sinks{emu: emu, mail: mail, nats: ns}
}

func benchNodeConfig(tb testing.TB, dir string, s *sinks) (path, url string) {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	cfg := fmt.Sprintf(`node:
  name: bench-1
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
        twilio:
          account_sid: %s
          auth_token_env: TEST_TWILIO_TOKEN
          from: "+15005550006"
          api_url: %s
  email:
    providers:
      - name: smtp-test
        smtp:
          address: %s
          tls: none
          from: "relay <relay@example.com>"
  nats:
    providers:
      - name: nats-test
        nats:
          urls: [%s]
`, addr, emulatortest.AccountSID, s.emu.URL(), s.mail.Addr(), s.nats.ClientURL())
	path = filepath.Join(dir, "relay.yaml")
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		tb.Fatal(err)
	}
	return path, "http://" + addr
}

func benchServe(tb testing.TB, cfgPath, url string) *proc {
	tb.Helper()
	bin, err := exec.LookPath("relay")
	if err != nil {
		tb.Fatal(err)
	}
	p := &proc{exited: make(chan struct{})}
	p.cmd = exec.Command(bin, "serve", "--config", cfgPath)
	p.cmd.Env = append(os.Environ(), "TEST_RELAY_TOKEN="+testToken, "TEST_TWILIO_TOKEN="+emulatortest.AuthToken)
	p.cmd.Stderr = p
	p.cmd.Stdout = p
	if err := p.cmd.Start(); err != nil {
		tb.Fatal(err)
	}
	go func() { p.cmd.Wait(); close(p.exited) }()
	tb.Cleanup(func() {
		p.cmd.Process.Kill()
		<-p.exited
		if tb.Failed() {
			tb.Logf("relay serve log:\n%s", p.log())
		}
	})
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		resp, err := http.Get(url + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return p
			}
		}
		select {
		case <-tick.C:
		case <-p.exited:
			tb.Fatalf("relay serve exited early:\n%s", p.log())
		case <-ctx.Done():
			tb.Fatalf("relay serve not ready at %s:\n%s", url, p.log())
		}
	}
}

func benchWriteRoster(tb testing.TB, dir string, n int) {
	tb.Helper()
	var b strings.Builder
	b.WriteString("people:\n")
	for i := range n {
		fmt.Fprintf(&b, "  - id: p%05d\n    name: 직원 %d\n    phone: \"+8210%08d\"\n    email: p%05d@example.com\n", i, i, i, i)
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
		tb.Fatal(err)
	}
}
