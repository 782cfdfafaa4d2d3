package relay

import "fmt"

// NodeSite records the site a node runs in (a data center, region or
// city), as the node itself says: each node writes its own at start when
// the log does not say so already. Watched targets and site-dark checks
// count sites, not nodes, so that two nodes sharing one network count
// once. A record written by another node than Node is ignored; the
// latest record of a node wins.
type NodeSite struct {
	Node string `json:"node"`
	Site string `json:"site"`
}

// Check reports what is wrong with a site record.
func (s *NodeSite) Check() error {
	if !ValidID(s.Node) || !ValidID(s.Site) {
		return fmt.Errorf("site record with an invalid node %q or site %q", s.Node, s.Site)
	}
	return nil
}
