package main

import (
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/oob-relay/relay/relay/api"
)

func watchCmd(e *env) *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "watch",
		Short: "Show the watched targets, heartbeats and nodes: the verdict and each site's view",
		Long: "Show each watched target with the cluster's verdict and each node's own view (up or down, since when, why),\n" +
			"each heartbeat with its last beat, and each node of the cluster as the others see it.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := newClient(e)
			if err != nil {
				return err
			}
			v, err := c.Watch(cmd.Context())
			if err != nil {
				return err
			}
			if asJSON {
				return printJSON(e, v)
			}
			printWatch(e.stdout, v)
			return nil
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the API's JSON")
	cmd.AddCommand(beatCmd(e))
	return cmd
}

func beatCmd(e *env) *cobra.Command {
	return &cobra.Command{
		Use:   "beat HEARTBEAT",
		Short: "Beat a heartbeat, as a cron job would (POST /v1/heartbeats/HEARTBEAT)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := newClient(e)
			if err != nil {
				return err
			}
			b, err := c.Beat(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			fmt.Fprintf(e.stdout, "%s beat at %s\n", cell(b.Heartbeat), b.At.Local().Format(time.DateTime))
			return nil
		},
	}
}

func verdictText(down bool, since *time.Time) string {
	s := "up"
	if down {
		s = "DOWN"
	}
	if since != nil {
		s += " since " + since.Local().Format(time.DateTime)
	}
	return s
}

func printSubjects(w io.Writer, title string, subjects []api.SubjectView) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "%s\tVERDICT\tSITE\tNODE\tSEES\tSINCE\tREASON\n", title)
	for _, s := range subjects {
		name := cell(s.Name)
		if s.Detail != "" {
			name += " (" + cell(s.Detail) + ")"
		}
		verdict := verdictText(s.Down, s.Since)
		if s.Incident != "" {
			verdict += ", " + cell(s.Incident)
		}
		if len(s.Views) == 0 {
			fmt.Fprintf(tw, "%s\t%s\t-\t-\t-\t-\t-\n", name, verdict)
		}
		for i, x := range s.Views {
			sees := "up"
			if !x.Up {
				sees = "down"
			}
			if !x.Live {
				sees += " (not live)"
			}
			if i > 0 {
				name, verdict = "", ""
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", name, verdict, cell(x.Site), cell(x.Node), sees,
				x.Since.Local().Format(time.DateTime), cell(dash(x.Reason)))
		}
	}
	tw.Flush()
}

func printWatch(w io.Writer, v *api.WatchView) {
	if v.Isolated {
		fmt.Fprintf(w, "this node sees %d of %d nodes alive: it is cut off from the majority and pages nobody\n\n", v.Alive, v.Nodes)
	}
	if len(v.Targets) > 0 {
		printSubjects(w, "TARGET", v.Targets)
		fmt.Fprintln(w)
	}
	if len(v.Heartbeats) > 0 {
		tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "HEARTBEAT\tVERDICT\tEVERY\tGRACE\tLAST BEAT\tINCIDENT")
		for _, h := range v.Heartbeats {
			last := "never"
			if h.LastBeat != nil {
				last = h.LastBeat.Local().Format(time.DateTime)
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", cell(h.Name), verdictText(h.Down, h.Since),
				time.Duration(h.EverySeconds*float64(time.Second)), time.Duration(h.GraceSeconds*float64(time.Second)), last, cell(dash(h.Incident)))
		}
		tw.Flush()
		fmt.Fprintln(w)
	}
	printSubjects(w, "NODE", v.Members)
}
