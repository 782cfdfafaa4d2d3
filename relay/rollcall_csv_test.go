package relay

import (
	"bytes"
	"encoding/csv"
	"flag"
	"os"
	"path/filepath"
	"testing"
	"time"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

// TestRollCallCSV renders a tally's CSV export: Korean and English
// names, every state, an answer given by a bot, and a roster name that a
// spreadsheet would run as a formula.
func TestRollCallCSV(t *testing.T) {
	t0 := time.Date(2026, 12, 2, 9, 0, 0, 0, time.UTC)
	rc, err := NewRollCall(validStart(), "01JEXAMPLE", "incident-commander", "m1", t0)
	if err != nil {
		t.Fatal(err)
	}
	people := []Person{
		{ID: "kim", Name: "김민준"}, {ID: "lee", Name: "Lee Seo-yeon"}, {ID: "park", Name: "박지훈"},
		{ID: "choi", Name: "=HYPERLINK(\"http://evil\",\"x\")"}, {ID: "jung", Name: "정, \"수빈\""}, {ID: "han"},
	}
	answers := map[string]RollCallAnswer{
		"kim":  {Person: "kim", Digit: 1, Channel: ChannelSMS, At: t0.Add(2 * time.Minute)},
		"lee":  {Person: "lee", Digit: 2, Channel: ChannelEmail, At: t0.Add(3 * time.Minute)},
		"choi": {Person: "choi", Digit: 1, Channel: ChannelAPI, By: "hr-bot", At: t0.Add(4 * time.Minute)},
	}
	reach := map[string]Reach{"park": {Lost: true}, "jung": {Reached: true}, "han": {}}
	tally := NewTally(rc, people, answers, reach)
	if tally.Answered != 3 || tally.Unanswered != 2 || tally.Unreachable != 1 || tally.Options[0].Count != 2 || tally.Options[1].Count != 1 {
		t.Fatalf("tally %+v", tally)
	}
	var buf bytes.Buffer
	w := csv.NewWriter(&buf)
	if err := w.Write(RollCallCSVHeader); err != nil {
		t.Fatal(err)
	}
	if err := w.WriteAll(tally.CSVRows()); err != nil {
		t.Fatal(err)
	}
	golden := filepath.Join("testdata", "rollcall.csv")
	if *update {
		if err := os.WriteFile(golden, buf.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(buf.Bytes(), want) {
		t.Errorf("CSV export:\n%s\nwant (%s):\n%s", buf.Bytes(), golden, want)
	}
}
