package store

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/oob-relay/relay/relay"
)

// fanOut appends n messages of people people each, settled.
func fanOut(t *testing.T, s *Store, n, people int) []*relay.Message {
	t.Helper()
	var out []*relay.Message
	for i := range n {
		var who []string
		for p := range people {
			who = append(who, fmt.Sprintf("p%04d", p))
		}
		m := testMessage(fmt.Sprintf("M%04d", i), fmt.Sprintf("inc-%d", i%3), who...)
		if _, err := s.Append(context.Background(), relay.Event{Message: m}); err != nil {
			t.Fatal(err)
		}
		settleAll(t, s, m)
		out = append(out, m)
	}
	return out
}

func TestTruncatedLogSaysSo(t *testing.T) {
	s := open(t, t.TempDir(), "seoul")
	defer s.Close()
	fanOut(t, s, 5, 3)
	marks, _ := s.Marks()
	o := s.Origin()
	// Only events older than the cutoff go: none is.
	if n, err := s.TruncateLog(context.Background(), map[string]uint64{o: 4}, time.Unix(0, 0)); err != nil || n != 0 {
		t.Fatalf("TruncateLog of recent events = %d, %v; want none", n, err)
	}
	n, err := s.TruncateLog(context.Background(), map[string]uint64{o: 4}, time.Now().Add(time.Hour))
	if err != nil || n != 4 {
		t.Fatalf("TruncateLog = %d, %v; want 4", n, err)
	}
	if _, err := s.EventsFrom(o, 2, 10); !errors.Is(err, ErrTruncated) {
		t.Fatalf("EventsFrom below the floor = %v, want ErrTruncated", err)
	}
	evs, err := s.EventsFrom(o, 4, 100)
	if err != nil || len(evs) != int(marks[o])-4 || evs[0].Seq != 5 {
		t.Fatalf("EventsFrom the floor = %d events from %v, %v", len(evs), evs, err)
	}
	if floors, _ := s.Floors(); floors[o] != 4 {
		t.Fatalf("floors %v, want %s at 4", floors, o)
	}
	// An event at or below the mark that comes again is still known:
	// it is not written back into the log.
	if fresh, err := s.Merge(context.Background(), []relay.Event{{Origin: "busan", Seq: 1, Clock: s.Clock().Now(), Ack: &relay.Ack{Message: "M0000", Person: "p0000"}}}); err != nil || len(fresh) != 1 {
		t.Fatal(fresh, err)
	}
	if _, err := s.TruncateLog(context.Background(), map[string]uint64{"busan": 1}, time.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if fresh, err := s.Merge(context.Background(), []relay.Event{{Origin: "busan", Seq: 1, Clock: s.Clock().Now(), Ack: &relay.Ack{Message: "M0000", Person: "p0000"}}}); err != nil || len(fresh) != 0 {
		t.Fatalf("an event below the floor merged again as new: %v, %v", fresh, err)
	}
}

// holds is what a store holds of msgs, for comparing replicas.
func holds(t *testing.T, s *Store, msgs []*relay.Message) map[string]any {
	t.Helper()
	out := map[string]any{}
	for _, m := range msgs {
		ds, err := s.Deliveries(m.ID)
		if err != nil {
			t.Fatal(err)
		}
		got, err := s.Message(m.ID)
		if err != nil {
			t.Fatal(err)
		}
		c, _ := s.Counts(m.ID)
		acks, _ := s.Acks(m.ID)
		out[m.ID] = []any{ds, got, c, acks}
	}
	incs, _ := s.Incidents()
	out["incidents"] = incs
	r, _, _ := s.Roster()
	out["roster"] = r
	return out
}

func TestSnapshotRestoresAnEmptyStore(t *testing.T) {
	src := open(t, t.TempDir(), "seoul")
	defer src.Close()
	msgs := fanOut(t, src, 6, 4)
	if _, err := src.Pack(context.Background(), msgs[0].Deadline.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "snap.db")
	marks, err := src.WriteSnapshot(path)
	if err != nil {
		t.Fatal(err)
	}
	dst := open(t, t.TempDir(), "busan")
	defer dst.Close()
	if err := dst.Restore(context.Background(), path); err != nil {
		t.Fatal(err)
	}
	if want, got := holds(t, src, msgs), holds(t, dst, msgs); !reflect.DeepEqual(got, want) {
		t.Fatalf("restored state differs:\n got %v\nwant %v", got, want)
	}
	got, _ := dst.Marks()
	if got[src.Origin()] != marks[src.Origin()] {
		t.Fatalf("restored marks %v, want %v", got, marks)
	}
	// The restored store holds no log of the source: it says so.
	if _, err := dst.EventsFrom(src.Origin(), 0, 10); !errors.Is(err, ErrTruncated) {
		t.Fatalf("EventsFrom a restored origin = %v, want ErrTruncated", err)
	}
	// The tail after the snapshot merges as usual.
	more := fanOut(t, src, 1, 2)
	tail, err := src.EventsFrom(src.Origin(), marks[src.Origin()], 100)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := dst.Merge(context.Background(), tail); err != nil {
		t.Fatal(err)
	}
	all := append(msgs, more...)
	if want, got := holds(t, src, all), holds(t, dst, all); !reflect.DeepEqual(got, want) {
		t.Fatal("state after the tail differs")
	}
}

// TestSnapshotKeepsWhatOnlyThisStoreHeld: a store behind its peers
// restores their snapshot and keeps its own events the peer never got.
func TestSnapshotKeepsWhatOnlyThisStoreHeld(t *testing.T) {
	src := open(t, t.TempDir(), "seoul")
	defer src.Close()
	msgs := fanOut(t, src, 3, 2)
	path := filepath.Join(t.TempDir(), "snap.db")
	if _, err := src.WriteSnapshot(path); err != nil {
		t.Fatal(err)
	}
	dst := open(t, t.TempDir(), "busan")
	defer dst.Close()
	own := fanOut(t, dst, 1, 2) // M0000 again, accepted on busan: a conflict the fold settles
	own[0].ID = "B0001"
	mine := testMessage("B0001", "busan-only", "kim")
	if _, err := dst.Append(context.Background(), relay.Event{Message: mine}); err != nil {
		t.Fatal(err)
	}
	if err := dst.Restore(context.Background(), path); err != nil {
		t.Fatal(err)
	}
	if _, err := dst.Message("B0001"); err != nil {
		t.Fatalf("busan's own message lost in the restore: %v", err)
	}
	if _, err := dst.Incident("busan-only"); err != nil {
		t.Fatalf("busan's own incident lost in the restore: %v", err)
	}
	for _, m := range msgs {
		if _, err := dst.Message(m.ID); err != nil {
			t.Fatalf("%s missing after the restore: %v", m.ID, err)
		}
	}
	marks, _ := dst.Marks()
	if marks[dst.Origin()] != 3 {
		t.Fatalf("busan's own mark %d after the restore, want 3", marks[dst.Origin()])
	}
}

// TestCompactFileShrinksAndLosesNothing: after pruning most of the
// history the file is rewritten smaller, while writes go on; every write
// acknowledged before, during or after is there.
func TestCompactFileShrinksAndLosesNothing(t *testing.T) {
	dir := t.TempDir()
	s := open(t, dir, "seoul")
	msgs := fanOut(t, s, 40, 50)
	now := msgs[0].AcceptedAt.Add(100 * 24 * time.Hour)
	if _, _, err := s.Prune(context.Background(), now, 90*24*time.Hour); err != nil {
		t.Fatal(err)
	}
	marks, _ := s.Marks()
	if _, err := s.TruncateLog(context.Background(), marks, time.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	var written []string
	stop := make(chan struct{})
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			m := testMessage(fmt.Sprintf("W%05d", i), "during", "kim")
			if _, err := s.Append(context.Background(), relay.Event{Message: m}); err != nil {
				t.Error(err)
				return
			}
			mu.Lock()
			written = append(written, m.ID)
			mu.Unlock()
		}
	}()
	before, after, err := s.CompactFile(context.Background())
	close(stop)
	wg.Wait()
	if err != nil {
		t.Fatal(err)
	}
	if after >= before/2 {
		t.Fatalf("file %d bytes before compaction, %d after; want well under half", before, after)
	}
	if len(written) == 0 {
		t.Fatal("no write went on during the compaction")
	}
	for _, id := range written {
		if _, err := s.Message(id); err != nil {
			t.Fatalf("%s written during the compaction is missing: %v", id, err)
		}
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = open(t, dir, "seoul")
	defer s.Close()
	for _, id := range written {
		if _, err := s.Message(id); err != nil {
			t.Fatalf("%s missing after reopening: %v", id, err)
		}
	}
	t.Logf("file %d bytes before compaction, %d after; %d writes during it", before, after, len(written))
}
