package main

import (
	"bufio"
	"context"
	"fmt"
	"log/slog"
	"strings"

	"github.com/spf13/cobra"

	"github.com/oob-relay/relay/cmd/relay/internal/devstack"
)

func devCmd(e *env) *cobra.Command {
	var (
		dataDir, httpAddr string
		verbose           bool
	)
	cmd := &cobra.Command{
		Use:   "dev",
		Short: "Run a local relay with a Twilio emulator, an SMTP sink and NATS built in",
		Long: "dev starts a working local relay without any configuration: SMS go to a built-in Twilio " +
			"emulator, email to a built-in SMTP sink, events to an embedded NATS server, and everything " +
			"they receive is printed here. The data is kept in --data-dir, or thrown away on exit.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			level := slog.LevelWarn
			if verbose {
				level = slog.LevelInfo
			}
			st, err := devstack.Start(cmd.Context(), devstack.Options{
				DataDir: dataDir, HTTPAddr: httpAddr, Out: e.stdout,
				Logger: newLogger(e, "text", level),
			})
			if err != nil {
				return err
			}
			fmt.Fprintf(e.stdout, "relay dev is running. In another terminal:\n\n")
			fmt.Fprintf(e.stdout, "  export RELAY_ADDR=%s\n", strings.Join(st.URLs, ","))
			fmt.Fprintf(e.stdout, "  export RELAY_TOKEN=%s\n", st.Token)
			fmt.Fprintf(e.stdout, "  go run ./cmd/relay send --incident db-outage --severity critical --to group:oncall \"DB 장애: 결제 지연, 확인 중\"\n\n")
			fmt.Fprintf(e.stdout, "Nodes %s form a cluster; any of them accepts. Type \"stop dev-2\" to stop a node\n", strings.Join(st.Names(), ", "))
			fmt.Fprintf(e.stdout, "(the others take over its deliveries), \"start dev-2\" to bring it back, and watch\n")
			fmt.Fprintf(e.stdout, "with: go run ./cmd/relay status\n\n")
			fmt.Fprint(e.stdout, devDrillHint)
			fmt.Fprintf(e.stdout, "Messages the built-in sinks receive appear below. Ctrl-C stops.\n\n")
			go devConsole(cmd.Context(), e, st)
			<-cmd.Context().Done()
			ctx, cancel := context.WithTimeout(context.Background(), shutdownGrace)
			defer cancel()
			return st.Close(ctx)
		},
	}
	cmd.Flags().StringVar(&dataDir, "data-dir", "", "keep data here across runs (default: a temporary folder removed on exit)")
	cmd.Flags().StringVar(&httpAddr, "http", "", "API listen address (default 127.0.0.1:8080, or a free port when taken)")
	cmd.Flags().BoolVarP(&verbose, "verbose", "v", false, "log the node's work, not only warnings")
	return cmd
}

// devConsole reads "stop NODE" and "start NODE" lines from stdin.
func devConsole(ctx context.Context, e *env, st *devstack.Stack) {
	sc := bufio.NewScanner(e.stdin)
	for sc.Scan() {
		verb, name, _ := strings.Cut(strings.TrimSpace(sc.Text()), " ")
		var err error
		switch verb {
		case "stop":
			c, cancel := context.WithTimeout(ctx, shutdownGrace)
			err = st.StopNode(c, name)
			cancel()
		case "start":
			err = st.StartNode(ctx, name)
		case "":
			continue
		default:
			err = fmt.Errorf("unknown command %q: type stop NODE or start NODE", verb)
		}
		if err != nil {
			fmt.Fprintf(e.stdout, "dev: %v\n", err)
		} else {
			fmt.Fprintf(e.stdout, "dev: %s %s\n", name, map[string]string{"stop": "stopped", "start": "started"}[verb])
		}
	}
}

// devDrillHint shows how to run a drill. relay dev schedules none: a
// scheduled drill is a drills.scheduled entry of a node's config.
const devDrillHint = `A drill, marked [훈련], asks everyone to acknowledge and reports who was reached:
  go run ./cmd/relay drill start --to everyone --channels sms,email,voice "정기 비상 연락 훈련입니다. 1로 답해 주세요."
  go run ./cmd/relay drill report ID --html drill.html
Scheduled drills are off here; in a node's config they look like:
  drills: {scheduled: [{name: monthly, cron: "0 14 1 * *", to: [everyone], text: "월간 훈련입니다"}]}

`
