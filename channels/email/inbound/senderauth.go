package inbound

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strings"
	"time"
	"unicode"

	"blitiri.com.ar/go/spf"
	"github.com/emersion/go-msgauth/dkim"
	"github.com/emersion/go-msgauth/dmarc"
	"golang.org/x/net/idna"
	"golang.org/x/net/publicsuffix"
)

// Limits of sender authentication, with the reason for each.
const (
	// DNSTimeout bounds one DNS lookup. A resolver that has not answered
	// in five seconds has usually lost the query.
	DNSTimeout = 5 * time.Second
	// SenderCheckTimeout bounds the whole check of one mail (DMARC
	// record, DKIM keys, SPF with its ten lookups), well inside the ten
	// minutes a client waits for the reply to DATA.
	SenderCheckTimeout = 20 * time.Second
	// maxSignatures bounds the DKIM signatures checked per mail, and so
	// the key lookups a mail can cause.
	maxSignatures = 5
)

// Resolver looks up the DNS records that authenticate a sender: DKIM
// keys, DMARC and SPF policies, and the addresses SPF's mechanisms name.
// *net.Resolver is one. Its methods are called from many connections at
// once, each with a context that ends after DNSTimeout.
type Resolver interface {
	LookupTXT(ctx context.Context, name string) ([]string, error)
	LookupMX(ctx context.Context, name string) ([]*net.MX, error)
	LookupIPAddr(ctx context.Context, host string) ([]net.IPAddr, error)
	LookupAddr(ctx context.Context, addr string) ([]string, error)
}

// timedResolver gives every lookup of r its own DNSTimeout.
type timedResolver struct{ r Resolver }

func (t timedResolver) LookupTXT(ctx context.Context, name string) ([]string, error) {
	ctx, cancel := context.WithTimeout(ctx, DNSTimeout)
	defer cancel()
	return t.r.LookupTXT(ctx, name)
}

func (t timedResolver) LookupMX(ctx context.Context, name string) ([]*net.MX, error) {
	ctx, cancel := context.WithTimeout(ctx, DNSTimeout)
	defer cancel()
	return t.r.LookupMX(ctx, name)
}

func (t timedResolver) LookupIPAddr(ctx context.Context, host string) ([]net.IPAddr, error) {
	ctx, cancel := context.WithTimeout(ctx, DNSTimeout)
	defer cancel()
	return t.r.LookupIPAddr(ctx, host)
}

func (t timedResolver) LookupAddr(ctx context.Context, addr string) ([]string, error) {
	ctx, cancel := context.WithTimeout(ctx, DNSTimeout)
	defer cancel()
	return t.r.LookupAddr(ctx, addr)
}

// Upstream is a mail server in front of the relay whose
// Authentication-Results are believed (RFC 8601): a gateway that checks
// DKIM, SPF and DMARC itself and removes any Authentication-Results field
// carrying its own AuthservID from the mail it receives.
type Upstream struct {
	// AuthservID is the name the upstream writes at the start of its
	// Authentication-Results fields.
	AuthservID string
	// Networks are the addresses the upstream connects from. A field
	// with its AuthservID on a connection from anywhere else is ignored.
	Networks []netip.Prefix
}

func (u *Upstream) contains(ip netip.Addr) bool {
	ip = ip.Unmap()
	for _, p := range u.Networks {
		if a := p.Addr(); a.Is4In6() && p.Bits() >= 96 {
			p = netip.PrefixFrom(a.Unmap(), p.Bits()-96)
		}
		if p.Contains(ip) {
			return true
		}
	}
	return false
}

// senderCheck is the verdict on whether a mail comes from its From
// domain.
type senderCheck struct {
	// pass is set when DKIM or SPF aligned with the From domain, or the
	// trusted upstream said so; how names which ("dkim", "spf",
	// "upstream").
	pass bool
	how  string
	// detail says more about a pass through the upstream: which of its
	// results passed.
	detail string
	// temp is set when a lookup failed for now and nothing passed: the
	// sender should try again later.
	temp bool
	// reasons say why nothing passed, for the refusal and the log.
	reasons []string
}

// Sender check outcomes, the values of the result label.
const (
	checkDKIM     = "dkim"
	checkSPF      = "spf"
	checkUpstream = "upstream"
	checkFail     = "fail"
	checkTemp     = "temperror"
)

func (c senderCheck) result() string {
	switch {
	case c.pass:
		return c.how
	case c.temp:
		return checkTemp
	}
	return checkFail
}

// alignment is how closely an authenticated domain must match the From
// domain: the same domain (strict) or the same organizational domain
// (relaxed), from the From domain's DMARC record.
type alignment struct{ dkimStrict, spfStrict bool }

// checkSender decides whether raw, whose From address is from, really
// comes from the From domain, as DMARC (RFC 7489) has it: a DKIM
// signature that verifies for an aligned domain, or else SPF passing for
// an aligned MAIL FROM (or HELO, for a bounce), or else a trusted
// upstream's Authentication-Results saying one of these or a DMARC pass.
// The domain's DMARC policy only sets the alignment mode: the check is
// required whatever the policy.
func (s *Server) checkSender(ctx context.Context, raw []byte, from, mailFrom, helo string, ip netip.Addr) senderCheck {
	ctx, cancel := context.WithTimeout(ctx, SenderCheckTimeout)
	defer cancel()
	var c senderCheck
	fromDomain, err := addressDomain(from)
	if err != nil {
		c.reasons = append(c.reasons, fmt.Sprintf("the From domain %v", err))
		return c
	}
	r := timedResolver{s.opts.Resolver}
	lookupTXT := func(name string) ([]string, error) { return r.LookupTXT(ctx, name) }
	al, alTemp := policyAlignment(fromDomain, lookupTXT)

	upstream := s.opts.Upstream.AuthservID != "" && s.opts.Upstream.contains(ip)
	if upstream {
		if how, ok := upstreamVerdict(headerValues(raw, "Authentication-Results"), s.opts.Upstream.AuthservID, fromDomain, al); ok {
			return senderCheck{pass: true, how: checkUpstream, detail: how}
		}
		c.reasons = append(c.reasons, "the trusted upstream's Authentication-Results do not pass it")
	}

	// DKIM.
	verifs, err := dkim.VerifyWithOptions(bytes.NewReader(raw), &dkim.VerifyOptions{LookupTXT: lookupTXT, MaxVerifications: maxSignatures})
	var dkimWhy []string
	if err != nil && !errors.Is(err, dkim.ErrTooManySignatures) {
		dkimWhy = append(dkimWhy, "the header does not parse")
	}
	for _, v := range verifs {
		switch {
		case v.Err == nil && aligned(v.Domain, fromDomain, al.dkimStrict):
			return senderCheck{pass: true, how: checkDKIM}
		case v.Err == nil:
			dkimWhy = append(dkimWhy, fmt.Sprintf("the signature of d=%s is not aligned with %s", clip(v.Domain), fromDomain))
		case dkim.IsTempFail(v.Err):
			c.temp = true
			dkimWhy = append(dkimWhy, fmt.Sprintf("the key of d=%s cannot be looked up now", clip(v.Domain)))
		default:
			dkimWhy = append(dkimWhy, fmt.Sprintf("the signature of d=%s does not verify (%s)", clip(v.Domain), clip(strings.TrimPrefix(v.Err.Error(), "dkim: "))))
		}
	}
	if len(dkimWhy) == 0 {
		dkimWhy = append(dkimWhy, "no signature")
	}
	c.reasons = append(c.reasons, "DKIM: "+strings.Join(dkimWhy, ", "))

	// SPF, for a sender that connects itself: through an upstream, the
	// connecting address is the upstream's.
	if !upstream {
		spfDomain, who := "", "MAIL FROM"
		if mailFrom != "" {
			spfDomain, err = addressDomain(mailFrom)
		} else {
			spfDomain, err, who = idnaDomain(helo), nil, "HELO"
		}
		switch {
		case err != nil || spfDomain == "":
			c.reasons = append(c.reasons, "SPF: no "+who+" domain")
		case !aligned(spfDomain, fromDomain, al.spfStrict):
			c.reasons = append(c.reasons, fmt.Sprintf("SPF: the %s domain %s is not aligned with %s", who, clip(spfDomain), fromDomain))
		default:
			sender := mailFrom
			if sender == "" {
				sender = "postmaster@" + spfDomain
			}
			res, _ := spf.CheckHostWithSender(net.IP(ip.Unmap().AsSlice()), helo, sender,
				spf.WithContext(ctx), spf.WithResolver(r))
			switch res {
			case spf.Pass:
				return senderCheck{pass: true, how: checkSPF}
			case spf.TempError:
				c.temp = true
				c.reasons = append(c.reasons, fmt.Sprintf("SPF: the policy of %s cannot be looked up now", spfDomain))
			default:
				c.reasons = append(c.reasons, fmt.Sprintf("SPF: %s for %s from %s", res, spfDomain, ip.Unmap()))
			}
		}
	}
	c.temp = c.temp || alTemp
	return c
}

// policyAlignment reads the alignment modes from the DMARC record of
// domain, or of its organizational domain, relaxed when there is none.
// When the record cannot be looked up now, it answers strict and temp,
// so that only an exact match passes and a failure is temporary.
func policyAlignment(domain string, lookupTXT func(string) ([]string, error)) (alignment, bool) {
	opts := &dmarc.LookupOptions{LookupTXT: lookupTXT}
	rec, err := dmarc.LookupWithOptions(domain, opts)
	if org := orgDomain(domain); errors.Is(err, dmarc.ErrNoPolicy) && org != domain {
		rec, err = dmarc.LookupWithOptions(org, opts)
	}
	switch {
	case err != nil && dmarc.IsTempFail(err):
		return alignment{dkimStrict: true, spfStrict: true}, true
	case err != nil || rec == nil:
		// No record, or one that does not parse: RFC 7489 section 6.6.3
		// treats both as none; relaxed is DMARC's default.
		return alignment{}, false
	}
	return alignment{dkimStrict: rec.DKIMAlignment == dmarc.AlignmentStrict, spfStrict: rec.SPFAlignment == dmarc.AlignmentStrict}, false
}

// aligned reports whether an authenticated domain matches the From
// domain: the same name, or when relaxed the same organizational domain.
func aligned(authenticated, from string, strict bool) bool {
	a := idnaDomain(authenticated)
	if a == "" {
		return false
	}
	if a == from {
		return true
	}
	return !strict && orgDomain(a) == orgDomain(from)
}

// orgDomain is a domain's organizational domain: one label below its
// public suffix.
func orgDomain(domain string) string {
	if org, err := publicsuffix.EffectiveTLDPlusOne(domain); err == nil {
		return org
	}
	return domain
}

// addressDomain returns the domain of an email address in lower-case
// ASCII (A-labels for an internationalized domain).
func addressDomain(addr string) (string, error) {
	at := strings.LastIndexByte(addr, '@')
	if at < 0 {
		return "", errors.New("is missing")
	}
	d := idnaDomain(addr[at+1:])
	if d == "" {
		return "", fmt.Errorf("%q is not a domain name", clip(addr[at+1:]))
	}
	return d, nil
}

// idnaDomain returns d in lower-case ASCII, or "" when it is no domain
// name.
func idnaDomain(d string) string {
	d = strings.TrimSuffix(strings.TrimSpace(d), ".")
	a, err := idna.Lookup.ToASCII(d)
	if err != nil || a == "" || !strings.Contains(a, ".") {
		return ""
	}
	return strings.ToLower(a)
}

// clip shortens what came from outside before it goes into a reply or a
// log line.
func clip(s string) string {
	const maxLen = 64
	s = strings.Map(func(r rune) rune {
		if unicode.IsControl(r) {
			return '?'
		}
		return r
	}, strings.ToValidUTF8(s, "?"))
	if len(s) <= maxLen {
		return s
	}
	cut := maxLen
	for cut > 0 && !isRuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}

func isRuneStart(b byte) bool { return b&0xC0 != 0x80 }
