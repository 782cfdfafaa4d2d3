// Package node assembles one relay node from its parts: the durable store,
// the delivery engine and the roster. It is the seam the HTTP API, the
// command line and, later, the cluster talk to; it knows nothing of HTTP or
// of configuration files, so several nodes can run in one process.
package node
