// Package cluster is what relay nodes do together over their gossip
// membership: replicate the event log and share out deliveries.
//
// Replication. Every node's own events go to every live peer as soon as
// they are on disk: one sender per peer reads them from the store (the log
// is the queue, so nothing is ever dropped) and pushes them in batches over
// memberlist's reliable, encrypted stream. The peer merges them (an
// idempotent, order-independent fold), fsyncs and answers with its marks,
// the highest sequence it holds without a gap for every origin. Those
// answers let a node wait for a copy of a message on a peer before it
// answers 202, and show each peer's replication lag. Anti-entropy rides on
// memberlist's push/pull, on every join and periodically: nodes exchange
// marks and each sends the other what it lacks, of every origin, so a node
// that missed a push, or came back with an empty data dir, catches up.
//
// Ownership. Each unsettled delivery belongs to the live member that ranks
// highest for its id (rendezvous hashing), so every node agrees without
// talking, and a dead member's deliveries spread over the survivors. A
// delivery being sent stays with the node that claimed it while that node
// is alive and its lease (the claim's time plus Lease) runs; when the owner
// is declared dead or the lease runs out, the next member takes it over.
package cluster
