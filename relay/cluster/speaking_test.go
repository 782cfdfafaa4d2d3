package cluster

import (
	"context"
	"slices"
	"sync/atomic"
	"testing"
	"time"
)

// TestMemberCountedDeadCountsWhileItSends: a's membership counts c dead
// while c, which sees a alive, goes on pushing to it. c stays among a's
// Members while its frames come and for SpeakingFor after the last,
// then drops out, each change told through OnMembers. A member whose
// frames are old by a's clock, or that left, does not count.
func TestMemberCountedDeadCountsWhileItSends(t *testing.T) {
	net := newMemNet(11)
	defer net.close()
	var told atomic.Int32
	a := net.add(t, "a", t.TempDir(), Options{SpeakingFor: 300 * time.Millisecond, OnMembers: func() { told.Add(1) }})
	defer a.stop()
	net.setUnseen("a", "c", true)
	c := net.add(t, "c", t.TempDir(), Options{})
	defer c.stop()
	ctx, stop := context.WithCancel(t.Context())
	writing := make(chan struct{})
	go func() {
		defer close(writing)
		for i := 0; ctx.Err() == nil; i++ {
			c.st.Append(ctx, ack(i))
			time.Sleep(50 * time.Millisecond)
		}
	}()
	deadline := time.Now().Add(5 * time.Second)
	for !slices.Equal(a.r.Members(), []string{"a", "c"}) {
		if time.Now().After(deadline) {
			stop()
			t.Fatalf("c sends, but a's members are %v", a.r.Members())
		}
		time.Sleep(10 * time.Millisecond)
	}
	toldWhileSending := told.Load()
	// While c sends, it stays.
	for range 20 {
		time.Sleep(50 * time.Millisecond)
		if got := a.r.Members(); !slices.Equal(got, []string{"a", "c"}) {
			stop()
			t.Fatalf("c still sends, but a's members are %v", got)
		}
	}
	stop()
	<-writing
	quiet := time.Now()
	for slices.Contains(a.r.Members(), "c") {
		if time.Since(quiet) > 3*time.Second {
			t.Fatal("c stopped sending and still counts")
		}
		time.Sleep(10 * time.Millisecond)
	}
	if told.Load() <= toldWhileSending {
		t.Error("c dropped out of a's members and OnMembers was not called")
	}

	// Clocks far apart: c's frames are 10 s old by d's clock.
	d := net.add(t, "d", t.TempDir(), Options{Now: func() time.Time { return time.Now().Add(10 * time.Second) }})
	defer d.stop()
	net.setUnseen("d", "c", true)
	c.write(t, 5)
	deadline = time.Now().Add(5 * time.Second)
	for d.marks(t)[c.st.Origin()] < c.marks(t)[c.st.Origin()] {
		if time.Now().After(deadline) {
			t.Fatal("c's frames never reached d")
		}
		time.Sleep(10 * time.Millisecond)
	}
	if slices.Contains(d.r.Members(), "c") {
		t.Errorf("d counts c by frames 10 s old: %v", d.r.Members())
	}

	// A member that left does not count, whatever it sends.
	net.mu.Lock()
	net.left["c"] = true
	net.mu.Unlock()
	a.r.OnChange()
	c.write(t, 5)
	time.Sleep(200 * time.Millisecond)
	if slices.Contains(a.r.Members(), "c") {
		t.Errorf("c left, and a counts it: %v", a.r.Members())
	}
}

// TestOneSidedFalseDeathDoesNotStallClaims: a counts c dead for a moment
// while c never stops counting a live, so c says no hello when a counts
// it live again. c's answer to a's hello tells what c holds and stands
// for one: a is caught up again at once, not after CatchUpTimeout, in
// which it would claim nothing.
func TestOneSidedFalseDeathDoesNotStallClaims(t *testing.T) {
	net := newMemNet(3)
	defer net.close()
	a := net.add(t, "a", t.TempDir(), Options{CatchUpTimeout: 5 * time.Second})
	defer a.stop()
	c := net.add(t, "c", t.TempDir(), Options{CatchUpTimeout: 5 * time.Second})
	defer c.stop()
	c.write(t, 20)
	deadline := time.Now().Add(5 * time.Second)
	for !a.r.CaughtUp() || a.marks(t)[c.st.Origin()] < 20 {
		if time.Now().After(deadline) {
			t.Fatal("a never caught up with c at the start")
		}
		time.Sleep(10 * time.Millisecond)
	}
	net.setUnseen("a", "c", true)
	c.write(t, 5) // c goes on, and still pushes to a
	net.setUnseen("a", "c", false)
	back := time.Now()
	for !a.r.CaughtUp() {
		if time.Since(back) > 2*time.Second {
			t.Fatalf("a not caught up %v after counting c live again (CatchUpTimeout 5 s)", time.Since(back))
		}
		time.Sleep(5 * time.Millisecond)
	}
	if held := a.marks(t)[c.st.Origin()]; held < 25 {
		t.Errorf("a counts itself caught up holding %d of c's 25 events", held)
	}
}
