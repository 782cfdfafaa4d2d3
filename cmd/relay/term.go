package main

import (
	"io"
	"sync"
	"unicode/utf8"

	"github.com/oob-relay/relay/relay"
)

// safeWriter writes to a terminal, or wherever the command's output goes,
// with every character that would move the cursor, clear the screen or
// reorder a line written as an escape (relay.PrintableText): what a node
// stored, or a hostile node answers, is printed but never obeyed.
// Newlines and tabs pass; a character split across writes is held until
// its end comes. It is safe for concurrent use.
type safeWriter struct {
	mu      sync.Mutex
	w       io.Writer
	pending []byte // the start of a character whose end has not come
}

func newSafeWriter(w io.Writer) *safeWriter { return &safeWriter{w: w} }

func (s *safeWriter) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	buf := append(s.pending, p...)
	cut := len(buf)
	for i := len(buf) - 1; i >= 0 && i >= len(buf)-utf8.UTFMax+1; i-- {
		if utf8.RuneStart(buf[i]) {
			if !utf8.FullRune(buf[i:]) {
				cut = i
			}
			break
		}
	}
	out := relay.PrintableText(string(buf[:cut]))
	s.pending = append([]byte(nil), buf[cut:]...)
	if _, err := io.WriteString(s.w, out); err != nil {
		return 0, err
	}
	return len(p), nil
}

// Flush writes what is held of a character that never ended, escaped.
func (s *safeWriter) Flush() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.pending) == 0 {
		return nil
	}
	_, err := io.WriteString(s.w, relay.PrintableText(string(s.pending)))
	s.pending = nil
	return err
}

// cell is a value for one cell of a table or one field of a line:
// escaped, newlines and tabs too, so that it cannot start a line of its
// own nor shift the columns.
func cell(s string) string { return relay.Printable(s) }

// cells is cell for each value.
func cells(list []string) []string {
	out := make([]string, len(list))
	for i, s := range list {
		out[i] = cell(s)
	}
	return out
}
