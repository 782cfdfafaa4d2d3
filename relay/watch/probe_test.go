package watch_test

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/oob-relay/relay/relay/watch"
)

func httpTarget(url string) watch.Target {
	return watch.Target{Name: "web", Kind: watch.KindHTTP, URL: url, Timeout: 2 * time.Second, To: []string{"group:ops"}}
}

func TestProbeHTTP(t *testing.T) {
	status := http.StatusOK
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(status)
		w.Write([]byte("db: ok\n판교: 정상"))
	}))
	defer srv.Close()
	var p watch.Prober
	ctx := t.Context()

	if r := p.Probe(ctx, httpTarget(srv.URL)); !r.Up || r.Reason != "" {
		t.Errorf("a 200 answer: %+v", r)
	}
	status = http.StatusServiceUnavailable
	if r := p.Probe(ctx, httpTarget(srv.URL)); r.Up || r.Reason != "status 503" {
		t.Errorf("a 503 answer: %+v", r)
	}
	tg := httpTarget(srv.URL)
	tg.Status = []int{503}
	if r := p.Probe(ctx, tg); !r.Up {
		t.Errorf("503 listed as up: %+v", r)
	}
	status = http.StatusOK
	tg = httpTarget(srv.URL)
	tg.Body = regexp.MustCompile(`판교: 정상`)
	if r := p.Probe(ctx, tg); !r.Up {
		t.Errorf("matching body: %+v", r)
	}
	tg.Body = regexp.MustCompile(`db: down`)
	if r := p.Probe(ctx, tg); r.Up || !strings.Contains(r.Reason, "body does not match") {
		t.Errorf("body not matching: %+v", r)
	}
	srv.Close()
	if r := p.Probe(ctx, httpTarget(srv.URL)); r.Up || !strings.Contains(r.Reason, "refused") {
		t.Errorf("a closed server: %+v", r)
	}
}

func TestProbeHTTPTimeout(t *testing.T) {
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	defer srv.Close()
	defer close(release)
	tg := httpTarget(srv.URL)
	tg.Timeout = 100 * time.Millisecond
	var p watch.Prober
	if r := p.Probe(t.Context(), tg); r.Up || r.Reason != "no answer within 100ms" {
		t.Errorf("a server that never answers: %+v", r)
	}
}

func TestProbeHTTPSCertificate(t *testing.T) {
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	defer srv.Close()
	roots := srv.Client().Transport.(*http.Transport).TLSClientConfig.RootCAs
	notAfter := srv.Certificate().NotAfter

	// Without the server's CA, the certificate is not valid.
	var strict watch.Prober
	if r := strict.Probe(t.Context(), httpTarget(srv.URL)); r.Up || !strings.Contains(r.Reason, "certificate") {
		t.Errorf("an unknown CA: %+v", r)
	}
	now := notAfter.Add(-72 * time.Hour)
	p := watch.Prober{RootCAs: roots, Now: func() time.Time { return now }}
	tg := httpTarget(srv.URL)
	tg.CertExpiry = 7 * 24 * time.Hour
	r := p.Probe(t.Context(), tg)
	if r.Up || !strings.Contains(r.Reason, "certificate expires "+notAfter.UTC().Format(time.DateOnly)) || !strings.Contains(r.Reason, "72h") {
		t.Errorf("a certificate expiring in 3 days, 7 asked: %+v", r)
	}
	if !r.CertExpires.Equal(notAfter) {
		t.Errorf("CertExpires %s, want %s", r.CertExpires, notAfter)
	}
	tg.CertExpiry = 24 * time.Hour
	if r := p.Probe(t.Context(), tg); !r.Up {
		t.Errorf("a certificate expiring in 3 days, 1 asked: %+v", r)
	}
}

// TestProbeThroughBrokenDialer: the dialer is the node's network; when it
// fails, every kind of probe says so.
func TestProbeThroughBrokenDialer(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	tcp := watch.Target{Name: "db", Kind: watch.KindTCP, Address: ln.Addr().String(), Timeout: time.Second}
	var ok watch.Prober
	if r := ok.Probe(t.Context(), tcp); !r.Up {
		t.Errorf("tcp to a listener: %+v", r)
	}
	broken := watch.Prober{Dial: func(ctx context.Context, network, address string) (net.Conn, error) {
		return nil, &net.OpError{Op: "dial", Net: network, Err: errors.New("network is unreachable")}
	}}
	if r := broken.Probe(t.Context(), tcp); r.Up || r.Reason != "dial: network is unreachable" {
		t.Errorf("tcp through a broken network: %+v", r)
	}
	ln.Close()
	if r := ok.Probe(t.Context(), tcp); r.Up || !strings.Contains(r.Reason, "refused") {
		t.Errorf("tcp to a closed port: %+v", r)
	}
}

func TestProbeDNS(t *testing.T) {
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	mux := dns.NewServeMux()
	mux.HandleFunc(".", func(w dns.ResponseWriter, q *dns.Msg) {
		m := new(dns.Msg)
		m.SetReply(q)
		if q.Question[0].Name == "db.corp.example." && q.Question[0].Qtype == dns.TypeA {
			rr, _ := dns.NewRR("db.corp.example. 60 IN A 10.0.0.5")
			m.Answer = append(m.Answer, rr)
		} else if q.Question[0].Name != "db.corp.example." {
			m.Rcode = dns.RcodeNameError
		}
		w.WriteMsg(m)
	})
	srv := &dns.Server{PacketConn: pc, Handler: mux}
	go srv.ActivateAndServe()
	defer srv.Shutdown()

	var p watch.Prober
	tg := watch.Target{Name: "dns", Kind: watch.KindDNS, Host: "db.corp.example", Server: pc.LocalAddr().String(), Timeout: 2 * time.Second}
	if r := p.Probe(t.Context(), tg); !r.Up {
		t.Errorf("a name that resolves: %+v", r)
	}
	tg.Host = "gone.corp.example"
	if r := p.Probe(t.Context(), tg); r.Up || r.Reason != "no such host gone.corp.example" {
		t.Errorf("a name that does not: %+v", r)
	}
}

func TestTargetCheck(t *testing.T) {
	good := watch.Target{Name: "web", Kind: watch.KindHTTP, URL: "https://status.example.com/health", To: []string{"group:ops"}}
	if err := good.Check(); err != nil {
		t.Fatalf("a good target: %v", err)
	}
	for _, c := range []struct {
		edit func(*watch.Target)
		says string
	}{
		{func(t *watch.Target) { t.Name = "웹 서버" }, "name"},
		{func(t *watch.Target) { t.Kind = "icmp" }, "kind"},
		{func(t *watch.Target) { t.URL = "ftp://x" }, "url"},
		{func(t *watch.Target) { t.Status = []int{99} }, "status"},
		{func(t *watch.Target) { t.Kind, t.Address = watch.KindTCP, "db:0" }, "address"},
		{func(t *watch.Target) { t.Kind, t.Host = watch.KindDNS, "" }, "host"},
		{func(t *watch.Target) { t.Timeout, t.Interval = time.Minute, time.Second }, "timeout"},
		{func(t *watch.Target) { t.For = -time.Second }, "negative"},
		{func(t *watch.Target) { t.To = nil }, "to"},
	} {
		tg := good
		c.edit(&tg)
		if err := tg.Check(); err == nil || !strings.Contains(err.Error(), c.says) {
			t.Errorf("%+v: %v, want an error naming %s", tg, err, c.says)
		}
	}
}
