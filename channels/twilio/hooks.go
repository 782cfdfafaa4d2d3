package twilio

// Twilio's webhooks on a node: status callbacks (delivery receipts for
// messages and calls), the digits a person presses during a call, and the
// SMS people send to relay's numbers. Hooks serves them under
// relay.WebhookPrefix and hands what they say to the node through the
// small Node interface, so this package never imports the node.

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/oob-relay/relay/relay"
	"github.com/oob-relay/relay/relay/loggate"
	"github.com/oob-relay/relay/relay/secret"
)

// hookMaxForm bounds a webhook body; Twilio's are a few hundred bytes.
const hookMaxForm = 64 << 10

// InboundSMSPath is where Twilio posts the SMS people send to relay's
// numbers: set it as each number's messaging webhook, on one node, and
// as its fallback URL on another.
const InboundSMSPath = relay.WebhookPrefix + "sms"

// Node is what the webhooks need of the relay node. It is implemented by
// the core; every method is called from many goroutines at once and must
// honour ctx.
type Node interface {
	// RecordReceipt records a final status callback about a delivery and
	// returns the delivery as it is now. It returns an error wrapping
	// relay.ErrNotFound for an unknown delivery, and relay.ErrStaleReceipt
	// for a receipt about an attempt other than the delivery's latest.
	RecordReceipt(ctx context.Context, deliveryID string, r relay.Report) (*relay.Delivery, error)
	// Acknowledge records that the person of a delivery acknowledged its
	// message on channel.
	Acknowledge(ctx context.Context, deliveryID, channel string) (*relay.Ack, error)
	// Delivery returns a delivery, or an error wrapping relay.ErrNotFound.
	Delivery(id string) (*relay.Delivery, error)
	// Message returns a message, or an error wrapping relay.ErrNotFound.
	Message(id string) (*relay.Message, error)
	// Receive takes an SMS a person sent to one of relay's numbers, keyed
	// by its MessageSid so that Twilio's retry of it is taken once. It
	// returns relay.ErrUnknownSender and relay.ErrNoIncident as
	// relay.Receiver documents.
	relay.Receiver
	// Memory is the cluster's memory of requests taken, by which a
	// request that changes state is taken once (see replay.go).
	relay.Memory
}

// RollCallAnswerer is a Node that takes roll-call answers by key: when
// the webhooks' node is one, a key pressed in a call that asked a
// roll-call is the person's answer.
type RollCallAnswerer interface {
	// AnswerByDelivery records the key pressed in the call of a delivery
	// as the person's answer to the roll-call the call asked, and reports
	// whether it was one (the call asked a roll-call open for answers
	// that offers the key).
	AnswerByDelivery(ctx context.Context, deliveryID string, digit int) (bool, error)
}

// CanaryRecorder is a Node that takes the receipts of provider canaries
// (relay.Canary): when the webhooks' node is one, a status callback
// about a canary id (relay.IsCanary) is its receipt.
type CanaryRecorder interface {
	// RecordCanaryReceipt records a final status callback about a
	// canary attempt. It returns an error wrapping relay.ErrNotFound for
	// an unknown canary and relay.ErrStaleReceipt for a receipt about
	// another attempt.
	RecordCanaryReceipt(ctx context.Context, id string, r relay.Report) error
}

// HookOptions configure the webhooks.
type HookOptions struct {
	Node Node
	// PublicURL is the node's URL as Twilio sees it: the signature is
	// computed over PublicURL plus the request path.
	PublicURL string
	// CallbackURL, when set, is the URL every node of the cluster answers
	// (a load balancer, or a DNS name over every node), which the node's
	// status callbacks name so that a receipt reaches the cluster when
	// the node that sent is down: signatures over it are accepted too.
	CallbackURL string
	// AuthTokens are the auth tokens of the Twilio accounts that may call.
	AuthTokens []secret.String
	// OwnNumbers are relay's own sending numbers: a text from one of them
	// is relay talking to itself, and is never taken as a reply.
	OwnNumbers []string
	// Logger defaults to a logger that discards.
	Logger *slog.Logger
	// Registerer receives the metrics; nil means a private registry.
	Registerer prometheus.Registerer
	// Now defaults to time.Now.
	Now func() time.Time
}

// Hooks serves Twilio's webhooks on a node, mounted at
// relay.WebhookPrefix:
//
//   - POST <prefix><delivery id>/status, a message's or call's status
//     callback: a final one is recorded as the delivery's receipt;
//   - POST <prefix><delivery id>/gather, the digits pressed during a
//     call: 1 acknowledges, and the answer is TwiML to say next;
//   - POST InboundSMSPath, an SMS a person sent to one of relay's numbers:
//     the node takes it as a reply or a command, and the answer is TwiML
//     with the node's automatic answer, if any.
//
// Every request must carry a valid X-Twilio-Signature computed over
// HookOptions.PublicURL (or CallbackURL) and the request, keyed by one of
// the accounts' auth tokens; a forged or unsigned request is refused with
// 403 and changes nothing. A request that changes state is taken once by
// the cluster, whichever node it reaches and however often: the same
// request again (Twilio's retry, or a replay) is a duplicate that changes
// nothing and gets the answer Twilio expects, and a status callback or
// Gather about a delivery whose deadline passed more than CallbackWindow
// ago is refused with 403 (see replay.go). A malformed form is refused
// with 400, an unknown delivery with 404, and a failure to record is
// answered 503 so that Twilio retries. Hooks is safe for concurrent use.
type Hooks struct {
	opts     HookOptions
	log      *slog.Logger
	inflight inflight
	refused  *prometheus.CounterVec
	logGate  *loggate.Gate
	handled  *prometheus.CounterVec
}

// NewHooks returns the webhook handler, to be mounted at
// relay.WebhookPrefix. It registers relay_webhook_refused_total and
// relay_webhook_handled_total.
func NewHooks(opts HookOptions) (*Hooks, error) {
	if opts.Node == nil || opts.PublicURL == "" {
		return nil, errors.New("twilio hooks: Node and PublicURL are required")
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Registerer == nil {
		opts.Registerer = prometheus.NewRegistry()
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	opts.PublicURL = strings.TrimSuffix(opts.PublicURL, "/")
	opts.CallbackURL = strings.TrimSuffix(opts.CallbackURL, "/")
	h := &Hooks{opts: opts, log: opts.Logger, logGate: loggate.New(2, 10)}
	h.refused = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: "relay", Subsystem: "webhook", Name: "refused_total",
		Help: "Webhook requests refused, by reason (signature, malformed, unknown, stale).",
	}, []string{"reason"})
	h.handled = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: "relay", Subsystem: "webhook", Name: "handled_total",
		Help: "Webhook requests taken, by kind and outcome; a request the cluster had taken already is a duplicate.",
	}, []string{"kind", "outcome"})
	for _, reason := range []string{"signature", "malformed", "unknown", "stale"} {
		h.refused.WithLabelValues(reason)
	}
	for _, kind := range []string{"sms", "status", "gather"} {
		h.handled.WithLabelValues(kind, "duplicate")
	}
	for _, c := range []prometheus.Collector{h.refused, h.handled} {
		if err := opts.Registerer.Register(c); err != nil {
			return nil, err
		}
	}
	return h, nil
}

// ServeHTTP handles POST <prefix><delivery id>/<kind>, and incoming SMS
// at InboundSMSPath.
func (h *Hooks) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", "POST")
		http.Error(w, "webhooks take POST", http.StatusMethodNotAllowed)
		return
	}
	rest := strings.TrimPrefix(r.URL.Path, relay.WebhookPrefix)
	id, kind, ok := strings.Cut(rest, "/")
	inbound := r.URL.Path == InboundSMSPath
	if !inbound && (!ok || id == "" || (kind != relay.CallbackStatus && kind != relay.CallbackGather)) {
		h.refuse(w, http.StatusNotFound, "unknown", "no such webhook")
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, hookMaxForm)
	if err := r.ParseForm(); err != nil {
		h.refuse(w, http.StatusBadRequest, "malformed", "the body is not a form")
		return
	}
	sig := r.Header.Get("X-Twilio-Signature")
	full, signed := "", false
	for _, base := range []string{h.opts.PublicURL, h.opts.CallbackURL} {
		if base != "" && !signed {
			full = base + r.URL.RequestURI()
			signed = h.signed(full, r, sig)
		}
	}
	if !signed {
		h.refuse(w, http.StatusForbidden, "signature", "X-Twilio-Signature does not match this request")
		return
	}
	if inbound {
		h.incoming(w, r)
		return
	}
	switch kind {
	case relay.CallbackStatus:
		h.status(w, r, id)
	case relay.CallbackGather:
		h.gather(w, r, id)
	}
}

func (h *Hooks) signed(full string, r *http.Request, sig string) bool {
	if sig == "" {
		return false
	}
	for _, tok := range h.opts.AuthTokens {
		if ValidSignature(tok.Reveal(), full, r.PostForm, sig) {
			return true
		}
	}
	return false
}

// refuse counts and answers a refused request and logs it, a few lines a
// second at most: whoever posts forgeries decides how many there are.
func (h *Hooks) refuse(w http.ResponseWriter, code int, reason, msg string) {
	h.refused.WithLabelValues(reason).Inc()
	if n, ok := h.logGate.Allow(h.opts.Now()); ok {
		args := []any{"reason", reason, "status", code}
		if n > 0 {
			args = append(args, "not_logged_before", n)
		}
		h.log.Warn("webhook refused", args...)
	}
	http.Error(w, msg, code)
}

// status records a message or call receipt.
func (h *Hooks) status(w http.ResponseWriter, r *http.Request, id string) {
	rep, err := ParseStatus(r.PostForm)
	if err != nil {
		h.refuse(w, http.StatusBadRequest, "malformed", err.Error())
		return
	}
	if !rep.Final {
		h.handled.WithLabelValues("status", "progress").Inc()
		w.WriteHeader(http.StatusNoContent)
		return
	}
	if relay.IsCanary(id) {
		h.canaryStatus(w, r, id, rep)
		return
	}
	// Receipts about one delivery wait for each other here, so that each
	// finds what the one before it recorded.
	release, err := h.inflight.acquire(r.Context(), "twilio:status:"+id)
	if err != nil {
		http.Error(w, "receipt not recorded; retry", http.StatusServiceUnavailable)
		return
	}
	defer release()
	d, ok := h.delivery(w, id)
	if !ok {
		return
	}
	if receiptTaken(d, rep.SID) {
		h.handled.WithLabelValues("status", "duplicate").Inc()
		w.WriteHeader(http.StatusNoContent)
		return
	}
	d, err = h.opts.Node.RecordReceipt(r.Context(), id, relay.Report{
		ProviderID: rep.SID, Status: rep.Status, Reason: rep.Reason, Code: rep.Code, Error: rep.Error, Temporary: rep.Temporary,
	})
	switch {
	case errors.Is(err, relay.ErrNotFound):
		h.refuse(w, http.StatusNotFound, "unknown", "no such delivery")
		return
	case errors.Is(err, relay.ErrStaleReceipt):
		h.handled.WithLabelValues("status", "stale").Inc()
		w.WriteHeader(http.StatusNoContent)
		return
	case err != nil:
		h.log.Error("recording a receipt failed", "delivery", id, "err", err)
		http.Error(w, "receipt not recorded; retry", http.StatusServiceUnavailable)
		return
	}
	h.handled.WithLabelValues("status", string(rep.Status)).Inc()
	h.log.Info("receipt recorded", "delivery", id, "status", d.Status, "code", rep.Code)
	w.WriteHeader(http.StatusNoContent)
}

// delivery returns the delivery a callback is about, or answers the
// request: 404 for an unknown delivery, 403 for one whose deadline passed
// more than CallbackWindow ago, 503 when it cannot be read.
func (h *Hooks) delivery(w http.ResponseWriter, id string) (*relay.Delivery, bool) {
	d, err := h.opts.Node.Delivery(id)
	switch {
	case errors.Is(err, relay.ErrNotFound):
		h.refuse(w, http.StatusNotFound, "unknown", "no such delivery")
		return nil, false
	case err != nil:
		h.log.Error("reading a delivery for a webhook failed", "delivery", id, "err", err)
		http.Error(w, "try again", http.StatusServiceUnavailable)
		return nil, false
	case stale(d, h.opts.Now()):
		h.refuse(w, http.StatusForbidden, "stale", "this request is about a delivery whose deadline passed long ago")
		return nil, false
	}
	return d, true
}

// gather records an acknowledgement when the person pressed 1, or the
// answer to the roll-call the call asked when the key is one of its
// options (which acknowledges too), and answers the call with what to say
// next.
func (h *Hooks) gather(w http.ResponseWriter, r *http.Request, id string) {
	callSID, digits, err := ParseGather(r.PostForm)
	if err != nil {
		h.refuse(w, http.StatusBadRequest, "malformed", err.Error())
		return
	}
	d, ok := h.delivery(w, id)
	if !ok {
		return
	}
	lang := relay.DefaultLang
	if m, err := h.opts.Node.Message(d.MessageID); err == nil {
		if rc, ok := m.Recipient(d.Person); ok {
			lang = rc.Person.LangOrDefault()
		}
	}
	// A key that acknowledges (1) or may answer a roll-call the call
	// asked is taken once per call, like an acknowledgement: a replayed
	// Gather can neither acknowledge again nor bring back an answer the
	// person has since changed.
	ra, answers := h.opts.Node.(RollCallAnswerer)
	answerable := answers && len(digits) == 1 && digits[0] >= '1' && digits[0] <= '9'
	acked := strings.HasPrefix(digits, "1")
	outcome := ""
	if acked || answerable {
		key := gatherKey(id, callSID)
		dup, release, err := h.once(r.Context(), key)
		if err != nil {
			h.log.Error("looking up an acknowledgement among the requests taken failed", "delivery", id, "err", err)
			http.Error(w, "try again", http.StatusServiceUnavailable)
			return
		}
		if dup {
			acked, outcome = true, "duplicate" // only a key that acknowledged is remembered
		} else {
			defer release()
			answered := false
			if answerable {
				if answered, err = ra.AnswerByDelivery(r.Context(), id, int(digits[0]-'0')); err != nil {
					h.log.Error("recording a roll-call answer failed", "delivery", id, "err", err)
					http.Error(w, "try again", http.StatusServiceUnavailable)
					return
				}
				if answered {
					h.log.Info("roll-call answered by phone", "delivery", id, "person", d.Person, "digit", digits)
				}
			}
			if acked = acked || answered; acked {
				if _, err := h.opts.Node.Acknowledge(r.Context(), id, relay.ChannelVoice); err != nil {
					h.log.Error("recording an acknowledgement failed", "delivery", id, "err", err)
					http.Error(w, "try again", http.StatusServiceUnavailable)
					return
				}
				h.remember(r.Context(), key, callbackUntil(d, h.opts.Now()))
				h.log.Info("acknowledged by phone", "delivery", id, "person", d.Person)
			}
		}
	}
	if outcome == "" {
		outcome = fmt.Sprint(acked)
	}
	h.handled.WithLabelValues("gather", outcome).Inc()
	w.Header().Set("Content-Type", "text/xml; charset=utf-8")
	fmt.Fprint(w, RenderGatherReply(lang, acked))
}

// incoming takes an SMS a person sent to one of relay's numbers and
// answers with TwiML: the node's automatic answer, if any.
func (h *Hooks) incoming(w http.ResponseWriter, r *http.Request) {
	sms, err := ParseIncoming(r.PostForm)
	if err != nil {
		h.refuse(w, http.StatusBadRequest, "malformed", err.Error())
		return
	}
	if slices.Contains(h.opts.OwnNumbers, sms.From) {
		h.handled.WithLabelValues("sms", "own-number").Inc()
		h.log.Warn("an SMS from one of relay's own numbers was ignored", "number", sms.From)
		writeMessageReply(w, "")
		return
	}
	key := inboundKey(sms.MessageSID)
	dup, release, err := h.once(r.Context(), key)
	if err != nil {
		h.log.Error("looking up an incoming SMS among the requests taken failed", "message", sms.MessageSID, "err", err)
		http.Error(w, "not taken; retry", http.StatusServiceUnavailable)
		return
	}
	if dup {
		// Taken already, here or on another node: Twilio's retry, the
		// number's fallback URL, or a replay. The answer, if there was
		// one, went with the first.
		h.handled.WithLabelValues("sms", "duplicate").Inc()
		writeMessageReply(w, "")
		return
	}
	defer release()
	ans, err := h.opts.Node.Receive(r.Context(), &relay.Inbound{Channel: relay.ChannelSMS, From: sms.From, To: sms.To,
		Text: sms.Body, ID: sms.MessageSID, At: h.opts.Now()})
	outcome := "posted"
	switch {
	case errors.Is(err, relay.ErrUnknownSender):
		outcome = "unknown-sender"
		h.log.Info("an SMS from a number on no roster entry was not passed on", "message", sms.MessageSID)
	case errors.Is(err, relay.ErrNoIncident):
		outcome = "no-incident"
		h.log.Info("an SMS answered no open incident", "message", sms.MessageSID, "err", err)
	case err != nil:
		h.log.Error("taking an incoming SMS failed", "message", sms.MessageSID, "err", err)
		http.Error(w, "not taken; retry", http.StatusServiceUnavailable)
		return
	case len(ans.Acked) > 0:
		outcome = "acked"
	case ans.Message == nil:
		outcome = "command"
	case ans.Message.Reply != nil && ans.Message.Reply.Withheld != "":
		outcome = "withheld" // recorded, sent to nobody
	}
	h.remember(r.Context(), key, h.opts.Now().Add(InboundWindow))
	h.handled.WithLabelValues("sms", outcome).Inc()
	text := ""
	if ans != nil {
		text = ans.Reply
	}
	writeMessageReply(w, text)
}

// writeMessageReply answers an incoming SMS with TwiML that texts back
// text, or nothing when text is empty.
func writeMessageReply(w http.ResponseWriter, text string) {
	w.Header().Set("Content-Type", "text/xml; charset=utf-8")
	fmt.Fprint(w, RenderMessageReply(text))
}

// canaryStatus records the receipt of a provider canary.
func (h *Hooks) canaryStatus(w http.ResponseWriter, r *http.Request, id string, rep Report) {
	cr, ok := h.opts.Node.(CanaryRecorder)
	if !ok {
		h.refuse(w, http.StatusNotFound, "unknown", "no such delivery")
		return
	}
	err := cr.RecordCanaryReceipt(r.Context(), id, relay.Report{ProviderID: rep.SID, Status: rep.Status, Reason: rep.Reason,
		Code: rep.Code, Error: rep.Error, Temporary: rep.Temporary})
	switch {
	case errors.Is(err, relay.ErrNotFound):
		h.refuse(w, http.StatusNotFound, "unknown", "no such canary")
		return
	case errors.Is(err, relay.ErrStaleReceipt):
		h.handled.WithLabelValues("status", "stale").Inc()
	case err != nil:
		h.log.Error("recording a canary receipt failed", "canary", id, "err", err)
		http.Error(w, "receipt not recorded; retry", http.StatusServiceUnavailable)
		return
	default:
		h.handled.WithLabelValues("status", string(rep.Status)).Inc()
		h.log.Info("canary receipt recorded", "canary", id, "status", rep.Status, "code", rep.Code)
	}
	w.WriteHeader(http.StatusNoContent)
}
