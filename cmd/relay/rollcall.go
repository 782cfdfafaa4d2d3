package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/oob-relay/relay/relay"
	"github.com/oob-relay/relay/relay/client"
)

func rollcallCmd(e *env) *cobra.Command {
	cmd := &cobra.Command{Use: "rollcall", Short: "Start roll-calls and follow their tally"}
	cmd.AddCommand(rollcallStartCmd(e), rollcallShowCmd(e), rollcallAnswerCmd(e))
	return cmd
}

func rollcallStartCmd(e *env) *cobra.Command {
	var s relay.RollCallStart
	var options []string
	var urgent []int
	var key string
	var severity string
	cmd := &cobra.Command{
		Use:   `start --incident ID --to TARGET --option "1=안전" --option "2=도움 필요" [--urgent 2] QUESTION`,
		Short: "Ask an incident's audience a question with numbered options",
		Long: "Ask a question with numbered options (digits 1 to 9). People answer with the digit by SMS (alone or\n" +
			"after the reply code), by the first line of a mail reply, or by pressing it in a call; the silent are\n" +
			"asked again every --reping on their next channel until --until. Each answer to an urgent option is\n" +
			"told to the roster's commanders at once: the --urgent digits, or options written with a closing !\n" +
			"(\"2=도움 필요!\"); with neither, the options whose label asks for help (도움, 부상, 위험, 구조, help,\n" +
			"injured, danger, not safe, ...) are urgent, and --urgent 0 makes none urgent.",
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			s.Question, s.Severity = args[0], relay.Severity(severity)
			for _, o := range options {
				opt, err := relay.SplitOption(o)
				if err != nil {
					return err
				}
				s.Options = append(s.Options, opt)
			}
			var inferred []int
			switch {
			case slices.Equal(urgent, []int{0}):
				for i := range s.Options {
					s.Options[i].Urgent = false
				}
			case len(urgent) > 0:
				for _, d := range urgent {
					found := false
					for i := range s.Options {
						if s.Options[i].Digit == d {
							s.Options[i].Urgent, found = true, true
						}
					}
					if !found {
						return fmt.Errorf("--urgent %d names no --option", d)
					}
				}
			default:
				inferred = relay.MarkHelpUrgent(s.Options)
			}
			c, err := newClient(e)
			if err != nil {
				return err
			}
			if key == "" {
				key = "cli-" + strconv.FormatInt(time.Now().UnixNano(), 36)
			}
			st, err := c.StartRollCall(cmd.Context(), &s, key)
			if err != nil {
				return err
			}
			rc := st.RollCall
			fmt.Fprintf(e.stdout, "roll-call %s started in incident %s; it takes answers until %s\n", cell(rc.ID), cell(rc.Incident),
				rc.Until.Local().Format(time.DateTime))
			if st.OnlyCopy {
				fmt.Fprintln(e.stdout, "warning: no other node held it yet")
			}
			for _, o := range rc.Options {
				if o.Urgent {
					fmt.Fprintf(e.stdout, "urgent: %d %s: the commanders are told of each such answer at once\n", o.Digit, cell(o.Label))
				}
			}
			if len(inferred) > 0 {
				fmt.Fprintln(e.stdout, "(an option that asks for help is urgent unless --urgent says otherwise; --urgent 0 for none)")
			}
			fmt.Fprintf(e.stdout, "follow it: relay rollcall show %s --watch\n", cell(rc.ID))
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&s.Incident, "incident", "", "the incident (required)")
	f.StringArrayVar(&s.To, "to", nil, "audience: person:<id>, group:<id>, role:<role> or everyone; repeat for more (required)")
	f.StringArrayVar(&options, "option", nil, `an option, <digit>=<label> such as "1=안전"; repeat for each (2 to 9)`)
	f.IntSliceVar(&urgent, "urgent", nil, "the digit of an option the commanders are told of at once; repeat for more, 0 for none (default: the options that ask for help)")
	f.StringVar(&s.Reping, "reping", "", "ask the silent again this often, such as 10m (default: never)")
	f.StringVar(&s.Until, "until", "", "take answers this long, such as 2h (default 2h)")
	f.StringVar(&severity, "severity", "", "critical (default), warning or info")
	f.StringVar(&key, "idempotency-key", "", "idempotency key (default: a new one per invocation)")
	cmd.MarkFlagRequired("incident")
	cmd.MarkFlagRequired("to")
	cmd.MarkFlagRequired("option")
	return cmd
}

func rollcallShowCmd(e *env) *cobra.Command {
	var watch, asCSV, asJSON bool
	cmd := &cobra.Command{
		Use:   "show ID",
		Short: "Show a roll-call's tally: a count per option, the unanswered and the unreachable",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := newClient(e)
			if err != nil {
				return err
			}
			switch {
			case asCSV:
				b, err := c.RollCallCSV(cmd.Context(), args[0])
				if err != nil {
					return err
				}
				_, err = e.stdout.Write(b)
				return err
			case watch:
				return watchTally(cmd.Context(), e, c, args[0])
			}
			t, err := c.RollCall(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			if asJSON {
				return printJSON(e, t)
			}
			for _, l := range tallyLines(t, false, time.Now()) {
				fmt.Fprintln(e.stdout, l)
			}
			fmt.Fprintln(e.stdout)
			for _, p := range t.People {
				if p.State == relay.RollCallAnswered {
					fmt.Fprintf(e.stdout, "%s\t%s\t%d\t%s\t%s\n", cell(p.Person), cell(dash(p.Name)), p.Digit, cell(p.Channel), p.At.Local().Format(time.TimeOnly))
				} else {
					fmt.Fprintf(e.stdout, "%s\t%s\t-\t%s\n", cell(p.Person), cell(dash(p.Name)), p.State)
				}
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&watch, "watch", false, "follow the tally live until the roll-call ends (a bar per option on a terminal)")
	cmd.Flags().BoolVar(&asCSV, "csv", false, "print the tally as CSV: person, name, answer, channel, time, state, by")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the API's JSON")
	cmd.MarkFlagsMutuallyExclusive("watch", "csv", "json")
	return cmd
}

func rollcallAnswerCmd(e *env) *cobra.Command {
	var person string
	cmd := &cobra.Command{
		Use:   "answer ID --person ID DIGIT",
		Short: "Answer a roll-call for a person (an admin token, or a bot token with the person in its answer_for)",
		Args:  cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			d, err := strconv.Atoi(args[1])
			if err != nil {
				return fmt.Errorf("answer %q is not a digit", args[1])
			}
			c, err := newClient(e)
			if err != nil {
				return err
			}
			a, err := c.AnswerRollCall(cmd.Context(), args[0], person, d)
			if err != nil {
				return err
			}
			fmt.Fprintf(e.stdout, "%s answered %d in roll-call %s\n", cell(a.Person), a.Digit, cell(a.RollCall))
			return nil
		},
	}
	cmd.Flags().StringVar(&person, "person", "", "the person answered for (required)")
	cmd.MarkFlagRequired("person")
	return cmd
}

// barWidth is the width of an option's bar on a terminal.
const barWidth = 30

// tallyLines renders a tally: a heading, a line per option (with a bar
// on a terminal) and the counts of the rest.
func tallyLines(t *relay.Tally, bars bool, now time.Time) []string {
	rc := &t.RollCall
	state := "open until " + rc.Until.Local().Format(time.DateTime)
	if !rc.Open(now) {
		state = "ended " + rc.Until.Local().Format(time.DateTime)
	}
	question, _, _ := strings.Cut(strings.TrimSpace(rc.Question), "\n")
	lines := []string{
		fmt.Sprintf("roll-call %s in incident %s, %s", cell(rc.ID), cell(rc.Incident), state),
		cell(question),
	}
	for _, o := range t.Options {
		mark := ""
		if o.Urgent {
			mark = " (urgent)"
		}
		if bars {
			filled := 0
			if t.Audience > 0 {
				filled = o.Count * barWidth / t.Audience
			}
			lines = append(lines, fmt.Sprintf("  %d %-12s %s%s %5d%s", o.Digit, cell(o.Label), strings.Repeat("█", filled),
				strings.Repeat("░", barWidth-filled), o.Count, mark))
		} else {
			lines = append(lines, fmt.Sprintf("  %d %s: %d%s", o.Digit, cell(o.Label), o.Count, mark))
		}
	}
	lines = append(lines, fmt.Sprintf("  answered %d of %d, unanswered %d, unreachable %d", t.Answered, t.Audience, t.Unanswered, t.Unreachable))
	return lines
}

// watchTally polls a roll-call until it ends or ctx does: on a terminal
// it redraws the tally in place, elsewhere it prints the counts when
// they change.
func watchTally(ctx context.Context, e *env, c *client.Client, id string) error {
	tty := false
	if f, ok := e.term.(*os.File); ok {
		tty = term.IsTerminal(int(f.Fd()))
	}
	drawn, last := 0, ""
	tick := time.NewTicker(pollEvery)
	defer tick.Stop()
	for {
		rctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		t, err := c.RollCall(rctx, id)
		cancel()
		now := time.Now()
		switch {
		case errors.Is(err, context.Canceled) && ctx.Err() != nil:
			return nil
		case err != nil:
			var ce *client.Error
			if errors.As(err, &ce) && ce.Status < 500 {
				return err
			}
			fmt.Fprintf(e.stderr, "reading the tally: %v\n", err) // a node may be down; the next try goes elsewhere
		case tty:
			lines := tallyLines(t, true, now)
			if drawn > 0 {
				fmt.Fprintf(e.term, "\x1b[%dA", drawn)
			}
			for _, l := range lines {
				fmt.Fprintf(e.term, "\r%s\x1b[K\n", l)
			}
			drawn = len(lines)
		default:
			lines := tallyLines(t, false, now)
			if joined := strings.Join(lines[2:], "\n"); joined != last {
				if last == "" {
					fmt.Fprintln(e.stdout, lines[0])
					fmt.Fprintln(e.stdout, lines[1])
				}
				fmt.Fprintf(e.stdout, "%s %s\n", now.Local().Format(time.TimeOnly), strings.Join(strings.Fields(strings.Join(lines[2:], ";")), " "))
				last = joined
			}
		}
		if t != nil && !t.RollCall.Open(now) {
			return nil
		}
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
		}
	}
}
