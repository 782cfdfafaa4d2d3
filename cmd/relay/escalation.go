package main

import (
	"fmt"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/oob-relay/relay/relay"
)

// printEscalation shows where a message's escalation stands: each step,
// when it fired or is due, whom it notified and who of them acknowledged.
func printEscalation(e *env, x *relay.EscalationProgress) error {
	if x == nil {
		return nil
	}
	name := cell(x.Policy)
	if x.Name != "" {
		name = cell(x.Name) + " (" + cell(x.Policy) + ")"
	}
	fmt.Fprintf(e.stdout, "\nescalation %s: %s", name, cell(x.Status))
	if x.Repeat > 0 {
		fmt.Fprintf(e.stdout, ", repeated %s", plural(x.Repeat, "time", "times"))
	}
	fmt.Fprintln(e.stdout)
	w := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, "ROUND\tSTEP\tTO\tWAIT\tFIRED\tNOTIFIED\tACKNOWLEDGED")
	for _, s := range x.Steps {
		fired := "due " + s.Due.Local().Format(time.DateTime)
		if !s.FiredAt.IsZero() {
			fired = s.FiredAt.Local().Format(time.DateTime)
		}
		fmt.Fprintf(w, "%d\t%d\t%s\t%s\t%s\t%s\t%s\n", s.Round, s.Step, strings.Join(cells(s.To), " "), cell(s.Wait), fired,
			cell(dash(strings.Join(s.Notified, ", "))), cell(dash(strings.Join(s.Acknowledged, ", "))))
	}
	if err := w.Flush(); err != nil {
		return err
	}
	switch x.Status {
	case relay.EscalationExhausted:
		fmt.Fprintf(e.stdout, "nobody acknowledged: commanders told at %s (message %s)\n", x.ExhaustedAt.Local().Format(time.DateTime), cell(x.Notice))
	case relay.EscalationRunning:
		fmt.Fprintf(e.stdout, "commanders are told at %s if nobody acknowledges\n", x.ExhaustedAt.Local().Format(time.DateTime))
	}
	return nil
}

// firedSteps counts the steps of an escalation that fired.
func firedSteps(x *relay.EscalationProgress) int {
	n := 0
	for _, s := range x.Steps {
		if !s.FiredAt.IsZero() {
			n++
		}
	}
	return n
}
