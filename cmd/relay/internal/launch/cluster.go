package launch

import (
	"context"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/oob-relay/relay/config"
	"github.com/oob-relay/relay/gossip"
	"github.com/oob-relay/relay/relay/cluster"
	"github.com/oob-relay/relay/relay/trust"
)

// join starts the node's gossip membership and attaches the node to it.
func (s *Server) join(ctx context.Context, cfg *config.Config, opts Options, reg prometheus.Registerer) error {
	n := s.Node
	ms, err := gossip.New(gossip.Options{
		Name: cfg.Node.Name, Config: cfg.Cluster.Config, Dev: opts.Dev, Meta: gossip.NodeMeta{API: s.api}.Encode(),
		Logger: s.log, Registerer: reg,
		OnMessage:  n.Replicator().OnMessage,
		OnDatagram: n.Replicator().OnDatagram,
		LocalState: n.Replicator().LocalState,
		MergeState: n.Replicator().MergeState,
		OnChange:   n.MembershipChanged,
		Signer:     s.signer,
		Keys:       keysOrNil(s.keys),
		// Tests of a cluster may cut this node off (PartitionFileEnv).
		WrapTransport: partitionWrap(),
	})
	if err != nil {
		return err
	}
	n.Attach(ms.Cluster())
	if err := ms.Start(ctx); err != nil {
		return err
	}
	s.members = ms
	n.MembershipChanged()
	if s.keys != nil {
		s.keyWatch = watchKeys(s.keys, s.signer, n.MembershipChanged, s.log)
	}
	s.log.Info("cluster membership started", "gossip", ms.LocalAddr(), "members", ms.Alive())
	return nil
}

// leave tells the cluster this node is going, so the others take its
// deliveries over at once rather than after failure detection.
func (s *Server) leave() {
	if s.members == nil {
		return
	}
	if err := s.members.Leave(3 * time.Second); err != nil {
		s.log.Warn("leaving the cluster", "err", err)
	}
	s.members.Shutdown()
	s.members = nil
}

// keysOrNil keeps a nil keyring a nil interface: gossip admits every
// member of a cluster that is not authenticated.
func keysOrNil(k *trust.Keyring) cluster.Keys {
	if k == nil {
		return nil
	}
	return k
}
