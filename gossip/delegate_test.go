package gossip

import (
	"bytes"
	"context"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

func TestFrameRoundTrip(t *testing.T) {
	for _, tc := range []struct {
		kind    byte
		name    string
		payload []byte
	}{
		{kindMessage, "seoul-1", []byte("불이야")},
		{kindState, "b", nil},
		{kindLeaving, strings.Repeat("n", maxNameLen), []byte{0, 1, 2}},
		{kindDatagram, "tokyo-1", []byte("ack")},
	} {
		kind, name, payload, err := unframe(frame(tc.kind, tc.name, tc.payload))
		if err != nil || kind != tc.kind || name != tc.name || !bytes.Equal(payload, tc.payload) {
			t.Errorf("unframe(frame(%d, %q, %q)) = %d, %q, %q, %v", tc.kind, tc.name, tc.payload, kind, name, payload, err)
		}
	}
	for _, bad := range [][]byte{
		nil,
		{frameVersion},
		{2, kindMessage, 1, 'a'},              // unknown version
		{frameVersion, 9, 1, 'a'},             // unknown kind
		{frameVersion, kindMessage, 0},        // empty name
		{frameVersion, kindMessage, 5, 'a'},   // name cut short
		{frameVersion, kindMessage, 0x80},     // length cut short
		{frameVersion, kindState, 0xff, 0x01}, // name too long
	} {
		if _, _, _, err := unframe(bad); err == nil {
			t.Errorf("unframe(%v) accepted a malformed frame", bad)
		}
	}
}

func FuzzUnframe(f *testing.F) {
	f.Add(frame(kindMessage, "a", []byte("hello")))
	f.Add(frame(kindState, "seoul-1", nil))
	f.Add([]byte{frameVersion, kindLeaving, 0x80, 0x80, 0x80})
	f.Fuzz(func(t *testing.T, b []byte) {
		kind, name, payload, err := unframe(b)
		if err != nil {
			return
		}
		if again := frame(kind, name, payload); !bytes.Equal(again, b) && len(name) > 0 {
			// A non-minimal length varint decodes to the same frame: compare
			// the parts instead of the bytes.
			k2, n2, p2, err := unframe(again)
			if err != nil || k2 != kind || n2 != name || !bytes.Equal(p2, payload) {
				t.Errorf("frame(unframe(%v)) = %v", b, again)
			}
		}
	})
}

// records is a slog handler that keeps every record.
type records struct {
	mu   sync.Mutex
	recs []slog.Record
}

func (r *records) Enabled(context.Context, slog.Level) bool { return true }
func (r *records) Handle(_ context.Context, rec slog.Record) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.recs = append(r.recs, rec)
	return nil
}
func (r *records) WithAttrs([]slog.Attr) slog.Handler { return r }
func (r *records) WithGroup(string) slog.Handler      { return r }

func TestLogBridgeLevels(t *testing.T) {
	h := &records{}
	l := newLogBridge(slog.New(h), nil, nil)
	l.Printf("[DEBUG] memberlist: Stream connection from=127.0.0.1:1")
	l.Printf("[INFO] memberlist: Marking c as failed, suspect timeout reached (1 peer confirmations)")
	l.Printf("[WARN] memberlist: Refuting a suspect message (from: b)")
	l.Printf("[ERR] memberlist: failed to receive: No installed keys could decrypt the message")
	l.Printf("[ERROR] memberlist: Failed to encrypt local state")
	l.Printf("no prefix at all")
	want := []struct {
		level slog.Level
		msg   string
	}{
		{slog.LevelDebug, "Stream connection from=127.0.0.1:1"},
		{slog.LevelInfo, "Marking c as failed, suspect timeout reached (1 peer confirmations)"},
		{slog.LevelWarn, "Refuting a suspect message (from: b)"},
		{slog.LevelError, "failed to receive: No installed keys could decrypt the message"},
		{slog.LevelError, "Failed to encrypt local state"},
		{slog.LevelInfo, "no prefix at all"},
	}
	if len(h.recs) != len(want) {
		t.Fatalf("got %d records, want %d", len(h.recs), len(want))
	}
	for i, w := range want {
		r := h.recs[i]
		var attrs []string
		r.Attrs(func(a slog.Attr) bool { attrs = append(attrs, a.String()); return true })
		if r.Level != w.level || r.Message != w.msg || !slices.Equal(attrs, []string{"component=memberlist"}) {
			t.Errorf("record %d: %v %q %v; want %v %q", i, r.Level, r.Message, attrs, w.level, w.msg)
		}
	}
}

func TestMalformedMessagesAreDropped(t *testing.T) {
	a := startNode(t, "a", nil)
	d := delegate{a.Membership}
	d.NotifyMsg([]byte("not a frame"))
	d.NotifyMsg(frame(kindState, "b", []byte("state posing as a message")))
	d.MergeRemoteState(frame(kindMessage, "b", []byte("message posing as state")), false)
	d.NotifyMsg(frame(kindMessage, "b", []byte("real")))
	a.rec.mu.Lock()
	msgs, states := slices.Clone(a.rec.msgs), slices.Clone(a.rec.states)
	a.rec.mu.Unlock()
	if len(msgs) != 1 || msgs[0] != (received{from: "b", payload: "real"}) || len(states) != 0 {
		t.Errorf("messages %+v, states %+v; want only the real message", msgs, states)
	}
	if got := strings.Count(a.logs.String(), "dropped a malformed"); got != 3 {
		t.Errorf("logged %d drops, want 3", got)
	}
}

// TestLogBridgeCountsTheFailureDetector: the failure detector's
// suspicions, refutations and verdicts, which memberlist tells only in
// its log, are counted whatever the log level lets through.
func TestLogBridgeCountsTheFailureDetector(t *testing.T) {
	m, err := newMetrics(prometheus.NewRegistry())
	if err != nil {
		t.Fatal(err)
	}
	l := newLogBridge(slog.New(slog.DiscardHandler), m, nil)
	l.Printf("[INFO] memberlist: Suspect node-b has failed, no acks received")
	l.Printf("[INFO] memberlist: Suspect node-c has failed, no acks received")
	l.Printf("[WARN] memberlist: Refuting a suspect message (from: node-a)")
	l.Printf("[WARN] memberlist: Refuting a dead message (from: node-a)")
	l.Printf("[INFO] memberlist: Marking node-c as failed, suspect timeout reached (1 peer confirmations)")
	l.Printf("[DEBUG] memberlist: Failed UDP ping: node-b (timeout reached)")
	for name, c := range map[string]prometheus.Counter{"suspicions": m.suspicions, "refutations": m.refutations, "verdicts": m.verdicts} {
		want := map[string]float64{"suspicions": 2, "refutations": 2, "verdicts": 1}[name]
		if got := testutil.ToFloat64(c); got != want {
			t.Errorf("%s = %v, want %v", name, got, want)
		}
	}
}

// TestLogBridgeQuietWhenStopping: once gossip shuts down, memberlist's
// probes fail on its own closed sockets; that is no error of the node's.
func TestLogBridgeQuietWhenStopping(t *testing.T) {
	h := &records{}
	stopping := make(chan struct{})
	l := newLogBridge(slog.New(h), nil, stopping)
	l.Printf("[ERR] memberlist: Failed to send UDP ping: write udp 127.0.0.1:1->127.0.0.1:2: use of closed network connection")
	close(stopping)
	l.Printf("[ERR] memberlist: Failed to send UDP ping: write udp 127.0.0.1:1->127.0.0.1:2: use of closed network connection")
	l.Printf("[WARN] memberlist: Was able to connect to b over TCP but UDP probes failed, network may be misconfigured")
	if len(h.recs) != 3 {
		t.Fatalf("got %d records, want 3", len(h.recs))
	}
	if h.recs[0].Level != slog.LevelError {
		t.Errorf("before stopping, an error logged at %v", h.recs[0].Level)
	}
	for _, r := range h.recs[1:] {
		if r.Level != slog.LevelDebug {
			t.Errorf("while stopping, %q logged at %v, want debug", r.Message, r.Level)
		}
	}
}
