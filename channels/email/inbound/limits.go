package inbound

import (
	"net/netip"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// Defaults of Limits, with the reason for each.
const (
	// DefaultMaxConnections bounds the connections served at once. Each
	// costs a goroutine and up to MaxBytes of buffer; a hundred is far
	// more than the replies of one incident need.
	DefaultMaxConnections = 100
	// DefaultMaxConnectionsPerIP bounds one client's share, so that one
	// client cannot take them all. A mail server rarely opens more than
	// a few to one destination.
	DefaultMaxConnectionsPerIP = 10
	// DefaultMessagesPerMinute is how many mails one client may send a
	// minute, in bursts of as many. A person answers a few times an
	// incident; mail providers that carry many people's answers send
	// from many addresses.
	DefaultMessagesPerMinute = 60
)

// Delays after a failed AUTH, with the reason for each.
const (
	// AuthDelay is the wait before answering a client's first failed
	// login; it doubles with each further failure of that client, so
	// guessing passwords gets slower and slower while a person who
	// mistyped waits a second.
	AuthDelay = time.Second
	// AuthMaxDelay caps the wait, well inside a client's command timeout.
	AuthMaxDelay = 30 * time.Second
	// authMemory is how long a client's failed logins are remembered
	// after its last one.
	authMemory = 15 * time.Minute
	// logEvery is how often one client's failed logins, or its
	// connections and mails refused for a limit, are logged.
	logEvery = time.Minute
	// maxClients bounds the clients remembered; past it, idle ones are
	// forgotten first.
	maxClients = 10_000
)

// Limits bound what the clients of a Server, and each client, may take.
// A client is an IPv4 address or an IPv6 /64 (what one host usually
// has). Clients in Options.Upstream.Networks, which carry other servers'
// mail, are held only to MaxConnections. Zero fields take the defaults.
type Limits struct {
	// MaxConnections bounds the connections of all clients at once;
	// DefaultMaxConnections when zero. Further connections are answered
	// 421 4.7.0 and closed.
	MaxConnections int
	// MaxConnectionsPerIP bounds one client's connections at once;
	// DefaultMaxConnectionsPerIP when zero.
	MaxConnectionsPerIP int
	// MessagesPerMinute bounds the mails one client may start (MAIL
	// FROM) a minute, in bursts of as many; DefaultMessagesPerMinute
	// when zero. Further mails are answered 450 4.7.1.
	MessagesPerMinute int
}

func (l *Limits) setDefaults() {
	if l.MaxConnections == 0 {
		l.MaxConnections = DefaultMaxConnections
	}
	if l.MaxConnectionsPerIP == 0 {
		l.MaxConnectionsPerIP = DefaultMaxConnectionsPerIP
	}
	if l.MessagesPerMinute == 0 {
		l.MessagesPerMinute = DefaultMessagesPerMinute
	}
}

// clientKey names the client an address belongs to.
func clientKey(ip netip.Addr) string {
	ip = ip.Unmap()
	if ip.Is6() {
		p, _ := ip.Prefix(64)
		return p.String()
	}
	return ip.String()
}

// logGate lets one line through per logEvery, counting those it held back.
type logGate struct {
	last    time.Time
	skipped int
}

// pass reports whether to log now, and how many were held back since the
// last line.
func (g *logGate) pass(now time.Time) (bool, int) {
	if !g.last.IsZero() && now.Sub(g.last) < logEvery {
		g.skipped++
		return false, 0
	}
	skipped := g.skipped
	g.last, g.skipped = now, 0
	return true, skipped
}

// client is what the server remembers of one client.
type client struct {
	conns    int
	mail     *rate.Limiter
	fails    int // failed logins, forgotten authMemory after the last
	lastFail time.Time
	authLog  logGate
	limitLog logGate
}

// clients counts and limits what each client takes. Its methods are safe
// for concurrent use.
type clients struct {
	limits Limits
	now    func() time.Time

	mu sync.Mutex
	m  map[string]*client
}

func newClients(l Limits, now func() time.Time) *clients {
	return &clients{limits: l, now: now, m: map[string]*client{}}
}

// get returns the client of key, remembering it; c.mu is held.
func (c *clients) get(key string, now time.Time) *client {
	cl, ok := c.m[key]
	if !ok {
		if len(c.m) >= maxClients {
			c.forget(now)
		}
		n := c.limits.MessagesPerMinute
		cl = &client{mail: rate.NewLimiter(rate.Limit(float64(n)/60), n)}
		c.m[key] = cl
	}
	return cl
}

// forget drops idle clients: those without a connection, a failed login
// to remember or a used share of mail; if that is not enough, any without
// a connection. c.mu is held.
func (c *clients) forget(now time.Time) {
	for k, cl := range c.m {
		if cl.conns == 0 && now.Sub(cl.lastFail) > authMemory && cl.mail.TokensAt(now) >= float64(cl.mail.Burst()) {
			delete(c.m, k)
		}
	}
	for k, cl := range c.m {
		if len(c.m) < maxClients {
			return
		}
		if cl.conns == 0 {
			delete(c.m, k)
		}
	}
}

// connect counts a new connection of key unless the client already has
// its share; exempt clients are not held to it.
func (c *clients) connect(key string, exempt bool) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	cl := c.get(key, c.now())
	if !exempt && cl.conns >= c.limits.MaxConnectionsPerIP {
		return false
	}
	cl.conns++
	return true
}

// disconnect counts a connection of key gone.
func (c *clients) disconnect(key string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if cl, ok := c.m[key]; ok && cl.conns > 0 {
		cl.conns--
	}
}

// allowMail takes one mail from key's share.
func (c *clients) allowMail(key string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	now := c.now()
	return c.get(key, now).mail.AllowN(now, 1)
}

// limited decides whether to log a refusal of key for a limit now, and
// how many were not logged since the last line.
func (c *clients) limited(key string) (bool, int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	now := c.now()
	return c.get(key, now).limitLog.pass(now)
}

// loginFailed counts a failed login of key and returns how long to wait
// before answering, the client's failures so far, and whether to log it
// now with how many failures were not logged since the last line.
func (c *clients) loginFailed(key string) (delay time.Duration, fails int, log bool, skipped int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	now := c.now()
	cl := c.get(key, now)
	if now.Sub(cl.lastFail) > authMemory {
		cl.fails = 0
	}
	cl.fails++
	cl.lastFail = now
	delay = AuthMaxDelay
	if cl.fails <= 6 {
		delay = min(AuthDelay<<(cl.fails-1), AuthMaxDelay)
	}
	log, skipped = cl.authLog.pass(now)
	return delay, cl.fails, log, skipped
}

// loginSucceeded forgets key's failed logins.
func (c *clients) loginSucceeded(key string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if cl, ok := c.m[key]; ok {
		cl.fails = 0
	}
}
