// Package store is a node's durable state: an append-only log of
// relay.Events in an embedded bbolt file, and the state folded from it
// (messages, deliveries, incidents, the roster) kept in the same file and
// updated in the same transaction as the log.
//
// Every write goes through one goroutine that commits waiting writes
// together (group commit): under load one fsync covers hundreds of events,
// and when idle a single write commits at once. Append and Merge return
// only after the transaction holding their events is on disk.
//
// Folding is idempotent and order-independent: an event already held is
// skipped, a delivery only moves forward (relay.Delivery.Apply), and the
// roster is last-writer-wins by hybrid logical clock. Two stores that hold
// the same events hold the same state. The store knows nothing of the
// network; replication reads events with EventsFrom and Marks and hands
// received ones to Merge.
package store
