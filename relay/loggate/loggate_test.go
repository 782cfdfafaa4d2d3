package loggate

import (
	"testing"
	"time"
)

// TestGateHoldsBackAndCounts: a burst passes, the rest of the second is
// held back, and the next line that passes says how many were.
func TestGateHoldsBackAndCounts(t *testing.T) {
	g := New(2, 3)
	t0 := time.Date(2026, 12, 2, 9, 0, 0, 0, time.UTC)
	passed := 0
	for range 100 {
		if n, ok := g.Allow(t0); ok {
			if n != 0 {
				t.Fatalf("a line of the first burst says %d were held back", n)
			}
			passed++
		}
	}
	if passed != 3 {
		t.Fatalf("%d of 100 lines at one instant passed, want the burst of 3", passed)
	}
	n, ok := g.Allow(t0.Add(500 * time.Millisecond))
	if !ok || n != 97 {
		t.Fatalf("half a second later: Allow = %d, %v; want 97 held back, true", n, ok)
	}
	if n, ok := g.Allow(t0.Add(time.Second)); !ok || n != 0 {
		t.Fatalf("a second later: Allow = %d, %v; want 0, true", n, ok)
	}
}
