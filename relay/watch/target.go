package watch

import (
	"fmt"
	"net"
	"net/url"
	"regexp"
	"strconv"
	"time"

	"github.com/oob-relay/relay/relay"
)

// Kinds of target.
const (
	KindHTTP = "http"
	KindTCP  = "tcp"
	KindDNS  = "dns"
)

// Defaults of a Target's zero fields.
const (
	DefaultInterval = 10 * time.Second
	DefaultTimeout  = 5 * time.Second
	DefaultFor      = time.Minute
)

// Target is one thing the cluster watches, the same on every node.
type Target struct {
	// Name identifies the target in events, pages and the API.
	Name string
	Kind string
	// URL is an http or https URL (KindHTTP).
	URL string
	// Status lists the status codes that mean up; empty means 200-399.
	Status []int
	// Body, when set, must match the first MaxBody bytes of the answer.
	Body *regexp.Regexp
	// CertExpiry, for https, makes the target down when its certificate
	// expires within this long; zero checks only that it is valid.
	CertExpiry time.Duration
	// Address is host:port (KindTCP).
	Address string
	// Host is the name to resolve (KindDNS); Server, when set, is the
	// host:port of the DNS server to ask instead of the system's.
	Host   string
	Server string
	// Interval between probes, Timeout of one probe, and how long a
	// quorum of sites must see the target down (For) or up again
	// (RecoverFor) before the verdict changes.
	Interval   time.Duration
	Timeout    time.Duration
	For        time.Duration
	RecoverFor time.Duration
	// To is the audience paged when the target goes down and when it
	// recovers: groups, schedules, escalations, people.
	To []string
}

// WithDefaults returns t with each zero field at its default; RecoverFor
// defaults to For.
func (t Target) WithDefaults() Target {
	if t.Interval <= 0 {
		t.Interval = DefaultInterval
	}
	if t.Timeout <= 0 {
		t.Timeout = DefaultTimeout
	}
	if t.For <= 0 {
		t.For = DefaultFor
	}
	if t.RecoverFor <= 0 {
		t.RecoverFor = t.For
	}
	return t
}

// Check reports what is wrong with a target, naming the field.
func (t *Target) Check() error {
	if !relay.ValidID(t.Name) {
		return fmt.Errorf("name %q is not a valid id", t.Name)
	}
	switch t.Kind {
	case KindHTTP:
		u, err := url.Parse(t.URL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return fmt.Errorf("url %q is not an absolute http or https URL", t.URL)
		}
		for _, s := range t.Status {
			if s < 100 || s > 599 {
				return fmt.Errorf("status %d is not an HTTP status code", s)
			}
		}
		if t.CertExpiry < 0 {
			return fmt.Errorf("cert_expiry %s is negative", t.CertExpiry)
		}
	case KindTCP:
		if err := hostPort(t.Address); err != nil {
			return fmt.Errorf("address: %w", err)
		}
	case KindDNS:
		if t.Host == "" || len(t.Host) > 253 {
			return fmt.Errorf("host %q is not a DNS name", t.Host)
		}
		if t.Server != "" {
			if err := hostPort(t.Server); err != nil {
				return fmt.Errorf("server: %w", err)
			}
		}
	default:
		return fmt.Errorf("kind %q is not one of http, tcp, dns", t.Kind)
	}
	if t.Interval < 0 || t.Timeout < 0 || t.For < 0 || t.RecoverFor < 0 {
		return fmt.Errorf("interval, timeout, for and recover_for may not be negative")
	}
	d := t.WithDefaults()
	if d.Timeout > d.Interval {
		return fmt.Errorf("timeout %s is longer than interval %s", d.Timeout, d.Interval)
	}
	if len(t.To) == 0 {
		return fmt.Errorf("to names nobody to page")
	}
	return nil
}

func hostPort(s string) error {
	host, port, err := net.SplitHostPort(s)
	if err != nil {
		return fmt.Errorf("%q is not host:port", s)
	}
	if host == "" {
		return fmt.Errorf("%q has no host", s)
	}
	if p, err := strconv.Atoi(port); err != nil || p < 1 || p > 65535 {
		return fmt.Errorf("%q has no valid port", s)
	}
	return nil
}
