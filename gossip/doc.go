// Package gossip keeps the nodes of a relay cluster in touch. It tracks
// membership with hashicorp/memberlist: SWIM failure detection over UDP
// and TCP, every packet and stream encrypted with a shared AES keyring and
// marked with the cluster's label, so that nothing from outside the
// cluster is taken in.
//
// A Membership gives the layers above it what they need to replicate the
// event log and to share out deliveries:
//
//   - Members and Alive say who is in the cluster, and OnChange says when
//     that changes: a node that stops answering is declared dead in about
//     a second with the LAN preset.
//   - SendReliable sends a message to one member over TCP; OnMessage
//     receives it with the sender's name. memberlist's broadcast queue is
//     not used: it drops updates silently.
//   - LocalState and MergeState exchange a small state (version vectors,
//     for anti-entropy) with one peer every push_pull_interval and on
//     every join, again with the sender's name.
//
// Seeds may be host names that resolve to several addresses. A node that
// reaches none of them runs alone and keeps trying every rejoin_interval,
// so that a cluster heals after a full restart or a change of addresses.
//
// Keys rotate without downtime: AddKey on every node, then UseKey on
// every node, then RemoveKey of the old key; the same order applies to
// the keys listed in the configuration across restarts.
package gossip
