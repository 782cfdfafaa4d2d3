package launch

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"os"
	"slices"
	"strings"

	"github.com/oob-relay/relay/config"
	"github.com/oob-relay/relay/relay/node"
)

// RefuseDialEnv names an environment variable for tests of a cluster: a
// comma-separated list of host:port addresses (or hosts) that this
// node's probes of watched targets cannot reach, as if its site's
// network were broken there. Only probes are affected.
const RefuseDialEnv = "RELAY_TEST_REFUSE_DIAL"

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
	if v := os.Getenv(RefuseDialEnv); v != "" {
		refused := strings.Split(v, ",")
		log.Warn("probes of watched targets refuse some addresses, for a test", "env", RefuseDialEnv, "addresses", refused)
		w.Dial = func(ctx context.Context, network, address string) (net.Conn, error) {
			host, _, _ := net.SplitHostPort(address)
			if slices.Contains(refused, address) || slices.Contains(refused, host) {
				return nil, &net.OpError{Op: "dial", Net: network, Err: errors.New("network is unreachable")}
			}
			var d net.Dialer
			return d.DialContext(ctx, network, address)
		}
	}
	return w, nil
}
