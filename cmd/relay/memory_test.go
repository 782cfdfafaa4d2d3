package main

import (
	"bufio"
	"context"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/oob-relay/relay/internal/testkit"
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
	testkit.NoLeaks(b)
	dir := b.TempDir()
	s := startSinks(b)
	writeRoster(b, dir, benchPeople)
	cfg, base := nodeConfig(b, dir, s, 0, 0)
	p := serve(b, cfg, base)
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
