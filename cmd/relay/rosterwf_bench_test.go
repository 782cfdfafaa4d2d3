package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/oob-relay/relay/internal/testkit"
	"github.com/oob-relay/relay/relay"
)

// largeRoster is the YAML of a roster of n people, each with a Korean
// name, a phone, an email and two channels, one in ten a commander, in
// n/200 groups of 200 and a group of everyone; mark is in the first
// person's name, to tell one version from the next.
func largeRoster(n int, mark string) []byte {
	var b bytes.Buffer
	b.WriteString("people:\n")
	surnames := []string{"김", "이", "박", "최", "정", "강", "조", "윤", "장", "임"}
	for i := range n {
		name := fmt.Sprintf("%s민지 %d", surnames[i%len(surnames)], i)
		if i == 0 {
			name += " " + mark
		}
		fmt.Fprintf(&b, "  - id: p%05d\n    name: %s\n    phone: \"+8210%08d\"\n    email: p%05d@example.com\n    channels: [sms, email]\n    lang: ko\n", i, name, i, i)
		if i%10 == 0 {
			b.WriteString("    roles: [commander]\n")
		}
	}
	b.WriteString("groups:\n")
	for g := range n / 200 {
		fmt.Fprintf(&b, "  - id: team-%03d\n    name: 팀 %d\n    members: [", g, g)
		for i := g * 200; i < (g+1)*200; i++ {
			if i > g*200 {
				b.WriteString(", ")
			}
			fmt.Fprintf(&b, "p%05d", i)
		}
		b.WriteString("]\n")
	}
	b.WriteString("  - id: everyone-kr\n    members: [")
	for i := range n {
		if i > 0 {
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, "p%05d", i)
	}
	b.WriteString("]\n")
	return b.Bytes()
}

// BenchmarkRosterApply10k measures relay roster apply of a roster of
// 10,000 people to node A of three relay serve processes: the command's
// time until A answers (read, checked, sent, recorded, copied to a peer),
// and until B and C both serve the new roster. It reports apply_ms,
// replicated_ms, yaml_bytes (the file), event_bytes (the roster change
// event as the log and the replication carry it, in JSON) and
// roster_json_bytes (the roster as the node stores it).
func BenchmarkRosterApply10k(b *testing.B) {
	testkit.NoLeaks(b)
	const people = 10_000
	cl := startCluster(b, clusterSpec{nodes: 3, people: 10, admin: true})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	getenv := func(k string) string {
		return map[string]string{"RELAY_ADDR": cl.nodes[0].api, "RELAY_TOKEN": testToken}[k]
	}
	file := filepath.Join(b.TempDir(), "roster.yaml")
	var apply, replicated time.Duration
	var yamlBytes, eventBytes, storedBytes int
	b.ResetTimer()
	for i := range b.N {
		b.StopTimer()
		mark := fmt.Sprintf("v%d", i)
		doc := largeRoster(people, mark)
		if err := os.WriteFile(file, doc, 0o600); err != nil {
			b.Fatal(err)
		}
		ros, err := relay.DecodeRoster(bytes.NewReader(doc))
		if err != nil {
			b.Fatal(err)
		}
		ev, err := json.Marshal(relay.Event{Roster: &relay.RosterChange{Roster: *ros, By: "ops-bot"}})
		if err != nil {
			b.Fatal(err)
		}
		stored, err := json.Marshal(ros)
		if err != nil {
			b.Fatal(err)
		}
		yamlBytes, eventBytes, storedBytes = len(doc), len(ev), len(stored)
		b.StartTimer()

		t0 := time.Now()
		var stdout, stderr bytes.Buffer
		if code := run([]string{"roster", "apply", file}, nil, &stdout, &stderr, getenv); code != 0 {
			b.Fatalf("roster apply: exit %d: %s%s", code, stdout.String(), stderr.String())
		}
		apply += time.Since(t0)
		if !strings.Contains(stdout.String(), "10000 people") {
			b.Fatalf("roster apply: %s", stdout.String())
		}
		testkit.WaitFor(b, ctx, "the new roster on B and C", func() bool {
			for _, n := range cl.nodes[1:] {
				r, err := n.c.Roster(ctx)
				if err != nil || len(r.People) != people || !strings.HasSuffix(r.People[0].Name, " "+mark) {
					return false
				}
			}
			return true
		})
		replicated += time.Since(t0)
	}
	b.StopTimer()
	b.ReportMetric(float64(apply.Milliseconds())/float64(b.N), "apply_ms")
	b.ReportMetric(float64(replicated.Milliseconds())/float64(b.N), "replicated_ms")
	b.ReportMetric(float64(yamlBytes), "yaml_bytes")
	b.ReportMetric(float64(eventBytes), "event_bytes")
	b.ReportMetric(float64(storedBytes), "roster_json_bytes")
}

// TestRosterApply10kAtProductionDefaults: a roster of 10,000 people
// (about 1.5 MB) is applied by relay roster apply to a node with the
// default limits; rosters have their own limit (http.max_roster_bytes),
// apart from the 1 MiB of every other request.
func TestRosterApply10kAtProductionDefaults(t *testing.T) {
	doc := largeRoster(10_000, "v0")
	if len(doc) <= 1<<20 {
		t.Fatalf("the roster is %d bytes, within the limit of other requests", len(doc))
	}
	cl := startCluster(t, clusterSpec{nodes: 1, people: 10, admin: true})
	file := filepath.Join(t.TempDir(), "roster.yaml")
	if err := os.WriteFile(file, doc, 0o600); err != nil {
		t.Fatal(err)
	}
	getenv := func(k string) string {
		return map[string]string{"RELAY_ADDR": cl.nodes[0].api, "RELAY_TOKEN": testToken}[k]
	}
	var stdout, stderr bytes.Buffer
	if code := run([]string{"roster", "apply", file}, nil, &stdout, &stderr, getenv); code != 0 || !strings.Contains(stdout.String(), "10000 people") {
		t.Fatalf("exit %d: %s%s", code, stdout.String(), stderr.String())
	}
}
