package main

import (
	"context"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/rogpeppe/go-internal/testscript"

	"github.com/oob-relay/relay/channels/twilio/emulator/emulatortest"
	"github.com/oob-relay/relay/cmd/relay/internal/devstack"
)

// TestScripts runs the command line end to end: each script in
// testdata/script gets its own relay dev system (node, Twilio emulator,
// SMTP sink, NATS) with RELAY_ADDR and RELAY_TOKEN set.
func TestScripts(t *testing.T) {
	spec := emulatortest.Spec(t)
	testscript.Run(t, testscript.Params{
		Dir:                 "testdata/script",
		RequireExplicitExec: true,
		Cmds:                map[string]func(ts *testscript.TestScript, neg bool, args []string){"capture": capture},
		Setup: func(env *testscript.Env) error {
			st, err := devstack.Start(context.Background(), devstack.Options{
				DataDir:    filepath.Join(env.WorkDir, ".dev"),
				HTTPAddr:   "127.0.0.1:0",
				TwilioSpec: spec,
			})
			if err != nil {
				return err
			}
			env.Setenv("RELAY_ADDR", strings.Join(st.URLs, ","))
			env.Setenv("RELAY_TOKEN", st.Token)
			env.Defer(func() {
				ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
				defer cancel()
				if err := st.Close(ctx); err != nil {
					env.T().Fatal(err)
				}
				if v := st.TwilioViolations(); len(v) > 0 {
					env.T().Fatal("requests outside Twilio's API description: " + strings.Join(v, "; "))
				}
			})
			return nil
		},
	})
}

// capture NAME REGEXP sets $NAME to the first group of REGEXP in the last
// command's standard output.
func capture(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 2 {
		ts.Fatalf("usage: capture NAME REGEXP")
	}
	re, err := regexp.Compile("(?m)" + args[1])
	ts.Check(err)
	m := re.FindStringSubmatch(ts.ReadFile("stdout"))
	if len(m) < 2 {
		ts.Fatalf("capture: no match for %s in stdout", args[1])
	}
	ts.Setenv(args[0], m[1])
}
