package main

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/oob-relay/relay/relay"
)

func drillCmd(e *env) *cobra.Command {
	cmd := &cobra.Command{Use: "drill", Short: "Start drills that prove who can be reached, and read their reports"}
	cmd.AddCommand(drillStartCmd(e), drillListCmd(e), drillReportCmd(e))
	return cmd
}

func drillStartCmd(e *env) *cobra.Command {
	var s relay.DrillStart
	var channels, key string
	cmd := &cobra.Command{
		Use:   "start --to TARGET [--channels sms,email,voice] TEXT",
		Short: "Send a marked drill message that asks everyone to acknowledge it",
		Long: "Send TEXT as a drill ([훈련] / [DRILL] in every channel) on every channel asked for at once, in an\n" +
			"incident of its own (drill-YYYYMMDD-HHMM). People acknowledge by any SMS or mail answer, or 1 in a call.\n" +
			"Needs an admin token.",
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			s.Text = args[0]
			if channels != "" {
				for ch := range strings.SplitSeq(channels, ",") {
					s.Channels = append(s.Channels, strings.TrimSpace(ch))
				}
			}
			if err := s.Validate(); err != nil {
				return err
			}
			c, err := newClient(e)
			if err != nil {
				return err
			}
			if key == "" {
				key = "cli-" + strconv.FormatInt(time.Now().UnixNano(), 36)
			}
			st, err := c.StartDrill(cmd.Context(), &s, key)
			if err != nil {
				return err
			}
			fmt.Fprintf(e.stdout, "drill %s started in incident %s: %d people, %d with no channel\n", cell(st.Drill.ID),
				cell(st.Drill.Incident), st.Recipients, st.Unreachable)
			if st.OnlyCopy {
				fmt.Fprintln(e.stdout, "warning: no other node held it yet")
			}
			fmt.Fprintf(e.stdout, "report: relay drill report %s\n", cell(st.Drill.ID))
			return nil
		},
	}
	f := cmd.Flags()
	f.StringArrayVar(&s.To, "to", nil, "audience: person:<id>, group:<id>, role:<role>, schedule:<id> or everyone; repeat for more (required)")
	f.StringVar(&channels, "channels", "", "channels to use, comma-separated, of sms, email and voice (default all three)")
	f.StringVar(&s.Lang, "lang", "", "the report's language, ko (default) or en")
	f.StringVar(&key, "idempotency-key", "", "idempotency key (default: a new one per invocation)")
	cmd.MarkFlagRequired("to")
	return cmd
}

func drillListCmd(e *env) *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List the drills, earliest first",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := newClient(e)
			if err != nil {
				return err
			}
			ds, err := c.Drills(cmd.Context())
			if err != nil {
				return err
			}
			if asJSON {
				return printJSON(e, ds)
			}
			for _, d := range ds {
				fmt.Fprintf(e.stdout, "%s\t%s\t%s\t%s\t%s\n", cell(d.ID), d.StartedAt.Local().Format(time.DateTime), cell(d.Incident),
					cell(dash(d.Schedule)), cell(d.StartedBy))
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the API's JSON")
	return cmd
}

func drillReportCmd(e *env) *cobra.Command {
	var htmlFile, csvFile, lang string
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "report ID [--html FILE] [--csv FILE]",
		Short: "Print a drill's report; --html writes a page with charts, --csv the raw rows",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := newClient(e)
			if err != nil {
				return err
			}
			id := args[0]
			for _, out := range []struct{ file, format string }{{htmlFile, "html"}, {csvFile, "csv"}} {
				if out.file == "" {
					continue
				}
				b, err := c.DrillReportAs(cmd.Context(), id, out.format, lang)
				if err != nil {
					return err
				}
				if err := os.WriteFile(out.file, b, 0o644); err != nil {
					return err
				}
				fmt.Fprintf(e.stderr, "wrote %s (%d bytes)\n", out.file, len(b))
			}
			if asJSON {
				r, err := c.DrillReport(cmd.Context(), id)
				if err != nil {
					return err
				}
				return printJSON(e, r)
			}
			if htmlFile != "" || csvFile != "" {
				return nil
			}
			b, err := c.DrillReportAs(cmd.Context(), id, "text", lang)
			if err != nil {
				return err
			}
			_, err = e.stdout.Write(b)
			return err
		},
	}
	f := cmd.Flags()
	f.StringVar(&htmlFile, "html", "", "write a self-contained HTML page with SVG charts to FILE")
	f.StringVar(&csvFile, "csv", "", "write the raw rows, one per person and channel, to FILE")
	f.StringVar(&lang, "lang", "", "ko or en (default: the drill's)")
	f.BoolVar(&asJSON, "json", false, "print the API's JSON")
	return cmd
}
