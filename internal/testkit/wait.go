package testkit

import (
	"context"
	"testing"
	"time"
)

// maxPause bounds the pause between two checks of a condition. Checks
// start 1 ms apart and back off to it, so that a condition that comes
// true at once is seen at once and a slow one is not checked in a busy
// loop.
const maxPause = 20 * time.Millisecond

// Poll reports whether cond came true within d, or before ctx ended. It
// checks cond once more when the time is up, so a condition that came
// true during the last pause counts.
func Poll(ctx context.Context, d time.Duration, cond func() bool) bool {
	ctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	return until(ctx, cond)
}

// Eventually fails the test unless cond comes true within d. what says
// what the test waited for, in the failure.
func Eventually(tb testing.TB, d time.Duration, what string, cond func() bool) {
	tb.Helper()
	if !Poll(context.Background(), d, cond) {
		tb.Fatalf("timed out after %s waiting for %s", d, what)
	}
}

// EventuallyNil fails the test unless check returns nil within d; the
// failure shows check's last error.
func EventuallyNil(tb testing.TB, d time.Duration, check func() error) {
	tb.Helper()
	var err error
	if !Poll(context.Background(), d, func() bool { err = check(); return err == nil }) {
		tb.Fatalf("still failing after %s: %v", d, err)
	}
}

// WaitFor fails the test unless cond comes true before ctx ends, for a
// test that bounds all its waits with one deadline.
func WaitFor(tb testing.TB, ctx context.Context, what string, cond func() bool) {
	tb.Helper()
	if !until(ctx, cond) {
		tb.Fatalf("timed out waiting for %s: %v", what, context.Cause(ctx))
	}
}

// until checks cond, pausing between checks, until it is true or ctx
// ends.
func until(ctx context.Context, cond func() bool) bool {
	pause := time.Millisecond
	t := time.NewTimer(pause)
	defer t.Stop()
	for !cond() {
		select {
		case <-t.C:
		case <-ctx.Done():
			return cond()
		}
		pause = min(2*pause, maxPause)
		t.Reset(pause)
	}
	return true
}
