// Command relay runs a relay node and talks to relay clusters.
//
//	relay serve --config relay.yaml    run a node
//	relay dev                          run a local three-node cluster with built-in sinks
//	relay send --incident db-outage --to group:oncall "DB 장애: 결제 지연"
//	relay message show ID
//	relay incident list | show ID
//	relay status                       the cluster as the node sees it
//	relay roster apply FILE | show | diff FILE
//	relay roster import --csv hr.csv --country KR -o roster.yaml
//	relay oncall [SCHEDULE] [--at TIME]  who is on call now and next
//	relay oncall override add SCHEDULE --person ID [--covers ID] --from TIME --to TIME
//	relay rollcall start --incident ID --to group:all --option "1=안전" --option "2=도움 필요" QUESTION
//	relay rollcall show ID [--watch] [--csv]
//	relay config check FILE
//
// Client verbs read RELAY_ADDR (comma-separated node URLs, tried in turn)
// and RELAY_TOKEN.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr, os.Getenv))
}

// env is what a command reads from its surroundings.
type env struct {
	stdin io.Reader
	// stdout and stderr escape what would move a terminal's cursor (see
	// safeWriter); every command prints through them.
	stdout, stderr io.Writer
	// term is the standard output itself, for the progress bar's own
	// control sequences, and to tell whether it is a terminal.
	term   io.Writer
	getenv func(string) string
}

// exitError carries an exit status other than 1; one without a message
// prints nothing more.
type exitError struct {
	code int
	msg  string
}

func (e *exitError) Error() string { return e.msg }

// run executes one command line and returns the process exit status.
func run(args []string, stdin io.Reader, stdout, stderr io.Writer, getenv func(string) string) int {
	out, errOut := newSafeWriter(stdout), newSafeWriter(stderr)
	e := &env{stdin: stdin, stdout: out, stderr: errOut, term: stdout, getenv: getenv}
	root := &cobra.Command{
		Use:           "relay",
		Short:         "Out-of-band emergency communication relay",
		Long:          "relay fans incident messages out over SMS, voice, email and NATS from a cluster of independently hosted nodes.",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetArgs(args)
	root.SetIn(stdin)
	root.SetOut(out)
	root.SetErr(errOut)
	root.AddCommand(
		serveCmd(e), devCmd(e), sendCmd(e), messageCmd(e), incidentCmd(e), rosterCmd(e), configCmd(e), statusCmd(e), nodeCmd(e), oncallCmd(e), rollcallCmd(e), watchCmd(e), drillCmd(e),
	)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	err := root.ExecuteContext(ctx)
	defer errOut.Flush()
	out.Flush()
	if err == nil {
		return 0
	}
	var xe *exitError
	if errors.As(err, &xe) && xe.msg == "" {
		return xe.code
	}
	fmt.Fprintln(errOut, "relay:", err)
	if xe != nil {
		return xe.code
	}
	return 1
}
