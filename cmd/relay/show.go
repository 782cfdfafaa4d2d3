package main

import (
	"fmt"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/oob-relay/relay/relay"
	"github.com/oob-relay/relay/relay/api"
)

func messageCmd(e *env) *cobra.Command {
	cmd := &cobra.Command{Use: "message", Short: "Read messages"}
	var asJSON bool
	show := &cobra.Command{
		Use:   "show ID",
		Short: "Show a message and each of its deliveries",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := newClient(e)
			if err != nil {
				return err
			}
			v, err := c.Message(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			if asJSON {
				return printJSON(e, v)
			}
			fmt.Fprintf(e.stdout, "message %s in incident %s (%s) by %s, accepted %s on %s\n",
				cell(v.ID), cell(v.Incident), cell(string(v.Severity)), cell(v.Author), v.AcceptedAt.Local().Format(time.DateTime), cell(v.AcceptedBy))
			fmt.Fprintf(e.stdout, "to %s, deadline %s\n", strings.Join(cells(v.To), " "), v.Deadline.Local().Format(time.DateTime))
			fmt.Fprintf(e.stdout, "\n%s\n\n", v.Text) // e.stdout escapes all but newlines and tabs
			w := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(w, "PERSON\tCHANNEL\tSTATUS\tATTEMPTS\tPROVIDER\tUPDATED\tERROR")
			for _, d := range v.Deliveries {
				who := d.Person
				if who == "" {
					who = "-"
				}
				fmt.Fprintf(w, "%s\t%s\t%s\t%d\t%s\t%s\t%s\n", cell(who), cell(d.Channel), cell(string(d.Status)), d.Attempts,
					cell(dash(d.Provider)), d.UpdatedAt.Local().Format(time.TimeOnly), cell(d.Error))
			}
			for _, p := range v.Unreachable {
				fmt.Fprintf(w, "%s\t-\tunreachable\t0\t-\t-\tno channel to try\n", cell(p))
			}
			if err := w.Flush(); err != nil {
				return err
			}
			if err := printPaths(e, v); err != nil {
				return err
			}
			for _, a := range v.Acks {
				fmt.Fprintf(e.stdout, "acknowledged by %s on %s at %s\n", cell(a.Person), cell(a.Channel), a.At.Local().Format(time.TimeOnly))
			}
			return printEscalation(e, v.Escalation)
		},
	}
	show.Flags().BoolVar(&asJSON, "json", false, "print the API's JSON")
	cmd.AddCommand(show)
	return cmd
}

func incidentCmd(e *env) *cobra.Command {
	cmd := &cobra.Command{Use: "incident", Short: "Read incidents, and acknowledge one for a person"}
	var asJSON bool
	list := &cobra.Command{
		Use:   "list",
		Short: "List incidents, most recently active first",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := newClient(e)
			if err != nil {
				return err
			}
			incs, err := c.Incidents(cmd.Context())
			if err != nil {
				return err
			}
			if asJSON {
				return printJSON(e, incs)
			}
			w := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(w, "INCIDENT\tSEVERITY\tMESSAGES\tOPENED\tLAST MESSAGE\tOPENED BY")
			for _, i := range incs {
				fmt.Fprintf(w, "%s\t%s\t%d\t%s\t%s\t%s\n", cell(i.ID), cell(string(i.Severity)), i.Messages,
					i.OpenedAt.Local().Format(time.DateTime), i.LastMessageAt.Local().Format(time.DateTime), cell(i.OpenedBy))
			}
			return w.Flush()
		},
	}
	list.Flags().BoolVar(&asJSON, "json", false, "print the API's JSON")
	var showJSON bool
	show := &cobra.Command{
		Use:   "show ID",
		Short: "Show an incident and its timeline",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := newClient(e)
			if err != nil {
				return err
			}
			v, err := c.Incident(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			if showJSON {
				return printJSON(e, v)
			}
			fmt.Fprintf(e.stdout, "incident %s (%s), opened %s by %s, %s\n\n", cell(v.ID), cell(string(v.Severity)),
				v.OpenedAt.Local().Format(time.DateTime), cell(v.OpenedBy), plural(v.Messages, "message", "messages"))
			for _, t := range v.Timeline {
				var parts []string
				for _, st := range relay.Statuses {
					if n := t.Summary[st]; n > 0 {
						parts = append(parts, fmt.Sprintf("%s %d", st, n))
					}
				}
				if t.Acks > 0 {
					parts = append(parts, fmt.Sprintf("acknowledged by %d", t.Acks))
				}
				if t.Withheld != "" {
					parts = append(parts, "sent to nobody: "+string(t.Withheld))
				}
				if len(t.Summarises) > 0 {
					parts = append(parts, fmt.Sprintf("summary of %d held", len(t.Summarises)))
				}
				if x := t.Escalation; x != nil {
					parts = append(parts, fmt.Sprintf("escalation %s %s, %d steps fired", cell(x.Policy), cell(x.Status), firedSteps(x)))
				}
				fmt.Fprintf(e.stdout, "%s  %s (%s)  %s\n  %s\n  [%s]\n\n", t.At.Local().Format(time.DateTime),
					cell(t.Author), cell(string(t.Severity)), cell(t.Message), strings.ReplaceAll(t.Text, "\n", "\n  "), strings.Join(parts, ", "))
			}
			fmt.Fprintf(e.stdout, "acknowledged: %d of %d\n", len(v.Acknowledged), len(v.Acknowledged)+len(v.NotAcknowledged))
			for _, a := range v.Acknowledged {
				fmt.Fprintf(e.stdout, "  %s  %s by %s\n", a.At.Local().Format(time.DateTime), cell(a.Person), cell(a.Channel))
			}
			if len(v.NotAcknowledged) > 0 {
				fmt.Fprintf(e.stdout, "not acknowledged: %s\n", strings.Join(cells(v.NotAcknowledged), ", "))
			}
			for _, c := range v.Stopped {
				fmt.Fprintf(e.stdout, "STOP: %s sent STOP on %s from %s at %s; carriers refuse it until START\n",
					cell(c.Person), cell(c.Channel), cell(c.Address), c.At.Local().Format(time.DateTime))
			}
			return nil
		},
	}
	show.Flags().BoolVar(&showJSON, "json", false, "print the API's JSON")
	cmd.AddCommand(list, show, incidentAckCmd(e))
	return cmd
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// printPaths shows the way the message took to each person: their
// channels in order, each with where it stands.
func printPaths(e *env, v *api.MessageView) error {
	if len(v.Recipients) == 0 {
		return nil
	}
	fmt.Fprintf(e.stdout, "\npolicy %s", cell(dash(string(v.Mode))))
	if v.UnconfirmedAfterSeconds > 0 {
		fmt.Fprintf(e.stdout, ", unconfirmed after %s", time.Duration(v.UnconfirmedAfterSeconds)*time.Second)
	}
	fmt.Fprintln(e.stdout)
	w := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, "PERSON\tPATH\tREACHED BY")
	for _, r := range v.Recipients {
		steps := make([]string, len(r.Path))
		for i, st := range r.Path {
			steps[i] = cell(st.Channel) + " " + cell(string(st.Status))
			if st.Unconfirmed {
				steps[i] += " (unconfirmed)"
			}
		}
		fmt.Fprintf(w, "%s\t%s\t%s\n", cell(r.Person), strings.Join(steps, " → "), cell(dash(r.ReachedBy)))
	}
	return w.Flush()
}

func incidentAckCmd(e *env) *cobra.Command {
	var person string
	cmd := &cobra.Command{
		Use:   "ack ID --person ID",
		Short: "Acknowledge an incident for a person, as their ACK would (an admin token, or a bot token with the person in its answer_for)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := newClient(e)
			if err != nil {
				return err
			}
			res, err := c.AckIncident(cmd.Context(), args[0], person)
			if err != nil {
				return err
			}
			if len(res.Messages) == 0 {
				fmt.Fprintf(e.stdout, "%s had acknowledged incident %s already\n", cell(res.Person), cell(res.Incident))
				return nil
			}
			fmt.Fprintf(e.stdout, "%s acknowledged incident %s: %s\n", cell(res.Person), cell(res.Incident),
				plural(len(res.Messages), "message", "messages"))
			return nil
		},
	}
	cmd.Flags().StringVar(&person, "person", "", "the person acknowledged for (required)")
	cmd.MarkFlagRequired("person")
	return cmd
}
