package store

import (
	"context"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"github.com/oob-relay/relay/relay"
)

// TestRollCallAnswersLatestWinsInAnyOrder writes a person's answers on
// two stores and merges them both ways: both keep the latest answer, and
// a snapshot carries the roll-call and its answers to an empty store.
func TestRollCallAnswersLatestWinsInAnyOrder(t *testing.T) {
	a, b := open(t, t.TempDir(), "a"), open(t, t.TempDir(), "b")
	defer a.Close()
	defer b.Close()
	ctx := context.Background()
	at := time.Date(2026, 12, 2, 9, 0, 0, 0, time.UTC)
	rc := &relay.RollCall{ID: "rc1", Incident: "fire", Question: "안전하면 1", Message: "m1",
		Options: []relay.RollCallOption{{Digit: 1, Label: "안전"}, {Digit: 2, Label: "도움 필요"}}, StartedAt: at, Until: at.Add(time.Hour)}
	started, err := a.Append(ctx, relay.Event{Message: testMessage("m1", "fire", "kim", "lee")}, relay.Event{RollCall: rc})
	if err != nil {
		t.Fatal(err)
	}
	answer := func(person string, digit int) relay.Event {
		return relay.Event{RollCallAnswer: &relay.RollCallAnswer{RollCall: "rc1", Incident: "fire", Person: person, Digit: digit, Channel: "sms", At: at}}
	}
	first, err := a.Append(ctx, answer("kim", 2), answer("lee", 1))
	if err != nil {
		t.Fatal(err)
	}
	b.Clock().Observe(first[1].Clock)
	later, err := b.Append(ctx, answer("kim", 1))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b.Merge(ctx, append(started, first...)); err != nil {
		t.Fatal(err)
	}
	if _, err := a.Merge(ctx, later); err != nil {
		t.Fatal(err)
	}
	want := map[string]int{"kim": 1, "lee": 1}
	for _, s := range []*Store{a, b} {
		got := map[string]int{}
		answers, err := s.RollCallAnswers("rc1")
		if err != nil {
			t.Fatal(err)
		}
		for p, ans := range answers {
			got[p] = ans.Digit
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%s holds answers %v, want %v", s.Node(), got, want)
		}
		if rcs, err := s.RollCalls("fire"); err != nil || len(rcs) != 1 || rcs[0].ID != "rc1" {
			t.Errorf("%s holds roll-calls %+v (%v)", s.Node(), rcs, err)
		}
	}
	path := filepath.Join(t.TempDir(), "snap.db")
	if _, err := a.WriteSnapshot(path); err != nil {
		t.Fatal(err)
	}
	c := open(t, t.TempDir(), "c")
	defer c.Close()
	if err := c.Restore(ctx, path); err != nil {
		t.Fatal(err)
	}
	if got, err := c.RollCall("rc1"); err != nil || got.Question != rc.Question {
		t.Errorf("restored roll-call %+v (%v)", got, err)
	}
	if ans, err := c.RollCallAnswer("rc1", "kim"); err != nil || ans.Digit != 1 {
		t.Errorf("restored answer of kim %+v (%v), want 1", ans, err)
	}
}
