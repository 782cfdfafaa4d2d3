package store

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/oob-relay/relay/relay"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func open(t testing.TB, dir, node string) *Store {
	t.Helper()
	s, err := Open(Options{Dir: dir, Node: node})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func testMessage(id, incident string, people ...string) *relay.Message {
	m := &relay.Message{ID: id, Incident: incident, Text: "서버실 화재: 2층 대피", Severity: relay.SeverityCritical,
		Author: "ops-bot", To: []string{"group:oncall"}, AcceptedBy: "seoul",
		AcceptedAt: time.Date(2026, 11, 24, 9, 0, 0, 0, time.UTC), Deadline: time.Date(2026, 11, 24, 10, 0, 0, 0, time.UTC)}
	for _, p := range people {
		m.Recipients = append(m.Recipients, relay.Recipient{
			Person: relay.Person{ID: p, Phone: "+821012345678", Email: p + "@example.com"}, Channels: []string{"sms", "email"}})
	}
	return m
}

func TestAppendSurvivesReopen(t *testing.T) {
	dir := t.TempDir()
	s := open(t, dir, "seoul")
	ctx := context.Background()
	evs, err := s.Append(ctx, relay.Event{Message: testMessage("M1", "fire", "kim", "lee")})
	if err != nil {
		t.Fatal(err)
	}
	if evs[0].Seq != 1 || evs[0].Origin != s.Origin() || evs[0].Node != "seoul" || evs[0].Clock == 0 {
		t.Fatalf("appended event not stamped: %+v", evs[0])
	}
	origin := s.Origin()
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	s = open(t, dir, "seoul")
	defer s.Close()
	if s.Origin() != origin {
		t.Fatalf("origin changed across reopen: %s → %s", origin, s.Origin())
	}
	m, err := s.Message("M1")
	if err != nil || m.Text != "서버실 화재: 2층 대피" {
		t.Fatalf("Message after reopen = %+v, %v", m, err)
	}
	open, err := s.OpenDeliveries()
	if err != nil || len(open) != 4 {
		t.Fatalf("open deliveries after reopen = %d, %v; want 4", len(open), err)
	}
	evs, err = s.Append(ctx, relay.Event{Deliveries: []relay.DeliveryChange{{ID: "M1.sms.kim", Status: relay.StatusSent, Attempt: 1}}})
	if err != nil || evs[0].Seq != 2 {
		t.Fatalf("sequence did not continue after reopen: %+v, %v", evs, err)
	}
	inc, err := s.Incident("fire")
	if err != nil || inc.Messages != 1 || inc.Severity != relay.SeverityCritical {
		t.Fatalf("incident = %+v, %v", inc, err)
	}
}

func TestNewDirGetsNewOrigin(t *testing.T) {
	a, b := open(t, t.TempDir(), "seoul"), open(t, t.TempDir(), "seoul")
	defer a.Close()
	defer b.Close()
	if a.Origin() == b.Origin() {
		t.Fatal("two empty data dirs got the same origin")
	}
}

func TestConcurrentAppendsAreContiguous(t *testing.T) {
	s := open(t, t.TempDir(), "seoul")
	defer s.Close()
	if _, err := s.Append(context.Background(), relay.Event{Message: testMessage("M1", "fire", "kim")}); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	seqs := make(chan uint64, 400)
	for g := 0; g < 40; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 10; i++ {
				evs, err := s.Append(context.Background(), relay.Event{Deliveries: []relay.DeliveryChange{
					{ID: "M1.sms.kim", Status: relay.StatusPending, Attempt: g*10 + i + 1}}})
				if err != nil {
					t.Error(err)
					return
				}
				seqs <- evs[0].Seq
			}
		}()
	}
	wg.Wait()
	close(seqs)
	seen := map[uint64]bool{}
	for q := range seqs {
		if seen[q] {
			t.Fatalf("sequence %d issued twice", q)
		}
		seen[q] = true
	}
	for q := uint64(2); q <= 401; q++ {
		if !seen[q] {
			t.Fatalf("sequence %d missing: appends are not contiguous", q)
		}
	}
	marks, _ := s.Marks()
	if marks[s.Origin()] != 401 {
		t.Fatalf("own mark = %d, want 401", marks[s.Origin()])
	}
	d, _ := s.Delivery("M1.sms.kim")
	if d.Attempts != 400 {
		t.Fatalf("attempts = %d, want 400 (the highest change)", d.Attempts)
	}
}

func TestDeliveryMovesOnlyForward(t *testing.T) {
	s := open(t, t.TempDir(), "seoul")
	defer s.Close()
	ctx := context.Background()
	s.Append(ctx, relay.Event{Message: testMessage("M1", "fire", "kim")})
	steps := []relay.DeliveryChange{
		{ID: "M1.sms.kim", Status: relay.StatusSending, Attempt: 1},
		{ID: "M1.sms.kim", Status: relay.StatusPending, Attempt: 1, Error: "503", Reason: relay.ReasonProvider},
		{ID: "M1.sms.kim", Status: relay.StatusSending, Attempt: 2},
		{ID: "M1.sms.kim", Status: relay.StatusSent, Attempt: 2, ProviderID: "SM1"},
		{ID: "M1.sms.kim", Status: relay.StatusSending, Attempt: 1}, // stale, from an old attempt
		{ID: "M1.sms.kim", Status: relay.StatusPending, Attempt: 0}, // stale
	}
	for _, c := range steps {
		if _, err := s.Append(ctx, relay.Event{Deliveries: []relay.DeliveryChange{c}}); err != nil {
			t.Fatal(err)
		}
	}
	d, _ := s.Delivery("M1.sms.kim")
	if d.Status != relay.StatusSent || d.Attempts != 2 || d.ProviderID != "SM1" || d.Error != "" {
		t.Fatalf("delivery = %+v, want sent on attempt 2 with SM1", d)
	}
	counts, _ := s.Counts("M1")
	if counts[relay.StatusSent] != 1 || counts[relay.StatusPending] != 1 || len(counts) != 2 {
		t.Fatalf("counts = %v, want 1 sent (sms) and 1 pending (email)", counts)
	}
	open, _ := s.OpenDeliveries()
	if len(open) != 1 || open[0].ID != "M1.email.kim" {
		t.Fatalf("open = %+v, want only the email delivery", open)
	}
}

func TestSameMessageTwiceEarliestWins(t *testing.T) {
	a, b := open(t, t.TempDir(), "a"), open(t, t.TempDir(), "b")
	defer a.Close()
	defer b.Close()
	ctx := context.Background()
	first, _ := a.Append(ctx, relay.Event{Message: testMessage("K1", "fire", "kim")})
	second, _ := b.Append(ctx, relay.Event{Message: testMessage("K1", "fire", "kim", "lee")})
	a.Merge(ctx, second)
	b.Merge(ctx, first)
	for _, s := range []*Store{a, b} {
		inc, _ := s.Incident("fire")
		if inc.Messages != 1 {
			t.Fatalf("%s: incident counts %d messages for one id", s.Node(), inc.Messages)
		}
		ms, _ := s.IncidentMessages("fire")
		if len(ms) != 1 || len(ms[0].Recipients) != 1 {
			t.Fatalf("%s: timeline = %+v, want the earlier acceptance only", s.Node(), ms)
		}
		ds, _ := s.Deliveries("K1")
		if len(ds) != 4 {
			t.Fatalf("%s: %d deliveries, want the union of both acceptances (4)", s.Node(), len(ds))
		}
	}
}

func TestRosterLastWriterWins(t *testing.T) {
	a, b := open(t, t.TempDir(), "a"), open(t, t.TempDir(), "b")
	defer a.Close()
	defer b.Close()
	ctx := context.Background()
	r1 := relay.Roster{People: []relay.Person{{ID: "kim", Phone: "+821012345678"}}}
	r2 := relay.Roster{People: []relay.Person{{ID: "lee", Phone: "+821087654321"}}}
	older, _ := a.Append(ctx, relay.Event{Roster: &relay.RosterChange{Roster: r1, By: "admin"}})
	b.Clock().Observe(older[0].Clock)
	newer, _ := b.Append(ctx, relay.Event{Roster: &relay.RosterChange{Roster: r2, By: "admin"}})
	a.Merge(ctx, newer)
	b.Merge(ctx, older)
	for _, s := range []*Store{a, b} {
		r, _, _ := s.Roster()
		if len(r.People) != 1 || r.People[0].ID != "lee" {
			t.Fatalf("%s: roster = %+v, want the later one (lee)", s.Node(), r)
		}
	}
}

func TestMergeRejectsBadEvents(t *testing.T) {
	s := open(t, t.TempDir(), "a")
	defer s.Close()
	ctx := context.Background()
	bad := []relay.Event{
		{Origin: "", Seq: 1, Roster: &relay.RosterChange{}},
		{Origin: "x", Seq: 1},
	}
	for i, e := range bad {
		if _, err := s.Merge(ctx, []relay.Event{e}); err == nil {
			t.Errorf("bad event %d merged without error", i)
		}
	}
	// An event claiming this node's own origin is refused alone.
	fresh, err := s.Merge(ctx, []relay.Event{{Origin: s.Origin(), Seq: 99, Roster: &relay.RosterChange{}}})
	if err != nil || len(fresh) != 0 {
		t.Errorf("an event under this node's origin: merged %v, %v", fresh, err)
	}
	marks, _ := s.Marks()
	if len(marks) != 0 {
		t.Fatalf("rejected events left marks: %v", marks)
	}
}

func TestEventsFrom(t *testing.T) {
	s := open(t, t.TempDir(), "a")
	defer s.Close()
	for i := 0; i < 10; i++ {
		s.Append(context.Background(), relay.Event{Message: testMessage(fmt.Sprintf("M%d", i), "fire", "kim")})
	}
	evs, err := s.EventsFrom(s.Origin(), 3, 4)
	if err != nil || len(evs) != 4 || evs[0].Seq != 4 || evs[3].Seq != 7 {
		t.Fatalf("EventsFrom(3, 4) = %d events starting %v, %v", len(evs), evs, err)
	}
}

// TestWriteAfterCloseFailsAtOnce: a write that comes after Close (a
// peer's push during shutdown) returns ErrClosed at once; it never hangs
// in a queue that nobody reads any more.
func TestWriteAfterCloseFailsAtOnce(t *testing.T) {
	s := open(t, t.TempDir(), "seoul")
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background() // no deadline: a hang must show as a hang
	var wg sync.WaitGroup
	errs := make(chan error, 100)
	for i := range 50 {
		wg.Add(2)
		go func() {
			defer wg.Done()
			_, err := s.Append(ctx, relay.Event{Ack: &relay.Ack{Message: "M1", Person: "kim"}})
			errs <- err
		}()
		go func() {
			defer wg.Done()
			_, err := s.Merge(ctx, []relay.Event{{Origin: "other", Seq: uint64(i + 1), Ack: &relay.Ack{Message: "M1", Person: "lee"}}})
			errs <- err
		}()
	}
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("writes after Close still blocked after 5 s")
	}
	close(errs)
	for err := range errs {
		if !errors.Is(err, ErrClosed) {
			t.Fatalf("write after Close = %v, want ErrClosed", err)
		}
	}
}

// TestCloseRacingWrites: writes racing Close either succeed (and are on
// disk after a reopen) or fail with ErrClosed; none hangs.
func TestCloseRacingWrites(t *testing.T) {
	dir := t.TempDir()
	s := open(t, dir, "seoul")
	ctx := context.Background()
	var wg sync.WaitGroup
	var mu sync.Mutex
	ok := 0
	for range 50 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := s.Append(ctx, relay.Event{Ack: &relay.Ack{Message: "M1", Person: "kim"}})
			switch {
			case err == nil:
				mu.Lock()
				ok++
				mu.Unlock()
			case !errors.Is(err, ErrClosed):
				t.Errorf("write racing Close = %v, want nil or ErrClosed", err)
			}
		}()
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("writes racing Close still blocked after 5 s")
	}
	s = open(t, dir, "seoul")
	defer s.Close()
	marks, err := s.Marks()
	if err != nil {
		t.Fatal(err)
	}
	if got := marks[s.Origin()]; got != uint64(ok) {
		t.Fatalf("%d writes succeeded but %d are on disk", ok, got)
	}
}
