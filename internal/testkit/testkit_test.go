package testkit_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/oob-relay/relay/internal/testkit"
	"github.com/oob-relay/relay/relay"
)

// fatalTB records a failure instead of ending the test.
type fatalTB struct {
	testing.TB
	failed string
}

func (f *fatalTB) Helper() {}

func (f *fatalTB) Fatalf(format string, args ...any) { f.failed = fmt.Sprintf(format, args...) }

func TestPoll(t *testing.T) {
	var n atomic.Int32
	if !testkit.Poll(t.Context(), time.Second, func() bool { return n.Add(1) == 3 }) {
		t.Fatal("Poll gave up on a condition that came true")
	}
	start := time.Now()
	if testkit.Poll(t.Context(), 50*time.Millisecond, func() bool { return false }) {
		t.Fatal("Poll reported a condition that never came true")
	}
	if waited := time.Since(start); waited < 50*time.Millisecond || waited > 2*time.Second {
		t.Errorf("Poll gave up after %s, want 50ms", waited)
	}
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if testkit.Poll(ctx, time.Hour, func() bool { return false }) {
		t.Fatal("Poll outlived its context")
	}
}

func TestEventually(t *testing.T) {
	var n atomic.Int32
	testkit.Eventually(t, time.Second, "the third check", func() bool { return n.Add(1) >= 3 })

	f := &fatalTB{TB: t}
	testkit.Eventually(f, 20*time.Millisecond, "nothing", func() bool { return false })
	if !strings.Contains(f.failed, "waiting for nothing") {
		t.Errorf("failure %q does not say what it waited for", f.failed)
	}
	f = &fatalTB{TB: t}
	testkit.EventuallyNil(f, 20*time.Millisecond, func() error { return errors.New("still down") })
	if !strings.Contains(f.failed, "still down") {
		t.Errorf("failure %q does not show the last error", f.failed)
	}
	testkit.EventuallyNil(t, time.Second, func() error {
		if n.Add(1) < 6 {
			return errors.New("not yet")
		}
		return nil
	})

	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Millisecond)
	defer cancel()
	f = &fatalTB{TB: t}
	testkit.WaitFor(f, ctx, "the deadline", func() bool { return false })
	if !strings.Contains(f.failed, "waiting for the deadline") {
		t.Errorf("WaitFor failure %q", f.failed)
	}
}

func TestLogBuffer(t *testing.T) {
	var b testkit.LogBuffer
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Go(func() {
			for range 100 {
				fmt.Fprintf(&b, "line %d\n", i)
			}
		})
	}
	wg.Wait()
	if got := strings.Count(b.String(), "\n"); got != 800 {
		t.Errorf("%d lines, want 800", got)
	}
}

func TestSender(t *testing.T) {
	var s testkit.Sender
	out := &relay.Outgoing{DeliveryID: "m1.sms.kim", Channel: relay.ChannelSMS}
	rc, err := s.Send(t.Context(), out)
	if err != nil || rc.ProviderID != "ok-m1.sms.kim" {
		t.Fatalf("Send = %+v, %v", rc, err)
	}
	out.DeliveryID = "changed after Send"
	if got := s.Sent(); len(got) != 1 || got[0].DeliveryID != "m1.sms.kim" || s.Count() != 1 {
		t.Fatalf("Sent = %+v, Count = %d", got, s.Count())
	}

	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	_, err = s.Send(ctx, out)
	var se *relay.SendError
	if !errors.As(err, &se) || !se.Temporary || s.Count() != 1 {
		t.Fatalf("Send after its context ended: %v, Count %d", err, s.Count())
	}

	counting := testkit.Sender{CountOnly: true, ProviderID: func(o *relay.Outgoing) string { return "SM-" + o.DeliveryID }}
	if rc, _ := counting.Send(t.Context(), out); rc.ProviderID != "SM-changed after Send" {
		t.Errorf("ProviderID not used: %+v", rc)
	}
	if counting.Count() != 1 || counting.Sent() != nil {
		t.Errorf("CountOnly kept %d attempts, counted %d", len(counting.Sent()), counting.Count())
	}
}

func TestFreePort(t *testing.T) {
	port := testkit.FreePort(t, "127.0.0.1")
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	l, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	u, err := net.ListenPacket("udp", addr)
	if err != nil {
		t.Fatal(err)
	}
	u.Close()
}

func TestNoLeaks(t *testing.T) {
	testkit.NoLeaks(t)
	done := make(chan struct{})
	go func() { <-done }()
	t.Cleanup(func() { close(done) })
}
