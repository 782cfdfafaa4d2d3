package hlc

import (
	"math"
	"testing"
	"time"
)

func TestClockNeverGoesBackwards(t *testing.T) {
	wall := time.Date(2026, 11, 24, 9, 0, 0, 0, time.UTC)
	c := NewClock(func() time.Time { return wall })
	a := c.Now()
	b := c.Now()
	if b <= a {
		t.Fatalf("second reading %v not after first %v with a frozen wall clock", b, a)
	}
	wall = wall.Add(-time.Hour) // the wall clock steps back
	if d := c.Now(); d <= b {
		t.Fatalf("reading %v after a backward wall step is not after %v", d, b)
	}
}

func TestClockFollowsRemoteAhead(t *testing.T) {
	wall := time.Date(2026, 11, 24, 9, 0, 0, 0, time.UTC)
	c := NewClock(func() time.Time { return wall })
	remote := Make(wall.Add(5*time.Second), 7)
	c.Observe(remote)
	if got := c.Now(); got <= remote {
		t.Fatalf("Now() = %v, want after observed %v", got, remote)
	}
}

func TestTimestampParts(t *testing.T) {
	wall := time.Date(2026, 11, 24, 9, 0, 0, 123e6, time.UTC)
	ts := Make(wall, 42)
	if !ts.Time().Equal(wall) || ts.Logical() != 42 {
		t.Fatalf("Make(%v, 42) round-trips to %v, %d", wall, ts.Time(), ts.Logical())
	}
	if got, want := ts.String(), "2026-11-24T09:00:00.123Z+42"; got != want {
		t.Fatalf("String() = %q, want %q", got, want)
	}
}

// TestClockNeverWraps: after the largest reading there is, the clock
// stays on it rather than wrapping to the smallest.
func TestClockNeverWraps(t *testing.T) {
	c := NewClock(nil)
	c.Observe(math.MaxUint64)
	if got := c.Now(); got != math.MaxUint64 {
		t.Fatalf("Now() after the largest reading = %v, want it again", got)
	}
}
