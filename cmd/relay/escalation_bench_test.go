package main

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/oob-relay/relay/internal/testkit"
	"github.com/oob-relay/relay/relay"
)

// BenchmarkEscalationStepTiming measures how late escalation steps fire
// in a cluster of three relay serve processes, built as they ship, when
// the node that owns the escalation's timer is killed with SIGKILL in
// between. One escalation of 100 steps nobody acknowledges: 20 steps of
// one person each, run 5 times (repeat: 4), the last telling the
// commander; each wait is 1m run 60 times faster (1 s). The owner is
// killed half a second before step 34 is due, and started again once step
// 67 has fired, when it owns the timer again. It reports late_p50_ms,
// late_p99_ms and late_max_ms (when each step fired, from the message
// view, less when it was due), missed (steps that never fired) and
// double_fires (steps fired by more than one node, from
// relay_escalation_steps_total of every process, the killed one's read
// just before the kill).
func BenchmarkEscalationStepTiming(b *testing.B) {
	testkit.NoLeaks(b)
	var lates []time.Duration
	var missed, doubles int
	for range b.N {
		l, m, d := escalationTiming(b)
		lates, missed, doubles = append(lates, l...), missed+m, doubles+d
	}
	reportPercentiles(b, "late_", lates)
	b.ReportMetric(float64(missed), "missed")
	b.ReportMetric(float64(doubles), "double_fires")
}

func escalationTiming(b *testing.B) (lates []time.Duration, missed, doubles int) {
	b.StopTimer()
	const steps, repeat, killAt, restartAfter = 20, 4, 34, 67
	var r strings.Builder
	r.WriteString("people:\n")
	for i := range steps + 1 {
		fmt.Fprintf(&r, "  - {id: %s, phone: %q, channels: [sms]", personID(i), phone(i))
		if i == steps {
			r.WriteString(", roles: [commander]")
		}
		r.WriteString("}\n")
	}
	fmt.Fprintf(&r, "escalations:\n  - id: drill\n    repeat: %d\n    steps:\n", repeat)
	for i := range steps {
		fmt.Fprintf(&r, "      - {to: [person:%s], wait: 1m}\n", personID(i))
	}
	cl := startCluster(b, clusterSpec{nodes: 3, roster: r.String(), shipped: true, escalationSpeedup: 60})
	ctx := b.Context()
	b.StartTimer()
	acc, err := cl.nodes[0].c.Post(ctx, &relay.Post{Incident: "drill", Text: "escalation drill", To: []string{"escalation:drill"},
		Severity: relay.SeverityCritical}, "")
	if err != nil {
		b.Fatal(err)
	}
	total := steps * (repeat + 1)
	owner := escalationOwner(cl, acc.ID)
	view := func(n *clusterNode) *relay.EscalationProgress {
		v, err := n.c.Message(ctx, acc.ID)
		if err != nil {
			return nil
		}
		return v.Escalation
	}
	fired := func(x *relay.EscalationProgress) int {
		n := 0
		for _, s := range x.Steps {
			if !s.FiredAt.IsZero() {
				n++
			}
		}
		return n
	}
	other := cl.nodes[(owner+1)%3]
	// Half a second before step killAt (counted from 1; the message
	// itself is step 1) is due, the owner dies.
	killDue := acc.AcceptedAt.Add(time.Duration(killAt-1) * time.Second)
	time.Sleep(time.Until(killDue.Add(-500 * time.Millisecond))) // the moment of the failure
	before := cl.metrics(owner)
	cl.kill(owner)
	testkit.Eventually(b, 2*time.Minute, "step 67 fired", func() bool {
		x := view(other)
		return x != nil && fired(x) >= restartAfter
	})
	cl.start(owner)
	var x *relay.EscalationProgress
	testkit.Eventually(b, 3*time.Minute, "the escalation run out", func() bool {
		x = view(other)
		return x != nil && x.Status == relay.EscalationExhausted
	})
	b.StopTimer()
	for _, s := range x.Steps[1:] {
		if s.FiredAt.IsZero() {
			missed++
			continue
		}
		lates = append(lates, s.FiredAt.Sub(s.Due))
	}
	end := acc.AcceptedAt.Add(time.Duration(total) * time.Second)
	lates = append(lates, x.ExhaustedAt.Sub(end))
	// Every process's count of steps it fired; the killed one's first
	// life counted in before.
	count := before[`relay_escalation_steps_total{kind="step"}`] + before[`relay_escalation_steps_total{kind="exhausted"}`]
	for i := range cl.nodes {
		m := cl.metrics(i)
		count += m[`relay_escalation_steps_total{kind="step"}`] + m[`relay_escalation_steps_total{kind="exhausted"}`]
	}
	doubles = max(int(count)-total, 0)
	b.Logf("owner %s killed before step %d and back after step %d; %d steps fired in all, %d missed",
		cl.nodes[owner].name, killAt, restartAfter, int(count), missed)
	return lates, missed, doubles
}
