package api

import (
	"net/netip"
	"testing"
	"time"
)

// TestClientTableIsBounded fills the table of client addresses: past
// maxClients, new addresses share one limit until entries are idle, and
// a sweep forgets idle addresses but keeps those whose wrong tokens are
// still remembered.
func TestClientTableIsBounded(t *testing.T) {
	l := Limits{PerAddress: Rate{PerSecond: 1, Burst: 1}}
	l.setDefaults()
	c := newClients(l)
	t0 := time.Date(2026, 11, 24, 9, 0, 0, 0, time.UTC)
	addr := func(i int) netip.Addr { return netip.AddrFrom4([4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)}) }
	for i := range maxClients {
		if wait := c.admit(addr(i), t0); wait != 0 {
			t.Fatalf("address %d waits %v", i, wait)
		}
	}
	c.failed(addr(0), t0)
	if c.size() != maxClients {
		t.Fatalf("table holds %d", c.size())
	}
	// Full of busy addresses: two newcomers share the overflow limit.
	if wait := c.admit(addr(maxClients), t0); wait != 0 {
		t.Fatalf("first newcomer waits %v", wait)
	}
	if wait := c.admit(addr(maxClients+1), t0); wait != time.Second {
		t.Fatalf("second newcomer waits %v, want 1s: they share a limit", wait)
	}
	if c.size() != maxClients {
		t.Fatalf("table grew to %d", c.size())
	}
	// A second later every bucket is full again: the sweep keeps only
	// the address with a wrong token.
	if wait := c.admit(addr(maxClients+2), t0.Add(time.Second)); wait != 0 {
		t.Fatalf("newcomer after the sweep waits %v", wait)
	}
	if c.size() != 2 {
		t.Fatalf("table holds %d after the sweep, want 2", c.size())
	}
	if n, _ := c.failed(addr(0), t0.Add(2*time.Second)); n != 2 {
		t.Errorf("the swept table forgot a wrong token: %d in a row", n)
	}
}

func TestAuthDelays(t *testing.T) {
	l := Limits{AuthDelay: 500 * time.Millisecond, AuthMaxDelay: 3 * time.Second}
	l.setDefaults()
	c := newClients(l)
	var got []time.Duration
	for n := 1; n <= 9; n++ {
		got = append(got, c.delay(n))
	}
	want := []time.Duration{0, 0, 0, 500 * time.Millisecond, time.Second, 2 * time.Second, 3 * time.Second, 3 * time.Second, 3 * time.Second}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("delays %v, want %v", got, want)
		}
	}
	if d := c.delay(1 << 20); d != 3*time.Second {
		t.Errorf("a million failures wait %v", d)
	}
}
