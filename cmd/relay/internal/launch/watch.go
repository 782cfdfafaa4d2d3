package launch

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"os"
	"slices"
	"strconv"
	"strings"

	"github.com/oob-relay/relay/config"
	"github.com/oob-relay/relay/relay/node"
)

// RefuseDialEnv names an environment variable for tests of a cluster: a
// comma-separated list of host:port addresses (or hosts) that this
// node's probes of watched targets cannot reach, as if its site's
// network were broken there. Only probes are affected.
const RefuseDialEnv = "RELAY_TEST_REFUSE_DIAL"

// FlakyDialEnv names an environment variable for tests of a cluster: a
// probability between 0 and 1 that each connection this node's probes
// of watched targets open fails at random, as if its site's network
// were flaky. Only probes are affected.
const FlakyDialEnv = "RELAY_TEST_FLAKY_DIAL"

// watchOptions turns the config's watch section into the node's.
func watchOptions(cfg *config.Config, log *slog.Logger) (node.Watch, error) {
	w := node.Watch{Quorum: cfg.Watch.Quorum,
		SiteDark: node.SiteDark{After: cfg.Watch.SiteDark.After, To: cfg.Watch.SiteDark.To, Lang: cfg.Watch.SiteDark.Lang}}
	for i := range cfg.Watch.Targets {
		t := &cfg.Watch.Targets[i]
		wt, tmpl, err := t.Target()
		if err != nil {
			return w, err
		}
		w.Targets = append(w.Targets, node.WatchTarget{Target: wt, Lang: t.Lang, Template: tmpl})
	}
	for _, h := range cfg.Watch.Heartbeats {
		w.Heartbeats = append(w.Heartbeats, node.Heartbeat{Name: h.Name, Every: h.Every, Grace: h.Grace, To: h.To, Lang: h.Lang})
	}
	dial, err := testDial(log)
	if err != nil {
		return w, err
	}
	w.Dial = dial
	return w, nil
}

// testDial returns the probes' dialer that RefuseDialEnv and FlakyDialEnv
// ask for, or nil when neither is set.
func testDial(log *slog.Logger) (func(ctx context.Context, network, address string) (net.Conn, error), error) {
	var refused []string
	if v := os.Getenv(RefuseDialEnv); v != "" {
		refused = strings.Split(v, ",")
		log.Warn("probes of watched targets refuse some addresses, for a test", "env", RefuseDialEnv, "addresses", refused)
	}
	var flaky float64
	if v := os.Getenv(FlakyDialEnv); v != "" {
		p, err := strconv.ParseFloat(v, 64)
		if err != nil || !(p >= 0 && p <= 1) {
			return nil, fmt.Errorf("%s must be a probability between 0 and 1, not %q", FlakyDialEnv, v)
		}
		flaky = p
		log.Warn("probes of watched targets fail at random, for a test", "env", FlakyDialEnv, "probability", flaky)
	}
	if refused == nil && flaky == 0 {
		return nil, nil
	}
	return func(ctx context.Context, network, address string) (net.Conn, error) {
		host, _, _ := net.SplitHostPort(address)
		if slices.Contains(refused, address) || slices.Contains(refused, host) || flaky > 0 && rand.Float64() < flaky {
			return nil, &net.OpError{Op: "dial", Net: network, Err: errors.New("network is unreachable")}
		}
		var d net.Dialer
		return d.DialContext(ctx, network, address)
	}, nil
}
