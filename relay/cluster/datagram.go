package cluster

import (
	"slices"
	"time"

	"github.com/oob-relay/relay/relay"
)

// maxDatagram is the largest sealed frame sent as a datagram: with the
// transport's framing, encryption and label it stays within one packet
// of a 1,500-byte path (memberlist packs its own gossip in 1,400).
const maxDatagram = 1200

// A few new events that fit one packet go to a peer as a datagram first,
// and the peer answers a datagram push with a datagram. A datagram
// arrives half a round trip after it is sent, while memberlist opens a
// stream per message, which costs a round trip more before the first
// byte: between regions that is most of what accepting a message with a
// peer copy costs. When no answer comes within a few of the peer's
// round trips (a datagram lost either way, or a link slower than the
// wait, which then doubles), the events go over the reliable stream as
// before, and are answered over it. A receiver leaves
// out what it already holds before it verifies or commits anything, and
// marks only grow, so a datagram that arrives late, twice or after the
// stream's copy changes nothing.
const (
	// maxFresh bounds the events sent in one datagram push.
	maxFresh = 8
	// maxSmallChanges bounds the delivery changes, or the recipients of
	// a message, of an event worth encoding to see whether it fits.
	maxSmallChanges = 16
	// The wait for a datagram push's answer: 50 ms at first, then three
	// of the peer's last round trips, doubled after each wait in vain
	// (links slower than the wait, or lost datagrams), within these
	// bounds.
	firstDatagramWait                = 50 * time.Millisecond
	minDatagramWait, maxDatagramWait = 5 * time.Millisecond, 500 * time.Millisecond
	// After maxMissed waits in vain in a row (a peer that drops
	// datagrams, or an older release that does not know them), the
	// stream alone carries pushes to that peer for datagramPause.
	maxMissed     = 3
	datagramPause = time.Minute
)

// large reports whether e cannot fit a datagram, without encoding it.
func large(e relay.Event) bool {
	return e.Roster != nil || len(e.Deliveries) > maxSmallChanges ||
		(e.Message != nil && len(e.Message.Recipients) > maxSmallChanges)
}

// pushDatagram sends events to p as a datagram when they fit one and
// waits for p to confirm them; it reports whether p did. It is called by
// p's push goroutine.
func (r *Replicator) pushDatagram(t Transport, p *peer, events []relay.Event) bool {
	if len(events) == 0 || len(events) > maxFresh || slices.ContainsFunc(events, large) || time.Now().Before(p.noDatagrams) {
		return false
	}
	frame := r.seal(p.name, wire{Kind: kindPush, Events: events, Datagram: true})
	if len(frame) > maxDatagram || t.SendBestEffort(p.name, frame) != nil {
		return false
	}
	r.m.datagrams.Inc()
	wait := p.answerWait
	if wait == 0 {
		wait = firstDatagramWait
	}
	start := time.Now()
	top := events[len(events)-1].Seq
	timer := time.NewTimer(wait)
	defer timer.Stop()
	for {
		r.mu.Lock()
		changed := r.changed
		r.mu.Unlock()
		if r.peerMark(p.name, r.origin) >= top {
			p.answerWait = min(max(3*time.Since(start), minDatagramWait), maxDatagramWait)
			p.missed = 0
			return true
		}
		select {
		case <-changed:
		case <-timer.C:
			r.m.datagramsUnanswered.Inc()
			p.answerWait = min(2*wait, maxDatagramWait)
			if p.missed++; p.missed >= maxMissed {
				p.missed, p.noDatagrams = 0, time.Now().Add(datagramPause)
				r.log.Debug("peer answers no datagram; pushing over the stream alone for a while", "peer", p.name, "for", datagramPause)
			}
			return false
		case <-p.stop:
			return false
		case <-r.done:
			return false
		}
	}
}

// datagramQueue bounds the datagrams waiting to be checked; more are
// dropped (their senders fall back to the stream).
const datagramQueue = 256

// datagram is one datagram received, waiting to be checked.
type datagram struct {
	from    string
	payload []byte
}

// OnDatagram takes a datagram from another member. memberlist calls it on
// the goroutine that reads every UDP packet, its failure detector's probes
// included, so it only queues the datagram: takeDatagrams checks its
// signature and handles it as OnMessage does. It never blocks; a datagram
// that finds the queue full is dropped and counted.
func (r *Replicator) OnDatagram(from string, payload []byte) {
	select {
	case r.datagramsIn <- datagram{from: from, payload: payload}:
	default:
		r.m.dropped.Inc()
	}
}

// takeDatagrams handles the datagrams OnDatagram queued, until Close.
func (r *Replicator) takeDatagrams() {
	defer r.wg.Done()
	for {
		select {
		case d := <-r.datagramsIn:
			r.OnMessage(d.from, d.payload)
		case <-r.done:
			return
		}
	}
}
