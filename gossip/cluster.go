package gossip

import (
	"encoding/json"

	"github.com/oob-relay/relay/relay/cluster"
)

// NodeMeta is what a relay node publishes with its membership.
type NodeMeta struct {
	// API is the base URL of the node's HTTP API.
	API string `json:"api"`
}

// Encode returns the metadata as published.
func (m NodeMeta) Encode() []byte {
	b, _ := json.Marshal(m) // a struct of strings always marshals
	return b
}

// Cluster returns the membership as the node's cluster code sees it.
func (m *Membership) Cluster() cluster.Membership { return clusterView{m} }

type clusterView struct{ *Membership }

func (v clusterView) Members() []cluster.Member {
	var out []cluster.Member
	for _, mb := range v.Membership.Members() {
		var md NodeMeta
		_ = json.Unmarshal(mb.Meta, &md) // a member without metadata shows no API
		out = append(out, cluster.Member{Name: mb.Name, Addr: mb.Addr, State: string(mb.State), API: md.API, Self: mb.Self})
	}
	return out
}
