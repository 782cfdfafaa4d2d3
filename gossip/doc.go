// Package gossip will keep the nodes of a relay cluster in touch: it will
// track membership with hashicorp/memberlist (SWIM failure detection over
// UDP and TCP, encrypted with a shared keyring) and replicate every node's
// event log to every other node, so that any node accepts a message, every
// node knows it, and the survivors finish a dead node's deliveries.
//
// Until it does, each node runs on its own: it accepts, stores and
// delivers, but shares nothing.
package gossip
