package gossip

import (
	"bytes"
	"context"
	"log"
	"log/slog"
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
// slog.Logger at the level its prefix names, without the prefix.
type logWriter struct{ logger *slog.Logger }

// newLogBridge returns a log.Logger for memberlist.Config.Logger.
func newLogBridge(logger *slog.Logger) *log.Logger {
	return log.New(logWriter{logger}, "", 0)
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
	if !w.logger.Enabled(context.Background(), level) {
		return len(p), nil
	}
	line = bytes.TrimPrefix(line, []byte("memberlist: "))
	w.logger.Log(context.Background(), level, string(line), "component", "memberlist")
	return len(p), nil
}
