package gossip

import (
	"bytes"
	"context"
	"log"
	"log/slog"
	"time"

	"golang.org/x/time/rate"
)

// levels maps memberlist's log prefixes to slog levels. memberlist logs
// routine probe failures as [DEBUG], membership changes as [INFO], and
// refused packets and failed connections as [WARN] or [ERR].
var levels = []struct {
	prefix []byte
	level  slog.Level
}{
	{[]byte("[DEBUG]"), slog.LevelDebug},
	{[]byte("[INFO]"), slog.LevelInfo},
	{[]byte("[WARN]"), slog.LevelWarn},
	{[]byte("[ERR]"), slog.LevelError},
	{[]byte("[ERROR]"), slog.LevelError},
}

// logWriter receives memberlist's log lines and passes each to a
// slog.Logger at the level its prefix names, without the prefix. It also
// counts the failure detector's verdicts, which memberlist tells only in
// its log: suspicions this node raised, and suspicions of this node that
// it refuted. Where no member died, each is a false alarm.
type logWriter struct {
	logger *slog.Logger
	m      *metrics // may be nil
	// loud limits warnings and errors: anyone who can reach the gossip
	// port can make memberlist warn of each garbage packet.
	loud *rate.Limiter
	// stopping is closed when the node shuts gossip down. From then on
	// memberlist's complaints are about its own sockets closing under its
	// probes ("use of closed network connection", "UDP probes failed"),
	// so they are logged at debug level, not as errors.
	stopping <-chan struct{}
}

// Failure detector lines of memberlist's log (memberlist v0.7, state.go).
var (
	lineSuspect = []byte("Suspect ")    // "Suspect %s has failed, no acks received"
	lineRefute  = []byte("Refuting a ") // "Refuting a suspect message", "Refuting a dead message"
	lineFailed  = []byte("Marking ")    // "Marking %s as failed, suspect timeout reached"
	lineFailedT = []byte(" as failed")
)

// newLogBridge returns a log.Logger for memberlist.Config.Logger; lines
// after stopping is closed are logged at debug level.
func newLogBridge(logger *slog.Logger, m *metrics, stopping <-chan struct{}) *log.Logger {
	return log.New(logWriter{logger, m, rate.NewLimiter(rate.Every(100*time.Millisecond), 20), stopping}, "", 0)
}

func (w logWriter) count(line []byte) {
	if w.m == nil {
		return
	}
	line = bytes.TrimPrefix(line, []byte("memberlist: "))
	switch {
	case bytes.HasPrefix(line, lineSuspect):
		w.m.suspicions.Inc()
	case bytes.HasPrefix(line, lineRefute):
		w.m.refutations.Inc()
	case bytes.HasPrefix(line, lineFailed) && bytes.Contains(line, lineFailedT):
		w.m.verdicts.Inc()
	}
}

func (w logWriter) Write(p []byte) (int, error) {
	line := bytes.TrimSpace(p)
	level := slog.LevelInfo
	for _, l := range levels {
		if rest, ok := bytes.CutPrefix(line, l.prefix); ok {
			line, level = bytes.TrimSpace(rest), l.level
			break
		}
	}
	w.count(line)
	select {
	case <-w.stopping:
		level = min(level, slog.LevelDebug)
	default:
	}
	if !w.logger.Enabled(context.Background(), level) {
		return len(p), nil
	}
	if level >= slog.LevelWarn && !w.loud.Allow() {
		if w.m != nil {
			w.m.droppedLogs.Inc()
		}
		return len(p), nil
	}
	line = bytes.TrimPrefix(line, []byte("memberlist: "))
	w.logger.Log(context.Background(), level, string(line), "component", "memberlist")
	return len(p), nil
}
