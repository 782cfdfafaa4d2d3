// Package cluster is what relay nodes do together over their gossip
// membership: replicate the event log and share out deliveries.
//
// Replication. Every node's own events go to every live peer as soon as
// they are on disk: one sender per peer reads them from the store (the log
// is the queue, so nothing is ever dropped) and pushes them in batches over
// memberlist's reliable, encrypted stream, with at most a window of events
// unconfirmed. The peer queues each push in a bounded inbox per sender and
// returns at once (memberlist's goroutines never wait on a disk); the
// inbox's goroutine merges every push waiting in one store write (an
// idempotent, order-independent fold, group-committed), and answers with
// its marks, the highest sequence it holds without a gap for every origin.
// Those answers let a node wait for a copy of a message on a peer before
// it answers 202, and show each peer's replication lag. A push that finds
// the inbox full is dropped, and a push lost on the way is gone: either
// way the peer's marks do not move, and the sender sends again from them
// after Options.Resend. A few new events that fit one packet go first as
// a datagram, answered by datagram, and over the stream only when no
// answer comes within a few of the peer's round trips: a datagram spares
// the round trip memberlist's stream costs to open, which between regions
// is most of what a peer copy costs (datagram.go). Frames may arrive
// lost, twice or out of order; the fold makes that harmless, and an
// inbox leaves out what the store holds before it verifies or commits. Anti-entropy rides on
// memberlist's push/pull, on every join and periodically: nodes exchange
// marks and each sends the other what it lacks, of every origin, so a node
// that missed a push, or came back with an empty data dir, catches up.
//
// Catching up. A node that starts counting a peer as live says hello with
// its marks; the peer claims nothing (CaughtUp is false) until it holds
// what the hello announced, so a node that comes back never repeats what
// was sent while it was away. A peer whose log no longer holds the events
// a node lacks (they were truncated once every live peer held them) tells
// it to take a snapshot: the node pulls the peer's state file in checked
// parts, installs it, and gets the rest from the log as usual. When a
// member dies, each survivor asks the others for their marks and claims
// nothing until it holds what they hold (takeover.go): the dead member
// may have pushed its last claims to some survivors only, and a survivor
// taking over on less would send them again.
//
// Every goroutine and timer the Replicator starts (senders, inboxes and
// their answerers, catch-ups, the readiness watcher) ends with Close.
//
// Ownership. Each unsettled delivery belongs to the live member that ranks
// highest for its id (rendezvous hashing), so every node agrees without
// talking, and a dead member's deliveries spread over the survivors. A
// delivery being sent stays with the node that claimed it while that node
// is alive and its lease (the claim's time plus Lease) runs; when the owner
// is declared dead or the lease runs out, the next member takes it over.
// A member the failure detector declares dead while its frames still come
// (a busy member that misses probes) still counts for SpeakingFor after
// its last frame (speaking.go), so its deliveries are not sent twice.
package cluster
