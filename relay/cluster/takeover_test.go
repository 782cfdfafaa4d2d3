package cluster

import (
	"testing"
	"time"
)

// TestSurvivorHoldsWhatPeersHoldOfTheDeadBeforeClaiming: c counts b dead
// (falsely: b is live and still counts c live), so c's claims go to a
// alone. Then c dies for real. b takes over c's deliveries only once it
// holds what a holds of c's log: a sends it, asked by b's hello after the
// death, and until then b is not caught up. A survivor that claimed on
// its own view would send again what c had claimed and sent.
func TestSurvivorHoldsWhatPeersHoldOfTheDeadBeforeClaiming(t *testing.T) {
	net := newMemNet(13)
	defer net.close()
	opts := Options{CatchUpTimeout: 5 * time.Second}
	a := net.add(t, "a", t.TempDir(), opts)
	defer a.stop()
	b := net.add(t, "b", t.TempDir(), opts)
	defer b.stop()
	c := net.add(t, "c", t.TempDir(), opts)
	a.write(t, 1)
	b.write(t, 1)
	c.write(t, 20)
	converged(t, 10*time.Second, a, b, c)

	net.setUnseen("c", "b", true) // c's failure detector counts b dead
	c.write(t, 50)                // claims that reach a alone
	origin := c.st.Origin()
	deadline := time.Now().Add(10 * time.Second)
	for a.marks(t)[origin] < 70 {
		if time.Now().After(deadline) {
			t.Fatalf("c's events never reached a: a holds %v", a.marks(t))
		}
		time.Sleep(5 * time.Millisecond)
	}
	if held := b.marks(t)[origin]; held != 20 {
		t.Fatalf("b holds %d of c's events before the test's crash, want the 20 from before c counted it dead", held)
	}

	c.stop() // c dies: a and b count it gone
	died := time.Now()
	for b.marks(t)[origin] < 70 {
		if held := b.marks(t)[origin]; b.r.CaughtUp() && held < 70 {
			t.Fatalf("b counts itself caught up %v after c's death holding %d of the 70 events of c's that a holds",
				time.Since(died).Round(time.Millisecond), held)
		}
		if time.Since(died) > 4*time.Second {
			t.Fatalf("a never sent b what it holds of c's log: b holds %v", b.marks(t))
		}
		time.Sleep(time.Millisecond)
	}
	for !b.r.CaughtUp() {
		if time.Since(died) > 4*time.Second {
			t.Fatal("b holds what a holds of c's log but does not count itself caught up")
		}
		time.Sleep(time.Millisecond)
	}
	for !a.r.CaughtUp() {
		if time.Since(died) > 4*time.Second {
			t.Fatal("a does not count itself caught up after c's death")
		}
		time.Sleep(time.Millisecond)
	}
}
