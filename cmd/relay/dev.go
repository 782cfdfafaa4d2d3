package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"github.com/oob-relay/relay/cmd/relay/internal/devstack"
	"github.com/oob-relay/relay/cmd/relay/internal/launch"
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
			printDevUsage(e.stdout, st)
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

// DevCommander is the demo roster's commander, whom the printed console
// links log in.
const devCommander = "kim"

// printDevUsage says how to use everything relay dev runs.
func printDevUsage(w io.Writer, st *devstack.Stack) {
	in := st.Inbound()
	p := func(format string, args ...any) { fmt.Fprintf(w, format+"\n", args...) }
	p("relay dev is running. In another terminal:\n")
	p("  export RELAY_ADDR=%s", strings.Join(st.URLs, ","))
	p("  export RELAY_TOKEN=%s", st.Token)
	p("  go run ./cmd/relay send --incident db-outage --severity critical --to group:oncall \"DB 장애: 결제 지연, 확인 중\"\n")
	p("The console and the playground (each demo person's phone and mailbox) on every node;")
	p("the link logs you in as %s, the demo commander:\n", devCommander)
	for i, name := range st.Names() {
		login, err := st.LoginURL(name, devCommander)
		if err != nil {
			login = err.Error()
		}
		p("  %s  console %s/  playground %s/dev/", name, st.URLs[i], st.URLs[i])
		p("         log in: %s", login)
	}
	p("\nEvery inbound path is on:")
	p("  Alertmanager webhook (alerts go to group:oncall):")
	p("    curl -H 'Authorization: Bearer %s' -H 'Content-Type: application/json' \\", in.AlertmanagerToken)
	p("      -d '{\"version\":\"4\",\"groupKey\":\"{}:{alertname=\\\"DiskFull\\\"}\",\"status\":\"firing\",\"receiver\":\"relay\",\"groupLabels\":{},\"commonLabels\":{},\"commonAnnotations\":{},\"externalURL\":\"http://alertmanager.localhost\",\"alerts\":[{\"status\":\"firing\",\"labels\":{\"alertname\":\"DiskFull\",\"severity\":\"critical\"},\"annotations\":{\"summary\":\"디스크 가득 참\"},\"startsAt\":\"2026-01-01T00:00:00Z\",\"endsAt\":\"0001-01-01T00:00:00Z\",\"generatorURL\":\"\",\"fingerprint\":\"1\"}]}' \\")
	p("      %s%s", st.URLs[0], launch.AlertmanagerPath)
	p("  SMTP (replies to the Reply-To of relay's mails; bot %s posts to <incident>@%s with AUTH PLAIN, password %s):", devstack.Bot, devstack.MailDomain, in.BotPassword)
	p("    %s", strings.Join(in.SMTP, ", "))
	p("  NATS %s: bot %s posts on %s and acknowledges on %s, e.g.", in.NATS, devstack.Bot, devstack.NATSPostSubject, devstack.NATSAckSubject)
	p("    nats --server %s req %s '{\"incident\":\"db-outage\",\"text\":\"복구 중\",\"to\":[\"group:oncall\"]}'", in.NATS, devstack.NATSPostSubject)
	p("  Incoming SMS: the playground's phones post to each node's signed Twilio webhook.\n")
	p("Type here: \"reply PERSON TEXT\", \"ack PERSON\" or \"answer PERSON N\" to play a person (by SMS, else by")
	p("a mail reply, about their latest incident or roll-call); \"stop dev-2\" to stop a node (the others take")
	p("over its deliveries) and \"start dev-2\" to bring it back. Watch with: go run ./cmd/relay status\n")
	p("Every node watches demo-web from its own site and expects the heartbeat watchdog, which relay dev")
	p("beats. Type \"target down\" / \"target up\" or \"watchdog stop\" / \"watchdog start\" and watch with:")
	p("go run ./cmd/relay watch\n")
	fmt.Fprint(w, devDrillHint)
	p("Messages the built-in sinks receive appear below. Ctrl-C stops.\n")
}

// devConsole reads commands from stdin: stop NODE, start NODE, reply
// PERSON TEXT, ack PERSON, answer PERSON N, target down|up and watchdog
// stop|start.
func devConsole(ctx context.Context, e *env, st *devstack.Stack) {
	sc := bufio.NewScanner(e.stdin)
	for sc.Scan() {
		out, err := devCommand(ctx, st, sc.Text())
		switch {
		case err != nil:
			fmt.Fprintf(e.stdout, "dev: %v\n", err)
		case out != "":
			fmt.Fprintf(e.stdout, "dev: %s\n", out)
		}
	}
}

// devCommand runs one line of the dev console and says what happened.
func devCommand(ctx context.Context, st *devstack.Stack, line string) (string, error) {
	verb, rest, _ := strings.Cut(strings.TrimSpace(line), " ")
	rest = strings.TrimSpace(rest)
	arg, text, _ := strings.Cut(rest, " ")
	text = strings.TrimSpace(text)
	answered := func(person, what, answer string, err error) (string, error) {
		if err != nil {
			return "", fmt.Errorf("%s %s: %w", verb, person, err)
		}
		if answer != "" {
			return fmt.Sprintf("%s %s; relay answered: %s", person, what, answer), nil
		}
		return fmt.Sprintf("%s %s", person, what), nil
	}
	switch verb {
	case "":
		return "", nil
	case "stop":
		c, cancel := context.WithTimeout(ctx, shutdownGrace)
		defer cancel()
		if err := st.StopNode(c, rest); err != nil {
			return "", err
		}
		return rest + " stopped", nil
	case "start":
		if err := st.StartNode(ctx, rest); err != nil {
			return "", err
		}
		return rest + " started", nil
	case "target":
		if rest != "down" && rest != "up" {
			return "", errors.New("usage: target down or target up")
		}
		st.SetTarget(rest == "up")
		return "demo-web is " + rest, nil
	case "watchdog":
		if rest != "stop" && rest != "start" {
			return "", errors.New("usage: watchdog stop or watchdog start")
		}
		st.SetWatchdog(rest == "start")
		return "watchdog beats " + map[string]string{"stop": "stopped", "start": "started"}[rest], nil
	case "reply":
		if arg == "" || text == "" {
			return "", errors.New("usage: reply PERSON TEXT")
		}
		ans, err := st.Reply(ctx, arg, text)
		return answered(arg, "replied", ans, err)
	case "ack":
		if arg == "" || text != "" {
			return "", errors.New("usage: ack PERSON")
		}
		ans, err := st.Ack(ctx, arg)
		return answered(arg, "acknowledged", ans, err)
	case "answer":
		n, err := strconv.Atoi(text)
		if arg == "" || err != nil {
			return "", errors.New("usage: answer PERSON N (N the number of a roll-call's option)")
		}
		ans, err := st.Answer(ctx, arg, n)
		return answered(arg, "answered "+text, ans, err)
	}
	return "", fmt.Errorf("unknown command %q: type reply PERSON TEXT, ack PERSON, answer PERSON N, stop NODE, start NODE, target down|up or watchdog stop|start", verb)
}

// devDrillHint shows how to run a drill. relay dev schedules none: a
// scheduled drill is a drills.scheduled entry of a node's config.
const devDrillHint = `A drill, marked [훈련], asks everyone to acknowledge and reports who was reached:
  go run ./cmd/relay drill start --to everyone --channels sms,email,voice "정기 비상 연락 훈련입니다. 1로 답해 주세요."
  go run ./cmd/relay drill report ID --html drill.html
Scheduled drills are off here; in a node's config they look like:
  drills: {scheduled: [{name: monthly, cron: "0 14 1 * *", to: [everyone], text: "월간 훈련입니다"}]}

`
