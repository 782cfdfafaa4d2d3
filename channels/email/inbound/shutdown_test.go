package inbound

import (
	"context"
	"errors"
	"net"
	"testing"
	"time"

	"github.com/oob-relay/relay/relay"
)

func TestShutdownClosesIdleConnections(t *testing.T) {
	ts := startServer(t, nil)
	c := dial(t, ts.addr)
	if ts.Addr() == nil || ts.Addr().String() != ts.addr {
		t.Errorf("Addr() = %v, want %s", ts.Addr(), ts.addr)
	}
	// An idle client does not hold Shutdown up.
	ts.stop(t)
	if err := c.Noop(); err == nil {
		t.Error("the idle connection still answers after Shutdown")
	}
	if conn, err := net.Dial("tcp", ts.addr); err == nil {
		conn.Close()
		t.Error("the server still accepts connections after Shutdown")
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	if err := ts.Shutdown(ctx); !errors.Is(err, ErrServerClosed) {
		t.Errorf("a second Shutdown: %v, want ErrServerClosed", err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	if err := ts.Serve(l); !errors.Is(err, ErrServerClosed) {
		t.Errorf("Serve after Shutdown: %v, want ErrServerClosed", err)
	}
}

func TestShutdownFinishesMailUnderWay(t *testing.T) {
	ts := startServer(t, nil)
	entered, release := make(chan struct{}), make(chan struct{})
	ts.rec.fail = func(context.Context, *relay.Inbound) error {
		close(entered)
		<-release
		return nil
	}
	sent := make(chan error, 1)
	c := dial(t, ts.addr)
	go func() {
		sent <- send(c, "kim@example.com", []string{"db-outage@" + domain},
			mailBytes("kim@example.com", "db-outage@"+domain, "", "sent during shutdown\n"))
	}()
	<-entered
	stopped := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		stopped <- ts.Shutdown(ctx)
	}()
	// Serve returns once Shutdown has closed the listener; the mail is
	// still under way.
	serveErr := <-ts.done
	ts.done <- serveErr
	select {
	case err := <-stopped:
		t.Fatalf("Shutdown returned %v while a mail was under way", err)
	default:
	}
	close(release)
	if err := <-sent; err != nil {
		t.Fatalf("the mail under way failed: %v", err)
	}
	if err := <-stopped; err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	if got := ts.rec.inbounds(); len(got) != 1 || got[0].Text != "sent during shutdown" {
		t.Fatalf("received %+v", got)
	}
}

func TestShutdownGivesUpAtItsDeadline(t *testing.T) {
	ts := startServer(t, nil)
	entered := make(chan struct{})
	canceled := make(chan struct{})
	ts.rec.fail = func(ctx context.Context, _ *relay.Inbound) error {
		close(entered)
		<-ctx.Done() // a Receiver stuck until its context ends
		close(canceled)
		return ctx.Err()
	}
	sent := make(chan error, 1)
	c := dial(t, ts.addr)
	go func() {
		sent <- send(c, "kim@example.com", []string{"db-outage@" + domain},
			mailBytes("kim@example.com", "db-outage@"+domain, "", "stuck\n"))
	}()
	<-entered
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if err := ts.Shutdown(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Shutdown: %v, want the context's deadline", err)
	}
	<-canceled
	if err := <-sent; err == nil {
		t.Fatal("the mail whose Receive was cancelled was accepted")
	}
}
