package store

import (
	"context"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"github.com/oob-relay/relay/relay"
)

type watchState struct {
	Reports []relay.WatchReport
	Beat    time.Time
	Verdict relay.WatchVerdict
	HasV    bool
}

func watchStateOf(t *testing.T, s *Store) watchState {
	t.Helper()
	reps, err := s.WatchReports("target:web")
	if err != nil {
		t.Fatal(err)
	}
	beat, err := s.LastBeat("watchdog")
	if err != nil {
		t.Fatal(err)
	}
	v, ok, err := s.Verdict("target:web")
	if err != nil {
		t.Fatal(err)
	}
	return watchState{Reports: reps, Beat: beat, Verdict: v, HasV: ok}
}

// Reports, beats and verdicts fold alike in any order; a node cannot
// write another's report; a snapshot carries them.
func TestWatchFoldsInAnyOrder(t *testing.T) {
	ctx := context.Background()
	t0 := time.Now().UTC().Truncate(time.Second).Add(-time.Hour)
	seoul := open(t, t.TempDir(), "seoul-1")
	defer seoul.Close()
	busan := open(t, t.TempDir(), "busan-1")
	defer busan.Close()
	var evs []relay.Event
	add := func(s *Store, e relay.Event) {
		got, err := s.Append(ctx, e)
		if err != nil {
			t.Fatal(err)
		}
		evs = append(evs, got...)
	}
	add(seoul, relay.Event{WatchReport: &relay.WatchReport{Node: "seoul-1", Subject: "target:web", Up: true, Since: t0}})
	add(seoul, relay.Event{WatchReport: &relay.WatchReport{Node: "seoul-1", Subject: "target:web", Since: t0.Add(time.Minute), Reason: "status 503"}})
	// busan-1 speaks for seoul-1: ignored.
	add(busan, relay.Event{WatchReport: &relay.WatchReport{Node: "seoul-1", Subject: "target:web", Up: true, Since: t0.Add(2 * time.Minute)}})
	add(busan, relay.Event{WatchReport: &relay.WatchReport{Node: "busan-1", Subject: "target:web", Since: t0.Add(30 * time.Second), Reason: "status 502"}})
	add(seoul, relay.Event{Beat: &relay.Beat{Heartbeat: "watchdog", At: t0.Add(3 * time.Minute), By: "cron"}})
	add(busan, relay.Event{Beat: &relay.Beat{Heartbeat: "watchdog", At: t0.Add(2 * time.Minute), By: "alertmanager"}})
	add(busan, relay.Event{WatchVerdict: &relay.WatchVerdict{Subject: "target:web", Outage: 1, Down: true, Since: t0.Add(time.Minute), Incident: "watch-target-web-1"}})
	add(seoul, relay.Event{WatchVerdict: &relay.WatchVerdict{Subject: "target:web", Outage: 1, Since: t0.Add(5 * time.Minute), Incident: "watch-target-web-1"}})

	want := watchState{
		Reports: []relay.WatchReport{
			{Node: "busan-1", Subject: "target:web", Since: t0.Add(30 * time.Second), Reason: "status 502"},
			{Node: "seoul-1", Subject: "target:web", Since: t0.Add(time.Minute), Reason: "status 503"},
		},
		Beat:    t0.Add(3 * time.Minute),
		Verdict: relay.WatchVerdict{Subject: "target:web", Outage: 1, Since: t0.Add(5 * time.Minute), Incident: "watch-target-web-1"},
		HasV:    true,
	}
	for _, order := range [][]int{{0, 1, 2, 3, 4, 5, 6, 7}, {7, 6, 5, 4, 3, 2, 1, 0}, {3, 7, 1, 5, 0, 6, 2, 4}} {
		s := open(t, t.TempDir(), "tokyo-1")
		for _, i := range order {
			if _, err := s.Merge(ctx, []relay.Event{evs[i]}); err != nil {
				t.Fatal(err)
			}
		}
		if got := watchStateOf(t, s); !reflect.DeepEqual(got, want) {
			t.Errorf("order %v:\n got %+v\nwant %+v", order, got, want)
		}
		s.Close()
	}

	path := filepath.Join(t.TempDir(), "snap.db")
	if _, err := seoul.Merge(ctx, evs); err != nil {
		t.Fatal(err)
	}
	if _, err := seoul.WriteSnapshot(path); err != nil {
		t.Fatal(err)
	}
	dst := open(t, t.TempDir(), "jeju-1")
	defer dst.Close()
	if err := dst.Restore(ctx, path); err != nil {
		t.Fatal(err)
	}
	if got := watchStateOf(t, dst); !reflect.DeepEqual(got, want) {
		t.Errorf("restored:\n got %+v\nwant %+v", got, want)
	}
}

// Watch events with a bad subject, node or outage are refused.
func TestWatchEventsChecked(t *testing.T) {
	s := open(t, t.TempDir(), "seoul-1")
	defer s.Close()
	now := time.Now()
	for _, e := range []relay.Event{
		{WatchReport: &relay.WatchReport{Node: "seoul-1", Subject: "web", Since: now}},
		{WatchReport: &relay.WatchReport{Node: "Seoul 1", Subject: "target:web", Since: now}},
		{WatchReport: &relay.WatchReport{Node: "seoul-1", Subject: "target:web"}},
		{Beat: &relay.Beat{Heartbeat: "", At: now}},
		{WatchVerdict: &relay.WatchVerdict{Subject: "node:busan-1", Outage: 0, Incident: "x"}},
	} {
		e.Origin, e.Seq = "o", 1
		if err := e.Check(); err == nil {
			t.Errorf("%s accepted", e.Kind())
		}
	}
}
