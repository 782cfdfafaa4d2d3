package node

import (
	"context"
	"fmt"

	"github.com/oob-relay/relay/relay"
)

// Site returns the site this node runs in (Options.Site).
func (n *Node) Site() string { return n.opts.Site }

// Sites returns the site of every node the log knows, dead ones
// included, by node name.
func (n *Node) Sites() (map[string]string, error) { return n.store.Sites() }

// recordSite writes this node's site to the log unless the log says so
// already.
func (n *Node) recordSite(ctx context.Context) error {
	sites, err := n.store.Sites()
	if err != nil {
		return err
	}
	if sites[n.opts.Name] == n.opts.Site {
		return nil
	}
	if _, err := n.store.Append(ctx, relay.Event{Site: &relay.NodeSite{Node: n.opts.Name, Site: n.opts.Site}}); err != nil {
		return fmt.Errorf("node: record the node's site: %w", err)
	}
	return nil
}
