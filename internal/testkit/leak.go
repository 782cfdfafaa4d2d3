package testkit

import (
	"testing"

	"go.uber.org/goleak"
)

// NoLeaks fails tb if, once it is done and its cleanups have run (those
// registered after NoLeaks first), goroutines are left that were not
// running when NoLeaks was called. opts add goroutines to ignore.
func NoLeaks(tb testing.TB, opts ...goleak.Option) {
	tb.Helper()
	opts = append([]goleak.Option{goleak.IgnoreCurrent()}, opts...)
	tb.Cleanup(func() { goleak.VerifyNone(tb, opts...) })
}
