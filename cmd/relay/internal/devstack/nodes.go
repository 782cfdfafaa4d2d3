package devstack

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"strings"

	"github.com/oob-relay/relay/cmd/relay/internal/launch"
	"github.com/oob-relay/relay/config"
)

// devNode is one node of the dev cluster; srv is nil while it is stopped.
type devNode struct {
	cfg *config.Config
	srv *launch.Server
}

// launchOptions are the options node n starts with: its playground is
// mounted at /dev/.
func (s *Stack) launchOptions(n *devNode, ln net.Listener) launch.Options {
	return launch.Options{Logger: s.log, Listener: ln, EmailRootCAs: s.roots, Dev: true,
		Extra: func(srv *launch.Server, mux *http.ServeMux) error {
			mux.Handle(PlaygroundPath, s.playground(n, srv))
			return nil
		}}
}

// onlyClusterSecrets reports whether every problem of a dev config is the
// gossip keys or label a real cluster requires: relay dev runs its
// cluster on loopback without them.
func onlyClusterSecrets(err error) bool {
	var j interface{ Unwrap() []error }
	errs := []error{err}
	if errors.As(err, &j) {
		errs = j.Unwrap()
	}
	for _, e := range errs {
		msg := e.Error()
		if !strings.HasPrefix(msg, "cluster.keys") && !strings.HasPrefix(msg, "cluster.label") {
			return false
		}
	}
	return true
}

// freeAddr returns a loopback address with a free TCP port for gossip
// (memberlist takes the same port for UDP).
func freeAddr() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}

// Names lists the dev nodes.
func (s *Stack) Names() []string {
	var out []string
	for _, n := range s.nodes {
		out = append(out, n.cfg.Node.Name)
	}
	return out
}

func (s *Stack) node(name string) (*devNode, error) {
	for _, n := range s.nodes {
		if n.cfg.Node.Name == name {
			return n, nil
		}
	}
	return nil, fmt.Errorf("no node %q (nodes: %s)", name, strings.Join(s.Names(), ", "))
}

// StopNode stops one node gracefully: it finishes its attempts in flight,
// hands its events to the others and leaves the cluster, whose other
// members take over its deliveries.
func (s *Stack) StopNode(ctx context.Context, name string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	n, err := s.node(name)
	if err != nil {
		return err
	}
	if n.srv == nil {
		return fmt.Errorf("%s is already stopped", name)
	}
	err = n.srv.Shutdown(ctx)
	n.srv = nil
	return err
}

// StartNode starts a stopped node again, on its old addresses and data; it
// catches up with the others before it delivers.
func (s *Stack) StartNode(ctx context.Context, name string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	n, err := s.node(name)
	if err != nil {
		return err
	}
	if n.srv != nil {
		return fmt.Errorf("%s is already running", name)
	}
	ln, err := net.Listen("tcp", n.cfg.HTTP.Listen)
	if err != nil {
		return err
	}
	for _, other := range s.nodes {
		if other != n && other.srv != nil {
			n.cfg.Cluster.Seeds = []string{other.cfg.Cluster.Bind}
			break
		}
	}
	srv, err := launch.Start(ctx, n.cfg, s.launchOptions(n, ln))
	if err != nil {
		ln.Close()
		return err
	}
	n.srv = srv
	return nil
}

// listenNear binds the port offset above first's (8081 and 8082 beside
// 8080), or any free port when that one is taken.
func listenNear(first string, offset int) (net.Listener, error) {
	host, port, err := net.SplitHostPort(first)
	if err != nil {
		return nil, err
	}
	if p, err := strconv.Atoi(port); err == nil {
		if ln, err := net.Listen("tcp", net.JoinHostPort(host, strconv.Itoa(p+offset))); err == nil {
			return ln, nil
		}
	}
	return net.Listen("tcp", net.JoinHostPort(host, "0"))
}
