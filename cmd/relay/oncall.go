package main

import (
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/oob-relay/relay/relay"
	"github.com/oob-relay/relay/relay/api"
)

func oncallCmd(e *env) *cobra.Command {
	var at, schedule string
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "oncall [SCHEDULE]",
		Short: "Show who is on call now and next, per layer and after overrides",
		Long: "Show who is on call in every schedule, or in SCHEDULE, now or --at a time: per layer and after overrides,\n" +
			"until when (in the schedule's time zone) and who is next. A schedule whose id is also a verb of this\n" +
			"command (override) is shown with --schedule.",
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) == 1 {
				if schedule != "" && schedule != args[0] {
					return fmt.Errorf("two schedules given: %q and --schedule %q", args[0], schedule)
				}
				schedule = args[0]
			}
			c, err := newClient(e)
			if err != nil {
				return err
			}
			var all []*relay.OnCall
			if schedule != "" {
				oc, err := c.OnCall(cmd.Context(), schedule, at)
				if err != nil {
					return err
				}
				all = []*relay.OnCall{oc}
			} else if all, err = c.OnCallAll(cmd.Context(), at); err != nil {
				return err
			}
			if asJSON {
				return printJSON(e, all)
			}
			if len(all) == 0 {
				fmt.Fprintln(e.stdout, "no schedules in the roster")
			}
			for i, oc := range all {
				if i > 0 {
					fmt.Fprintln(e.stdout)
				}
				printOnCall(e, oc)
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&at, "at", "", `the time to show: RFC 3339, or "2026-03-08 09:00" in each schedule's time zone (default now)`)
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	cmd.Flags().StringVar(&schedule, "schedule", "", "the schedule to show, as SCHEDULE")
	cmd.AddCommand(overrideCmd(e))
	return cmd
}

func overrideCmd(e *env) *cobra.Command {
	cmd := &cobra.Command{Use: "override", Short: "Add or remove a schedule's overrides, kept over the roster file"}
	var req api.OverrideRequest
	add := &cobra.Command{
		Use:   "add SCHEDULE --person ID [--covers ID] --from TIME --to TIME",
		Short: "Put a person on call in place of another (--covers) or of the whole schedule, from --from until --to",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := newClient(e)
			if err != nil {
				return err
			}
			o, err := c.AddOverride(cmd.Context(), args[0], req)
			if err != nil {
				return err
			}
			fmt.Fprintf(e.stdout, "override %s added: %s\n", o.ID, overrideText(*o, nil))
			return nil
		},
	}
	add.Flags().StringVar(&req.Person, "person", "", "who goes on call")
	add.Flags().StringVar(&req.Covers, "covers", "", "whom they replace (default: the whole schedule)")
	add.Flags().StringVar(&req.From, "from", "", `when it starts: RFC 3339, or "2026-03-08 09:00" in the schedule's time zone`)
	add.Flags().StringVar(&req.To, "to", "", "when it ends, read like --from")
	for _, f := range []string{"person", "from", "to"} {
		_ = add.MarkFlagRequired(f)
	}
	remove := &cobra.Command{
		Use:   "remove SCHEDULE OVERRIDE-ID",
		Short: "Remove an override added with override add",
		Args:  cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := newClient(e)
			if err != nil {
				return err
			}
			if err := c.RemoveOverride(cmd.Context(), args[0], args[1]); err != nil {
				return err
			}
			fmt.Fprintf(e.stdout, "override %s removed\n", args[1])
			return nil
		},
	}
	cmd.AddCommand(add, remove)
	return cmd
}

// printOnCall prints a schedule's answer with times in its zone.
func printOnCall(e *env, oc *relay.OnCall) {
	loc, err := time.LoadLocation(oc.TimeZone)
	if err != nil {
		loc = time.UTC
	}
	title := oc.Schedule
	if oc.Name != "" {
		title += " (" + oc.Name + ")"
	}
	fmt.Fprintf(e.stdout, "%s at %s\n", title, localTime(oc.At, loc))
	who := func(people []string) string {
		if len(people) == 0 {
			return "nobody"
		}
		return strings.Join(people, ", ")
	}
	final := "  on call: " + who(oc.People)
	if oc.Override != nil {
		final += " (override"
		if oc.Override.ID != "" {
			final += " " + oc.Override.ID
		}
		final += ")"
	}
	fmt.Fprintln(e.stdout, final+untilText(oc.Until, who(oc.Next), loc))
	for i, l := range oc.Layers {
		name := l.Name
		if name == "" {
			name = fmt.Sprintf("layer %d", i+1)
		}
		person := l.Person
		if person == "" {
			person = "nobody"
		}
		next := l.Next
		if next == "" {
			next = "nobody"
		}
		fmt.Fprintf(e.stdout, "  %s: %s%s\n", name, person, untilText(l.Until, next, loc))
	}
	for _, o := range oc.Overrides {
		id := "(roster file)"
		if o.ID != "" {
			id = o.ID
		}
		fmt.Fprintf(e.stdout, "  override %s: %s\n", id, overrideText(o, loc))
	}
}

func untilText(until, next string, loc *time.Location) string {
	if until == "" {
		return ", no change ahead"
	}
	return fmt.Sprintf(" until %s, then %s", localTime(until, loc), next)
}

// overrideText says what an override does; loc nil keeps its times'
// own offsets.
func overrideText(o relay.Override, loc *time.Location) string {
	whom := "the whole schedule"
	if o.Covers != "" {
		whom = o.Covers
	}
	s := fmt.Sprintf("%s covers %s from %s to %s", o.Person, whom, localTime(o.From, loc), localTime(o.To, loc))
	if o.By != "" {
		s += " (by " + o.By + ")"
	}
	return s
}

// localTime writes an RFC 3339 time in loc as "2026-03-08 09:00 KST";
// other text as it is.
func localTime(s string, loc *time.Location) string {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return s
	}
	if loc != nil {
		t = t.In(loc)
	}
	return t.Format("2006-01-02 15:04 MST")
}
