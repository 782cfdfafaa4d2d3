package inbound

import (
	"fmt"
	"net"
	"sync"
	"sync/atomic"
	"time"
)

// past is a read deadline that has passed, which ends a blocked read at
// once.
var past = time.Unix(1, 0)

// trackingListener registers every accepted connection with its Server,
// so that Shutdown can close idle connections and, when it runs out of
// time, all of them.
type trackingListener struct {
	net.Listener
	s *Server
}

// Accept returns the next connection within the limits; those over a
// limit are answered 421 and closed here.
func (l *trackingListener) Accept() (net.Conn, error) {
	s := l.s
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		ip := remoteIP(c.RemoteAddr())
		tc := &trackedConn{Conn: c, s: s, client: clientKey(ip)}
		s.mu.Lock()
		if s.draining.Load() {
			s.mu.Unlock()
			c.Close()
			return nil, net.ErrClosed
		}
		refused := ""
		switch {
		case len(s.conns) >= s.opts.Limits.MaxConnections:
			refused = refusedTotal
		case !s.clients.connect(tc.client, s.opts.Upstream.contains(ip)):
			refused = refusedPerIP
		default:
			s.conns[tc] = struct{}{}
			s.connsDone.Add(1)
		}
		s.mu.Unlock()
		if refused == "" {
			return tc, nil
		}
		s.refuseConn(c, tc.client, refused)
	}
}

// Reasons a connection is refused, the values of the reason label.
const (
	refusedTotal = "total"
	refusedPerIP = "per_ip"
)

// refuseConn answers a connection over a limit with 421 and closes it.
// The reply fits any socket's send buffer, so writing it does not wait
// for the client.
func (s *Server) refuseConn(c net.Conn, client, reason string) {
	s.metrics.connsRefused.WithLabelValues(reason).Inc()
	msg := "Too many connections, try again later"
	if reason == refusedPerIP {
		msg = "Too many connections from your address, try again later"
	}
	c.SetWriteDeadline(time.Now().Add(time.Second))
	fmt.Fprintf(c, "421 4.7.0 %s %s\r\n", s.opts.Domain, msg)
	c.Close()
	if log, skipped := s.clients.limited(client); log {
		s.log.Warn("email connection refused", "reason", reason, "remote", c.RemoteAddr().String(), "not_logged", skipped)
	}
}

// trackedConn is a client connection that knows whether a mail
// transaction is under way on it. Once the server drains, an idle
// connection's reads time out at once, so go-smtp answers 421 and closes
// it; a busy one is left to finish its mail first.
type trackedConn struct {
	net.Conn
	s         *Server
	client    string // clientKey of the remote address
	busy      atomic.Bool
	closeOnce sync.Once
}

// SetReadDeadline is how go-smtp starts waiting for each command; when
// the server is draining and no mail is under way, the wait ends at once.
func (c *trackedConn) SetReadDeadline(t time.Time) error {
	if c.s.draining.Load() && !c.busy.Load() {
		t = past
	}
	return c.Conn.SetReadDeadline(t)
}

// setBusy marks the start (true) or end (false) of a mail transaction.
func (c *trackedConn) setBusy(busy bool) {
	c.busy.Store(busy)
}

// wakeIfIdle ends the read an idle connection is blocked in.
func (c *trackedConn) wakeIfIdle() {
	if !c.busy.Load() {
		c.Conn.SetReadDeadline(past)
	}
}

func (c *trackedConn) Close() error {
	err := c.Conn.Close()
	c.closeOnce.Do(func() {
		c.s.mu.Lock()
		delete(c.s.conns, c)
		c.s.clients.disconnect(c.client)
		c.s.mu.Unlock()
		c.s.connsDone.Done()
	})
	return err
}

// tracked returns the trackedConn under c, which is a trackedConn or a
// TLS connection over one, or nil.
func tracked(c net.Conn) *trackedConn {
	for {
		switch v := c.(type) {
		case *trackedConn:
			return v
		case interface{ NetConn() net.Conn }:
			c = v.NetConn()
		default:
			return nil
		}
	}
}
