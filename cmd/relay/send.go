package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/oklog/ulid/v2"
	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/oob-relay/relay/relay"
	"github.com/oob-relay/relay/relay/api"
	"github.com/oob-relay/relay/relay/client"
)

// pollEvery is how often relay send reads a message's progress.
const pollEvery = 500 * time.Millisecond

func sendCmd(e *env) *cobra.Command {
	var (
		p      relay.Post
		key    string
		noWait bool
	)
	cmd := &cobra.Command{
		Use:   "send --incident ID --to AUDIENCE [flags] TEXT",
		Short: "Post a message and follow its deliveries until they settle",
		Long: "send posts TEXT (or standard input, with \"-\") to the audience and shows each delivery's " +
			"progress until every one is sent, delivered or failed. Ctrl-C stops watching, not the deliveries.\n\n" +
			"Exit status: 0 when every delivery succeeded, 2 when some failed or someone is unreachable, 1 on error.",
		Example: `  relay send --incident db-outage --to group:oncall "DB 장애: 결제 지연, 확인 중"
  relay send --incident db-outage --to person:kim --to person:lee --severity critical --channel sms -`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			text := args[0]
			if text == "-" {
				b, err := io.ReadAll(io.LimitReader(e.stdin, relay.MaxTextBytes+1))
				if err != nil {
					return err
				}
				text = strings.TrimRight(string(b), "\n")
			}
			p.Text = text
			c, err := newClient(e)
			if err != nil {
				return err
			}
			if key == "" {
				// A key of our own makes the retry on the next node safe.
				key = "cli-" + ulid.Make().String()
			}
			acc, err := c.Post(cmd.Context(), &p, key)
			if err != nil {
				return err
			}
			fmt.Fprintf(e.stdout, "accepted %s in incident %s on %s: %s to %s\n",
				cell(acc.ID), cell(acc.Incident), cell(acc.AcceptedBy), plural(acc.Deliveries, "delivery", "deliveries"), plural(acc.Recipients, "person", "people"))
			if len(acc.Unreachable) > 0 {
				fmt.Fprintf(e.stdout, "unreachable (no channel to try): %s\n", strings.Join(cells(acc.Unreachable), ", "))
			}
			if noWait {
				return nil
			}
			v, err := follow(cmd.Context(), e, c, acc.ID)
			if err != nil {
				return err
			}
			return outcome(e, v, acc)
		},
	}
	f := cmd.Flags()
	f.StringVarP(&p.Incident, "incident", "i", "", "incident id; a new id opens the incident (required)")
	f.StringArrayVarP(&p.To, "to", "t", nil, "audience: "+relay.AudienceForms+"; repeat for more")
	f.StringVarP((*string)(&p.Severity), "severity", "s", "", "critical, warning or info (default warning)")
	f.StringArrayVar(&p.Channels, "channel", nil, "only these channels (sms, voice, email, nats); repeat for more")
	f.StringVar(&key, "idempotency-key", "", "idempotency key (default: a new one per invocation)")
	f.BoolVar(&noWait, "no-wait", false, "return once the message is accepted")
	cmd.MarkFlagRequired("incident")
	cmd.MarkFlagRequired("to")
	return cmd
}

// follow polls the message until it settles or ctx ends, drawing a
// progress bar on a terminal and a line per change elsewhere.
func follow(ctx context.Context, e *env, c *client.Client, id string) (*api.MessageView, error) {
	tty := false
	if f, ok := e.term.(*os.File); ok {
		tty = term.IsTerminal(int(f.Fd()))
	}
	last := ""
	tick := time.NewTicker(pollEvery)
	defer tick.Stop()
	for {
		rctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		v, err := c.Message(rctx, id)
		cancel()
		switch {
		case errors.Is(err, context.Canceled) && ctx.Err() != nil:
			fmt.Fprintf(e.stdout, "\nstopped watching; the deliveries go on: relay message show %s\n", id)
			return nil, ctx.Err()
		case err != nil:
			// A node may be down; the client tries the others next time.
			fmt.Fprintf(e.stderr, "reading progress: %v\n", err)
		default:
			line := progressLine(v, tty)
			if tty {
				fmt.Fprintf(e.term, "\r%s\x1b[K", line)
			} else if line != last {
				fmt.Fprintln(e.stdout, line)
			}
			last = line
			if v.Settled {
				if tty {
					fmt.Fprintln(e.stdout)
				}
				return v, nil
			}
		}
		select {
		case <-ctx.Done():
			fmt.Fprintf(e.stdout, "\nstopped watching; the deliveries go on: relay message show %s\n", id)
			return nil, ctx.Err()
		case <-tick.C:
		}
	}
}

func progressLine(v *api.MessageView, bar bool) string {
	total := len(v.Deliveries)
	done := 0
	for _, d := range v.Deliveries {
		if d.Status.Settled() {
			done++
		}
	}
	var parts []string
	for _, st := range relay.Statuses {
		if n := v.Summary[st]; n > 0 {
			parts = append(parts, fmt.Sprintf("%s %d", st, n))
		}
	}
	counts := strings.Join(parts, ", ")
	if !bar {
		return fmt.Sprintf("%d/%d settled: %s", done, total, counts)
	}
	const width = 30
	filled := 0
	if total > 0 {
		filled = done * width / total
	}
	return fmt.Sprintf("[%s%s] %d/%d  %s", strings.Repeat("█", filled), strings.Repeat("░", width-filled), done, total, counts)
}

// outcome reports failed deliveries and sets the exit status.
func outcome(e *env, v *api.MessageView, acc *api.Accepted) error {
	reached := map[string]bool{}
	for _, r := range v.Recipients {
		reached[r.Person] = r.ReachedBy != ""
	}
	failed := 0
	for _, d := range v.Deliveries {
		// A failed channel of someone another channel reached is the
		// fallback doing its job.
		if d.Status == relay.StatusFailed && !reached[d.Person] {
			failed++
			who := d.Person
			if who == "" {
				who = "(broadcast)"
			}
			fmt.Fprintf(e.stdout, "failed: %s by %s after %s: %s\n", cell(who), cell(d.Channel), plural(d.Attempts, "attempt", "attempts"), cell(d.Error))
		}
	}
	switch {
	case failed > 0:
		return &exitError{2, fmt.Sprintf("%s of message %s failed", plural(failed, "delivery", "deliveries"), cell(v.ID))}
	case len(acc.Unreachable) > 0:
		return &exitError{2, fmt.Sprintf("%s could not be reached on any channel", plural(len(acc.Unreachable), "person", "people"))}
	}
	fmt.Fprintf(e.stdout, "all %s settled\n", plural(len(v.Deliveries), "delivery", "deliveries"))
	return nil
}
