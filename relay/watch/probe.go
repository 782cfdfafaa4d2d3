package watch

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"strings"
	"time"
)

// MaxBody is how much of an HTTP answer a probe reads and matches.
const MaxBody = 64 << 10

// Result is what one probe saw.
type Result struct {
	Up bool
	// Reason says why the target is down, in a few words; empty when up.
	Reason  string
	Latency time.Duration
	// CertExpires is when the https target's certificate expires.
	CertExpires time.Time
}

// Prober probes targets from this node.
type Prober struct {
	// Dial opens connections; nil means a net.Dialer. Tests give one that
	// fails on purpose, as one site's broken network would.
	Dial func(ctx context.Context, network, address string) (net.Conn, error)
	// RootCAs verifies https targets; nil means the system's roots.
	RootCAs *x509.CertPool
	Now     func() time.Time
}

func (p *Prober) dial(ctx context.Context, network, address string) (net.Conn, error) {
	if p.Dial != nil {
		return p.Dial(ctx, network, address)
	}
	var d net.Dialer
	return d.DialContext(ctx, network, address)
}

func (p *Prober) now() time.Time {
	if p.Now != nil {
		return p.Now()
	}
	return time.Now()
}

// Probe probes t once, within its timeout.
func (p *Prober) Probe(ctx context.Context, t Target) Result {
	t = t.WithDefaults()
	ctx, cancel := context.WithTimeout(ctx, t.Timeout)
	defer cancel()
	start := time.Now()
	var r Result
	switch t.Kind {
	case KindHTTP:
		r = p.probeHTTP(ctx, t)
	case KindTCP:
		r = p.probeTCP(ctx, t)
	case KindDNS:
		r = p.probeDNS(ctx, t)
	default:
		r = Result{Reason: "unknown kind " + t.Kind}
	}
	r.Latency = time.Since(start)
	if !r.Up && ctx.Err() != nil && errors.Is(ctx.Err(), context.DeadlineExceeded) {
		r.Reason = fmt.Sprintf("no answer within %s", t.Timeout)
	}
	return r
}

func (p *Prober) probeTCP(ctx context.Context, t Target) Result {
	c, err := p.dial(ctx, "tcp", t.Address)
	if err != nil {
		return Result{Reason: reason(err)}
	}
	c.Close()
	return Result{Up: true}
}

func (p *Prober) probeDNS(ctx context.Context, t Target) Result {
	res := &net.Resolver{PreferGo: true, Dial: func(ctx context.Context, network, address string) (net.Conn, error) {
		if t.Server != "" {
			address = t.Server
		}
		return p.dial(ctx, network, address)
	}}
	addrs, err := res.LookupHost(ctx, t.Host)
	if err != nil {
		var de *net.DNSError
		if errors.As(err, &de) && de.IsNotFound {
			return Result{Reason: "no such host " + t.Host}
		}
		return Result{Reason: reason(err)}
	}
	if len(addrs) == 0 {
		return Result{Reason: "no addresses for " + t.Host}
	}
	return Result{Up: true}
}

func (p *Prober) probeHTTP(ctx context.Context, t Target) Result {
	tr := &http.Transport{
		DialContext:       p.dial,
		TLSClientConfig:   &tls.Config{RootCAs: p.RootCAs, MinVersion: tls.VersionTLS12},
		DisableKeepAlives: true,
		Proxy:             nil,
	}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, t.URL, nil)
	if err != nil {
		return Result{Reason: "bad url"}
	}
	req.Header.Set("User-Agent", "relay-watch")
	resp, err := client.Do(req)
	if err != nil {
		return Result{Reason: reason(err)}
	}
	defer resp.Body.Close()
	var r Result
	if resp.TLS != nil && len(resp.TLS.PeerCertificates) > 0 {
		r.CertExpires = resp.TLS.PeerCertificates[0].NotAfter
	}
	if !statusUp(t.Status, resp.StatusCode) {
		r.Reason = fmt.Sprintf("status %d", resp.StatusCode)
		return r
	}
	if t.Body != nil {
		body, err := io.ReadAll(io.LimitReader(resp.Body, MaxBody))
		if err != nil {
			r.Reason = reason(err)
			return r
		}
		if !t.Body.Match(body) {
			r.Reason = "body does not match " + t.Body.String()
			return r
		}
	}
	if t.CertExpiry > 0 && !r.CertExpires.IsZero() {
		if left := r.CertExpires.Sub(p.now()); left < t.CertExpiry {
			r.Reason = fmt.Sprintf("certificate expires %s (in %s)", r.CertExpires.UTC().Format(time.DateOnly), left.Round(time.Hour))
			return r
		}
	}
	r.Up = true
	return r
}

func statusUp(want []int, got int) bool {
	if len(want) == 0 {
		return got >= 200 && got < 400
	}
	return slices.Contains(want, got)
}

// reason says in a few words why a connection or request failed,
// without the URL (which the page names already).
func reason(err error) string {
	var ce *tls.CertificateVerificationError
	switch {
	case errors.As(err, &ce):
		return "certificate not valid: " + ce.Err.Error()
	case errors.Is(err, context.DeadlineExceeded):
		return "no answer in time"
	}
	var oe *net.OpError
	if errors.As(err, &oe) && oe.Err != nil {
		msg := oe.Err.Error()
		if i := strings.LastIndex(msg, ": "); i >= 0 {
			msg = msg[i+2:]
		}
		return oe.Op + ": " + msg
	}
	msg := err.Error()
	if i := strings.LastIndex(msg, ": "); i >= 0 {
		msg = msg[i+2:]
	}
	return msg
}
