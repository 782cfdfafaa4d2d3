package inbound

import (
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

func (l *trackingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	tc := &trackedConn{Conn: c, s: l.s}
	l.s.mu.Lock()
	defer l.s.mu.Unlock()
	if l.s.draining.Load() {
		c.Close()
		return nil, net.ErrClosed
	}
	l.s.conns[tc] = struct{}{}
	l.s.connsDone.Add(1)
	return tc, nil
}

// trackedConn is a client connection that knows whether a mail
// transaction is under way on it. Once the server drains, an idle
// connection's reads time out at once, so go-smtp answers 421 and closes
// it; a busy one is left to finish its mail first.
type trackedConn struct {
	net.Conn
	s         *Server
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
