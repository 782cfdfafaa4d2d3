package twilio

import (
	"context"
	"sync"
	"time"

	"github.com/oob-relay/relay/relay"
)

// Replays. Twilio signs a webhook's URL and form, never a time, so a
// signed request read on its way (in a proxy's log, say) stays valid for
// ever, on every node whose URL it names, and on every node at all when
// it names the cluster's callback URL. Hooks therefore takes each request
// that changes state once per cluster, by what the replicated log holds,
// which is on disk (a restart keeps it) and on every node (a replay to
// another node finds it). The same request again is a duplicate: it
// changes nothing and is answered as its first was answered in kind
// (204, the spoken answer of an acknowledgement, an empty TwiML), so that
// Twilio's own retries, which are the same request, never see an error.
//
//   - A final status callback is taken once per attempt, as the delivery
//     it names shows (receiptTaken): once the attempt whose SID the
//     callback carries has its outcome (delivered, failed, or a busy or
//     unanswered call reopened for another call), any receipt for that
//     SID is a duplicate, whatever status it repeats; a receipt for an
//     earlier attempt is stale for the node (relay.ErrStaleReceipt) and
//     changes nothing either. Receipts need no record of their own, which
//     matters as a fan-out brings one for every SMS.
//   - A Gather that acknowledges, and an incoming SMS, act on state the
//     log cannot tell them from (an ACK acknowledges the messages of the
//     incidents open when it comes), so they are looked up in the
//     cluster's memory of requests taken (relay.Memory) before they are
//     taken, and recorded there after: a Gather by its delivery and
//     CallSid, as one call acknowledges once; an incoming SMS by its
//     MessageSid. The memory is a relay.Seen event in the log.
//
// Progress callbacks (queued, sent, ringing…) and a Gather without 1
// change nothing and are taken as often as they come. Requests of one key
// (or receipts of one delivery) on one node wait for each other, so that
// copies sent at the same moment are taken once.
//
// How long a request is recognised, and what happens after. Nothing
// Twilio signs dates the request: the I-Twilio-Idempotency-Token header
// is the same on Twilio's retries but is not signed, so anyone can copy
// or change it; MessageSid and CallSid carry no time; SmsStatus and
// MessageStatus say where a message is, not when. What relay can date is
// the delivery a callback is about: Twilio posts a message's or call's
// statuses and Gathers while the message or call lives (relay asks Twilio
// to drop an SMS still queued at the delivery's deadline, a call lasts at
// most 4 hours unless told otherwise), and relay starts no attempt after
// the deadline. So a status callback or Gather about a delivery whose
// deadline passed more than CallbackWindow ago is refused (403, reason
// "stale"); a Gather's key is kept until then and an hour more, so that no
// replay falls between the two, and a receipt is recognised as long as
// the store keeps its delivery. A receipt that late, if Twilio ever sent
// one, is not lost, as the node owning the delivery asks Twilio for its
// status (Track). An incoming SMS cannot be dated: its key is kept
// InboundWindow, after which a replay of it would be taken again. A reply
// it posted is still posted once (its message is keyed by the MessageSid
// as long as the store keeps the incident); an ACK would acknowledge the
// person's messages of the incidents then open, and a STOP or START be
// recorded again.
//
// A node that dies between taking a Gather or an SMS and recording its key
// (one commit) takes a replay of it again; two nodes given the same
// request at the same moment, before either's record reaches the other (a
// few milliseconds, or a partition), may both take it. The cluster is
// available before consistent (relay's principle), and the memory with
// it.
const (
	// CallbackWindow is how long after its delivery's deadline a status
	// callback or Gather is taken.
	CallbackWindow = 24 * time.Hour
	// InboundWindow is how long an incoming SMS is remembered: the store's
	// default retention, 90 days.
	InboundWindow = 90 * 24 * time.Hour
	// keptPast is how long a callback's key is kept past the moment it
	// would be refused as stale, so that clocks a little apart leave no
	// gap between the two.
	keptPast = time.Hour
)

// receiptTaken reports whether d shows that a final receipt for its
// attempt sid was taken already: the attempt has its outcome, or was a
// call reopened for another call by its busy or unanswered receipt (the
// delivery is pending again, in a later round, with the SID kept).
func receiptTaken(d *relay.Delivery, sid string) bool {
	if d.ProviderID != sid {
		return false
	}
	return d.Status.Final() || (d.Status == relay.StatusPending && d.Round > 0)
}

// Keys of the memory of requests taken.
func gatherKey(deliveryID, callSID string) string {
	return "twilio:gather:" + deliveryID + ":" + callSID
}

func inboundKey(messageSID string) string { return "twilio:sms:" + messageSID }

// stale reports whether a callback about d comes too late to be taken:
// more than CallbackWindow after its deadline.
func stale(d *relay.Delivery, now time.Time) bool {
	return !d.Deadline.IsZero() && now.After(d.Deadline.Add(CallbackWindow))
}

// callbackUntil is how long the key of a Gather about d is kept.
func callbackUntil(d *relay.Delivery, now time.Time) time.Time {
	if d.Deadline.IsZero() {
		return now.Add(CallbackWindow + keptPast)
	}
	return d.Deadline.Add(CallbackWindow + keptPast)
}

// inflight makes the requests of one key on this node wait for each
// other, so that a request and its copy sent at the same moment are taken
// once here: the second finds the first's record.
type inflight struct {
	mu   sync.Mutex
	keys map[string]chan struct{}
}

// acquire waits until no other request of key is under way on this node
// and claims it; release gives it back.
func (f *inflight) acquire(ctx context.Context, key string) (release func(), err error) {
	for {
		f.mu.Lock()
		if f.keys == nil {
			f.keys = map[string]chan struct{}{}
		}
		busy, ok := f.keys[key]
		if !ok {
			done := make(chan struct{})
			f.keys[key] = done
			f.mu.Unlock()
			return func() {
				f.mu.Lock()
				delete(f.keys, key)
				f.mu.Unlock()
				close(done)
			}, nil
		}
		f.mu.Unlock()
		select {
		case <-busy:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
}

// once looks key up in the cluster's memory of requests taken, after any
// request of the same key under way here. It returns dup when the
// cluster took it already; otherwise the caller takes the request, calls
// remember if it changed state, and calls release in either case.
func (h *Hooks) once(ctx context.Context, key string) (dup bool, release func(), err error) {
	release, err = h.inflight.acquire(ctx, key)
	if err != nil {
		return false, nil, err
	}
	seen, err := h.opts.Node.Seen(key)
	if err != nil {
		release()
		return false, nil, err
	}
	if seen {
		release()
		return true, nil, nil
	}
	return false, release, nil
}

// rememberFor bounds the wait for the record of a request taken.
const rememberFor = 10 * time.Second

// remember records that the request of key was taken, until until. The
// request has changed state already: a record that fails is logged, and
// the request answered as taken, since Twilio would retry a failure and
// take it twice.
func (h *Hooks) remember(ctx context.Context, key string, until time.Time) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), rememberFor)
	defer cancel()
	if err := h.opts.Node.Remember(ctx, key, until); err != nil {
		h.log.Error("a webhook was taken but could not be recorded as taken; a replay of it would be taken again",
			"key", key, "err", err)
	}
}
