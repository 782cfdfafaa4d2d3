package api

import (
	"fmt"
	"math"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/time/rate"

	"github.com/oob-relay/relay/relay/problem"
)

// Rate is a token bucket: requests per second, and how many may come at
// once after a quiet spell.
type Rate struct {
	// PerSecond is the steady rate; zero takes the default, and
	// math.Inf(1) (NoLimit) means no limit.
	PerSecond float64
	// Burst is the bucket's size; zero takes the default's, or the
	// steady rate rounded up when that is larger.
	Burst int
}

// NoLimit is a Rate without a limit.
var NoLimit = Rate{PerSecond: math.Inf(1)}

// Defaults of Limits, each with the reason it was chosen.
var (
	// DefaultPerAddress lets one client address (a person's CLI, a
	// dashboard, a bot, or an office behind one NAT) make a burst of 500
	// requests and 50 a second after that: far above what people and
	// bots do, far below what fills a store.
	DefaultPerAddress = Rate{PerSecond: 50, Burst: 500}
	// DefaultPerToken bounds one token on one node at 100 a second with
	// a burst of 1,000, so that a leaked token used from many addresses
	// is slowed too.
	DefaultPerToken = Rate{PerSecond: 100, Burst: 1000}
)

// Defaults of the slowdown after failed authentication.
const (
	// FreeAuthFailures is how many wrong tokens in a row an address may
	// send before it has to wait: a person mistyping, a bot with an old
	// token, found out and fixed.
	FreeAuthFailures = 3
	// DefaultAuthDelay is the wait after the first wrong token past the
	// free ones; it doubles with each further one.
	DefaultAuthDelay = time.Second
	// DefaultAuthMaxDelay bounds that wait: an address guessing tokens
	// gets about one guess a minute.
	DefaultAuthMaxDelay = time.Minute
	// authForget is how long an address's wrong tokens are remembered
	// after its last one.
	authForget = 15 * time.Minute
	// maxClients bounds how many client addresses the API keeps limits
	// for (about 100 bytes each). Past it, addresses that are idle are
	// forgotten; when none is, new addresses share one limit.
	maxClients = 1 << 16
)

// Limits bound how fast clients may use the API. Health, readiness and
// metrics are never limited. The zero value takes every default.
type Limits struct {
	// PerAddress bounds the requests of one client address (an IPv6
	// address by its /64), counted before the token is looked at.
	PerAddress Rate
	// PerToken bounds the requests made with one token on this node.
	PerToken Rate
	// AuthDelay is the wait an address must keep after its wrong tokens
	// in a row pass FreeAuthFailures; it doubles with each further one
	// up to AuthMaxDelay. Within the wait, every request of the address
	// that carries a token is answered 429 without the token being
	// looked at, so that guesses cannot go faster. Zero takes the
	// defaults.
	AuthDelay    time.Duration
	AuthMaxDelay time.Duration
}

func (l *Limits) setDefaults() {
	l.PerAddress = l.PerAddress.orDefault(DefaultPerAddress)
	l.PerToken = l.PerToken.orDefault(DefaultPerToken)
	if l.AuthDelay <= 0 {
		l.AuthDelay = DefaultAuthDelay
	}
	if l.AuthMaxDelay <= 0 {
		l.AuthMaxDelay = DefaultAuthMaxDelay
	}
	l.AuthMaxDelay = max(l.AuthMaxDelay, l.AuthDelay)
}

func (r Rate) orDefault(def Rate) Rate {
	if r.PerSecond <= 0 {
		r.PerSecond = def.PerSecond
		if r.Burst <= 0 {
			r.Burst = def.Burst
		}
	}
	if r.Burst <= 0 {
		r.Burst = max(def.Burst, int(math.Ceil(r.PerSecond)))
	}
	return r
}

// bucket returns a token bucket for r, or nil for no limit.
func (r Rate) bucket() *rate.Limiter {
	if math.IsInf(r.PerSecond, 1) {
		return nil
	}
	return rate.NewLimiter(rate.Limit(r.PerSecond), r.Burst)
}

// refill is how long an empty bucket of r takes to fill.
func (r Rate) refill() time.Duration {
	if math.IsInf(r.PerSecond, 1) {
		return 0
	}
	return time.Duration(float64(r.Burst) / r.PerSecond * float64(time.Second))
}

// take takes one request from b at now, or says how long to wait.
func take(b *rate.Limiter, now time.Time) time.Duration {
	if b == nil {
		return 0
	}
	res := b.ReserveN(now, 1)
	if !res.OK() {
		return time.Second
	}
	if d := res.DelayFrom(now); d > 0 {
		res.CancelAt(now)
		return d
	}
	return 0
}

// client is what the API keeps about one client address.
type client struct {
	bucket *rate.Limiter
	// failures counts wrong tokens in a row, the last at failedAt.
	failures int
	failedAt time.Time
	seen     time.Time
}

// clients keeps the limits of client addresses. It starts no goroutine:
// idle entries are swept when the table is full.
type clients struct {
	limits Limits
	mu     sync.Mutex
	table  map[netip.Addr]*client
	// overflow is shared by new addresses while the table is full of
	// busy ones.
	overflow *client
	swept    time.Time
}

func newClients(l Limits) *clients {
	return &clients{limits: l, table: make(map[netip.Addr]*client), overflow: &client{bucket: l.PerAddress.bucket()}}
}

// get returns addr's entry; c.mu is held.
func (c *clients) get(addr netip.Addr, now time.Time) *client {
	if cl, ok := c.table[addr]; ok {
		cl.seen = now
		return cl
	}
	if len(c.table) >= maxClients && now.Sub(c.swept) >= time.Second {
		c.sweep(now)
	}
	if len(c.table) >= maxClients {
		c.overflow.seen = now
		return c.overflow
	}
	cl := &client{bucket: c.limits.PerAddress.bucket(), seen: now}
	c.table[addr] = cl
	return cl
}

// sweep forgets addresses whose bucket is full again and whose wrong
// tokens are forgotten; c.mu is held.
func (c *clients) sweep(now time.Time) {
	c.swept = now
	refill := c.limits.PerAddress.refill()
	for addr, cl := range c.table {
		if now.Sub(cl.seen) >= refill && (cl.failures == 0 || now.Sub(cl.failedAt) >= authForget) {
			delete(c.table, addr)
		}
	}
}

// admit takes one request of addr at now, or says how long it must wait.
func (c *clients) admit(addr netip.Addr, now time.Time) time.Duration {
	c.mu.Lock()
	defer c.mu.Unlock()
	return take(c.get(addr, now).bucket, now)
}

// authWait says how long addr must wait before a token of its is looked
// at.
func (c *clients) authWait(addr netip.Addr, now time.Time) time.Duration {
	c.mu.Lock()
	defer c.mu.Unlock()
	cl := c.get(addr, now)
	if wait := cl.failedAt.Add(c.delay(cl.failures)).Sub(now); wait > 0 {
		return wait
	}
	return 0
}

// failed records a wrong token from addr at now and returns the count
// of wrong tokens in a row and the wait it imposes.
func (c *clients) failed(addr netip.Addr, now time.Time) (int, time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	cl := c.get(addr, now)
	if now.Sub(cl.failedAt) >= authForget {
		cl.failures = 0
	}
	cl.failures++
	cl.failedAt = now
	return cl.failures, c.delay(cl.failures)
}

// delay is the wait after n wrong tokens in a row.
func (c *clients) delay(n int) time.Duration {
	if n <= FreeAuthFailures {
		return 0
	}
	d := c.limits.AuthDelay
	for range n - FreeAuthFailures - 1 {
		if d *= 2; d <= 0 || d >= c.limits.AuthMaxDelay {
			return c.limits.AuthMaxDelay
		}
	}
	return d
}

// size is how many addresses the table holds.
func (c *clients) size() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.table)
}

// clientAddr returns the address a request's limits are kept under: the
// peer's address, or, when the peer is a trusted proxy, the last address
// in X-Forwarded-For that is not one; an IPv6 address stands for its
// /64, which one host usually holds whole.
func clientAddr(r *http.Request, trusted []netip.Prefix) netip.Addr {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	addr, err := netip.ParseAddr(host)
	if err != nil {
		return netip.IPv6Unspecified()
	}
	addr = addr.Unmap().WithZone("")
	if isTrusted(addr, trusted) {
		hops := strings.Split(strings.Join(r.Header.Values("X-Forwarded-For"), ","), ",")
		for i := len(hops) - 1; i >= 0; i-- {
			hop, err := netip.ParseAddr(strings.TrimSpace(hops[i]))
			if err != nil {
				break // a hop that is not an address: stop at the last trusted one
			}
			addr = hop.Unmap().WithZone("")
			if !isTrusted(addr, trusted) {
				break
			}
		}
	}
	if addr.Is6() {
		p, _ := addr.Prefix(64)
		return p.Addr()
	}
	return addr
}

func isTrusted(addr netip.Addr, trusted []netip.Prefix) bool {
	for _, p := range trusted {
		if p.Contains(addr) {
			return true
		}
	}
	return false
}

// addrText writes a client address for a log line or an answer.
func addrText(a netip.Addr) string {
	if a.Is6() && !a.IsUnspecified() {
		return netip.PrefixFrom(a, 64).String()
	}
	return a.String()
}

// retryAfter is a wait in whole seconds, at least one, for Retry-After.
func retryAfter(d time.Duration) int {
	return max(1, int(math.Ceil(d.Seconds())))
}

// Limits a request can hit, the label values of relay_http_throttled_total.
const (
	limitAddress = "address"
	limitToken   = "token"
	limitAuth    = "auth"
)

// clientOf returns the address r's limits are kept under.
func (a *API) clientOf(r *http.Request) netip.Addr {
	return clientAddr(r, a.opts.TrustedProxies)
}

// admit takes one request of the client address from its bucket, or
// answers 429.
func (a *API) admit(w http.ResponseWriter, r *http.Request, from netip.Addr) bool {
	if wait := a.clients.admit(from, a.opts.Now()); wait > 0 {
		a.tooMany(w, r, from, limitAddress, wait, "too many requests from "+addrText(from))
		return false
	}
	return true
}

// admitToken takes one request of the caller's token from its bucket, or
// answers 429.
func (a *API) admitToken(w http.ResponseWriter, r *http.Request, c caller) bool {
	if wait := take(a.perToken[c.name], a.opts.Now()); wait > 0 {
		a.tooMany(w, r, a.clientOf(r), limitToken, wait, "too many requests with token "+c.name)
		return false
	}
	return true
}

// tooMany answers 429 with Retry-After, counts it and logs it, a few
// lines a second at most.
func (a *API) tooMany(w http.ResponseWriter, r *http.Request, from netip.Addr, limit string, wait time.Duration, what string) {
	secs := retryAfter(wait)
	a.throttled.WithLabelValues(limit).Inc()
	if suppressed, ok := a.logGate.Allow(a.opts.Now()); ok {
		args := []any{"client", addrText(from), "limit", limit, "method", r.Method, "path", r.URL.Path, "retry_after_seconds", secs}
		if suppressed > 0 {
			args = append(args, "lines_suppressed", suppressed)
		}
		a.log.Warn("request throttled", args...)
	}
	w.Header().Set("Retry-After", strconv.Itoa(secs))
	a.fail(w, http.StatusTooManyRequests, problem.Problem{Code: problem.CodeRateLimited,
		Message: fmt.Sprintf("%s; retry in %d s", what, secs)})
}
