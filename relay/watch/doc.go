// Package watch decides, from several sites, whether a watched target is
// down.
//
// Each node probes every target from its own site (Prober) and reports
// what it sees when that changes (Report): up or down, and since when. A
// target is down for the cluster only when a quorum of sites has seen it
// down, each for at least the target's For; one node's own network
// trouble is not an outage (Decide). It is up again when a quorum of
// sites has seen it up for RecoverFor, which damps flapping: a target
// that keeps coming and going stays down until it stays up.
//
// The package knows nothing of the log or of delivery: the node keeps
// reports and verdicts as events in the replicated log, and the node that
// owns a target acts on each change of verdict once.
package watch
