package store

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/oob-relay/relay/relay"
)

func remember(t *testing.T, s *Store, key string, until time.Time) relay.Event {
	t.Helper()
	evs, err := s.Append(context.Background(), relay.Event{Seen: &relay.Seen{Key: key, Until: until}})
	if err != nil {
		t.Fatal(err)
	}
	return evs[0]
}

func seen(t *testing.T, s *Store, key string, now time.Time) bool {
	t.Helper()
	ok, err := s.Seen(key, now)
	if err != nil {
		t.Fatal(err)
	}
	return ok
}

// The memory of requests taken is on disk, reaches another store as any
// event does, keeps a key until the latest until any record gave it, and
// forgets it then.
func TestSeenSurvivesReopenAndMerges(t *testing.T) {
	dir := t.TempDir()
	now := time.Now()
	s := open(t, dir, "seoul")
	const key = "twilio:sms:SM0123456789abcdef0123456789abcdef"
	if seen(t, s, key, now) {
		t.Fatal("a key nobody recorded is seen")
	}
	remember(t, s, key, now.Add(time.Hour))
	remember(t, s, key, now.Add(time.Minute)) // an earlier until does not shorten it
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = open(t, dir, "seoul")
	defer s.Close()
	if !seen(t, s, key, now.Add(59*time.Minute)) {
		t.Fatal("the key is forgotten after a reopen, or its until was shortened")
	}
	if seen(t, s, key, now.Add(time.Hour)) {
		t.Fatal("the key is still seen at its until")
	}

	peer := open(t, t.TempDir(), "busan")
	defer peer.Close()
	evs, err := s.EventsFrom(s.Origin(), 0, 10)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := peer.Merge(context.Background(), evs); err != nil {
		t.Fatal(err)
	}
	if !seen(t, peer, key, now.Add(59*time.Minute)) {
		t.Fatal("the peer does not know the key after merging the events")
	}
	if st, err := peer.Stats(); err != nil || st.Seen != 1 {
		t.Fatalf("peer's stats: %+v, %v; want 1 seen key", st, err)
	}
}

// A record whose until is far ahead is kept relay.MaxSeenFor past its
// event at most; a record without a key, with a key too long or without
// an until is refused and its batch with it.
func TestSeenIsBounded(t *testing.T) {
	s := open(t, t.TempDir(), "seoul")
	defer s.Close()
	e := remember(t, s, "k", time.Now().Add(100*365*24*time.Hour))
	limit := e.Clock.Time().Add(relay.MaxSeenFor)
	if !seen(t, s, "k", limit.Add(-time.Second)) || seen(t, s, "k", limit) {
		t.Fatalf("a key with an until a century ahead is not kept exactly until %s", limit)
	}

	peer := open(t, t.TempDir(), "busan")
	defer peer.Close()
	for _, bad := range []relay.Seen{
		{Until: time.Now().Add(time.Hour)},
		{Key: strings.Repeat("k", relay.MaxSeenKey+1), Until: time.Now().Add(time.Hour)},
		{Key: "k\xff", Until: time.Now().Add(time.Hour)},
		{Key: "k"},
	} {
		ev := relay.Event{Origin: "X", Seq: 1, Node: "x", Clock: e.Clock, Seen: &bad}
		if _, err := peer.Merge(context.Background(), []relay.Event{ev}); err == nil {
			t.Errorf("a seen record %+.40v was merged", bad)
		}
	}
	if _, err := s.Append(context.Background(), relay.Event{Seen: &relay.Seen{Key: "", Until: time.Now()}}); err == nil {
		t.Error("a seen record without a key was appended")
	}
}

// ForgetSeen forgets what expired, then the keys that expire soonest
// while more than the limit are left.
func TestForgetSeen(t *testing.T) {
	s := open(t, t.TempDir(), "seoul")
	defer s.Close()
	now := time.Now()
	for i := range 10 {
		// k0 and k1 have expired; k2 expires soonest of the rest.
		remember(t, s, fmt.Sprintf("k%d", i), now.Add(time.Duration(i-2)*time.Hour+30*time.Minute))
	}
	expired, evicted, err := s.ForgetSeen(context.Background(), now, 5)
	if err != nil || expired != 2 || evicted != 3 {
		t.Fatalf("ForgetSeen = %d expired, %d evicted, %v; want 2 and 3", expired, evicted, err)
	}
	for i := range 10 {
		if got, want := seen(t, s, fmt.Sprintf("k%d", i), now), i >= 5; got != want {
			t.Errorf("k%d seen: %v, want %v", i, got, want)
		}
	}
	if st, _ := s.Stats(); st.Seen != 5 {
		t.Fatalf("%d keys left, want 5", st.Seen)
	}
	// Nothing more to forget: no limit, nothing expired.
	if expired, evicted, err := s.ForgetSeen(context.Background(), now, 0); err != nil || expired+evicted != 0 {
		t.Fatalf("second ForgetSeen = %d, %d, %v; want nothing", expired, evicted, err)
	}
}

// A snapshot carries the memory of requests taken, and restoring it adds
// to what the store held rather than replacing it.
func TestSnapshotCarriesSeen(t *testing.T) {
	now := time.Now()
	src := open(t, t.TempDir(), "seoul")
	defer src.Close()
	remember(t, src, "theirs", now.Add(time.Hour))
	remember(t, src, "both", now.Add(time.Hour))
	dst := open(t, t.TempDir(), "busan")
	defer dst.Close()
	remember(t, dst, "mine", now.Add(time.Hour))
	remember(t, dst, "both", now.Add(2*time.Hour))

	path := filepath.Join(t.TempDir(), "snap.db")
	if _, err := src.WriteSnapshot(path); err != nil {
		t.Fatal(err)
	}
	if err := dst.Restore(context.Background(), path); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"theirs", "mine", "both"} {
		if !seen(t, dst, k, now.Add(time.Minute)) {
			t.Errorf("%s is not seen after the restore", k)
		}
	}
	if !seen(t, dst, "both", now.Add(90*time.Minute)) {
		t.Error("the restore shortened a key's until")
	}
}
