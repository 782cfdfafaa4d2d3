// Package testkit holds the helpers relay's tests share, so that each
// test package does not keep its own copy: waiting for a condition with a
// deadline (Eventually, EventuallyNil, WaitFor, Poll), a log sink safe
// for many goroutines (LogBuffer), a relay.Sender that accepts and records
// every attempt (Sender), a goroutine leak check (NoLeaks), a port free
// for gossip (FreePort), a DNS server answering from records a test sets
// (StartDNS), a DKIM key published there that signs test mail
// (NewDKIMKey), and a certificate authority that signs server
// certificates (NewCA).
//
// It is for tests only. It imports no relay package but the core, relay,
// so that the tests of every other package can use it.
package testkit
