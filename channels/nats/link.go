package nats

import (
	"context"
	"errors"
	"sync"

	natsgo "github.com/nats-io/nats.go"
)

// errLinkLost ends a link's context.
var errLinkLost = errors.New("nats connection lost")

// link follows the connection's status as a context that lives while the
// connection is up: it ends when the connection is lost, and a new one
// starts once it is back. A Send that published just as the connection
// broke waits on its flush with the link, so it fails at once rather than
// at its deadline, holding up every Send behind it.
type link struct {
	nc     *natsgo.Conn
	events chan natsgo.Status
	done   chan struct{}

	mu     sync.Mutex
	ctx    context.Context
	cancel context.CancelCauseFunc
}

// watchLink starts following nc's status. stop ends it.
func watchLink(nc *natsgo.Conn) *link {
	l := &link{nc: nc, events: nc.StatusChanged(), done: make(chan struct{})}
	l.update()
	go l.run()
	return l
}

func (l *link) run() {
	defer close(l.done)
	// Events only prompt a look at the status: the channel drops events
	// when full, and the status may have moved on since.
	for range l.events {
		l.update()
	}
}

// update ends the current context when the connection is down and starts
// a new one when it is up.
func (l *link) update() {
	up := l.nc.Status() == natsgo.CONNECTED
	l.mu.Lock()
	defer l.mu.Unlock()
	live := l.ctx != nil && l.ctx.Err() == nil
	switch {
	case up && !live:
		l.ctx, l.cancel = context.WithCancelCause(context.Background())
	case !up && live:
		l.cancel(errLinkLost)
	case !up && l.ctx == nil:
		l.ctx, l.cancel = context.WithCancelCause(context.Background())
		l.cancel(errLinkLost)
	}
}

// current returns the context of the connection as it is now.
func (l *link) current() context.Context {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.ctx
}

// stop stops following the status and waits for the watcher to end. It
// may be called more than once.
func (l *link) stop() {
	l.nc.RemoveStatusListener(l.events)
	<-l.done
	l.mu.Lock()
	l.cancel(errLinkLost)
	l.mu.Unlock()
}
