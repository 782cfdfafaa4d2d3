// Package delivery is the delivery engine: it takes each delivery of an
// accepted message to its channel's providers, once, and records every
// step in the store.
//
// Each channel has a lane: a queue ordered by priority and due time, a
// dispatcher and a pool of workers. The dispatcher claims due deliveries
// in batches no larger than the free workers, writing one durable
// "sending" change for the batch before any of them is sent; so a node
// never sends what it has not recorded as in flight, and a crash re-sends
// at most the deliveries in flight. Workers wait for their provider's rate
// limiter and, on a channel whose providers can be asked about an attempt
// (relay.Tracker), until the peers hold the claim, so a node taking over
// after a crash finds it claimed and asks rather than sending again; they
// make one attempt with a timeout (unless the claim went stale
// waiting: then the delivery is claimed afresh), and record the result: sent
// (or delivered), pending with a next attempt time after a temporary
// error, or failed after a permanent error or when the message's deadline
// leaves no room for another attempt. Results are written in batches by
// one recorder per lane, group-committed with everything else the store
// writes, while the workers go on; each attempt holds one of the lane's
// unrecorded tokens until its result is on disk and, in a cluster, held
// by the peers. So the attempts a takeover after a crash may repeat never
// exceed a lane's slots, and no worker waits for an fsync of its own.
// Retries back off exponentially with jitter (Backoff); they live
// here and nowhere else. Each provider has a circuit breaker (Breaker):
// while every provider of a channel is open, the lane waits for a probe
// rather than retrying into an outage.
//
// Every zero field of Options takes its default there, in one place, so a
// caller that sets some fields of Backoff or Breaker gets the defaults for
// the rest.
package delivery
