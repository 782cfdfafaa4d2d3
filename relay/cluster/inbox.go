package cluster

import (
	"context"
	"errors"
	"slices"
	"sync/atomic"
	"time"

	"github.com/oob-relay/relay/relay"
)

// inboxIdle is how long an inbox waits for another frame before its
// goroutine ends; the next frame starts it again.
const inboxIdle = time.Minute

// mergeTimeout bounds one merge of a peer's frames into the store.
const mergeTimeout = 10 * time.Second

// inbox holds the frames one peer sent that wait to be merged, the
// goroutine that merges them, and the one that answers with this node's
// marks over the reliable stream.
type inbox struct {
	from   string
	frames chan wire
	// answer asks the answerer for a reliable answer with the marks as
	// they are when it sends; answers asked for meanwhile make one.
	answer chan struct{}
	hello  atomic.Bool   // the answer asked for is a hello's: retried
	ask    atomic.Uint64 // the latest hello's Ask, echoed by its answer
	quit   chan struct{} // closed when the merging goroutine ends
}

// OnMessage takes a message from another member. Marks are noted at
// once; pushes and hellos go to the sender's inbox, whose goroutine
// merges and answers. It never blocks: a frame that finds the inbox full
// is dropped, and its sender sends it again (Options.Resend).
func (r *Replicator) OnMessage(from string, payload []byte) {
	w, err := r.unseal(from, r.self(), payload)
	if err == nil && w.Kind == kindState {
		err = &refusal{refusedMalformed, errors.New("a state sent as a message")}
	}
	if err != nil {
		r.refuse(from, "cluster message", err)
		return
	}
	r.prove(from)
	r.noteFrame(from, time.UnixMilli(w.At))
	switch w.Kind {
	case kindMarks:
		r.noteMarks(from, w.Marks, true)
		if w.Ask != 0 {
			r.noteAnswer(from, w.Ask, w.Marks)
		}
		if !r.CaughtUp() {
			r.poke() // the answer may stand for the hello waited for
		}
		return
	case kindHello:
		r.noteHello(from, w.Marks)
	case kindSnapNeeded:
		r.needSnapshot(from)
		return
	case kindSnapPart:
		r.mu.Lock()
		taking := r.fetching == from
		r.mu.Unlock()
		if taking {
			select {
			case r.snapIn <- w.Snap:
			default: // asked for again when it does not come
			}
		}
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return
	}
	in := r.inboxes[from]
	if in == nil {
		if len(r.inboxes) >= maxInboxes {
			r.m.dropped.Inc()
			return
		}
		in = &inbox{from: from, frames: make(chan wire, r.opts.Inbox), answer: make(chan struct{}, 1), quit: make(chan struct{})}
		r.inboxes[from] = in
		r.wg.Add(2)
		go r.drain(in)
		go r.answerer(in)
	}
	select {
	case in.frames <- w:
	default:
		r.m.dropped.Inc()
	}
}

// drain merges what arrives in an inbox, every frame waiting at the
// moment in one store write, and answers each batch with this node's
// marks. It ends after inboxIdle without frames, or at Close.
func (r *Replicator) drain(in *inbox) {
	defer r.wg.Done()
	defer close(in.quit)
	idle := time.NewTimer(inboxIdle)
	defer idle.Stop()
	for {
		var first wire
		select {
		case first = <-in.frames:
		case <-idle.C:
			r.mu.Lock()
			if len(in.frames) > 0 { // a frame came just now
				r.mu.Unlock()
				idle.Reset(inboxIdle)
				continue
			}
			delete(r.inboxes, in.from)
			r.mu.Unlock()
			return
		case <-r.done:
			return
		}
		batch := []wire{first}
	more:
		for {
			select {
			case w := <-in.frames:
				batch = append(batch, w)
			default:
				break more
			}
		}
		r.handle(in, batch)
		idle.Reset(inboxIdle)
	}
}

// handle merges a batch of frames from one peer and answers it in kind:
// a push that came as a datagram by datagram (its sender pushes again
// over the stream when no answer comes, see datagram.go), and frames that
// came over a stream, or a hello, over the stream, by the inbox's
// answerer, so that merging never waits on the network. Large pushes, a
// fan-out's, thus add nothing to the UDP packets memberlist's failure
// detector reads.
func (r *Replicator) handle(in *inbox, batch []wire) {
	from := in.from
	var events []relay.Event
	hello, reliable, datagram := false, false, false
	for _, w := range batch {
		switch w.Kind {
		case kindPush:
			events = append(events, w.Events...)
			reliable = reliable || !w.Datagram
			datagram = datagram || w.Datagram
		case kindHello:
			hello, reliable = true, true
			if w.Ask > in.ask.Load() {
				in.ask.Store(w.Ask) // only this goroutine stores it
			}
		case kindSnapGet:
			r.serveSnapshot(from, w.Snap)
		}
	}
	if len(events) == 0 && !hello {
		return // snapshot requests only: answered
	}
	if len(events) > 0 {
		if err := r.merge(events); err != nil {
			r.log.Error("merging pushed events failed", "from", from, "events", len(events), "err", err)
			return // no answer: the sender sends them again
		}
	}
	if datagram {
		t := r.transport()
		marks, err := r.st.Marks()
		if t == nil || err != nil {
			return
		}
		if frame := r.seal(from, wire{Kind: kindMarks, Marks: marks}); len(frame) <= maxDatagram && t.SendBestEffort(from, frame) == nil {
			r.m.datagrams.Inc()
		}
	}
	if !reliable {
		return
	}
	if hello {
		in.hello.Store(true)
	}
	select {
	case in.answer <- struct{}{}:
	default: // one is asked for already: it sends the marks then
	}
}

// answerer sends the reliable answers an inbox asks for, each with the
// marks as they are when it is sent, until the inbox's merging goroutine
// ends or Close.
func (r *Replicator) answerer(in *inbox) {
	defer r.wg.Done()
	for {
		select {
		case <-in.answer:
		case <-in.quit:
			return
		case <-r.done:
			return
		}
		// A hello's answer is retried for a while: a hello can come
		// before this node's membership knows its sender. A push's
		// answer is not: the sender sends again when no answer comes.
		tries, ask := 1, uint64(0)
		if in.hello.Swap(false) {
			tries, ask = 10, in.ask.Load()
		}
		for i := range tries {
			t := r.transport()
			marks, err := r.st.Marks()
			if t == nil || err != nil {
				break
			}
			if err = t.SendReliable(in.from, r.seal(in.from, wire{Kind: kindMarks, Marks: marks, Ask: ask})); err == nil {
				break
			}
			r.log.Debug("answering a peer failed", "peer", in.from, "try", i+1, "err", err)
			if i+1 < tries && !r.sleep(r.opts.Retry, in.quit) {
				return
			}
		}
	}
}

// merge folds events from a peer into the store, skipping any of this
// node's own origin (a peer may offer them back).
func (r *Replicator) merge(events []relay.Event) error {
	// What the store holds already (a push that came as a datagram and
	// then reliably, or was sent again) is left out before the store
	// verifies and commits anything.
	held, err := r.st.Marks()
	if err != nil {
		return err
	}
	events = slices.DeleteFunc(events, func(e relay.Event) bool { return e.Origin == r.origin || e.Seq <= held[e.Origin] })
	if len(events) == 0 {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), mergeTimeout)
	defer cancel()
	fresh, err := r.st.Merge(ctx, events)
	if err != nil {
		return err
	}
	r.m.mergedEvents.Add(float64(len(fresh)))
	// Once ready and caught up, only a hello or a new peer calls for a
	// check, and they make one themselves.
	select {
	case <-r.ready:
		if r.caught.Load() {
			return nil
		}
	default:
	}
	r.checkReady()
	return nil
}
