// Package hooks serves the webhooks providers call on a node: Twilio's
// status callbacks (delivery receipts for messages and calls) and the
// digits a person presses during a call. Every request must carry a valid
// X-Twilio-Signature computed over the node's public URL; a forged,
// unsigned or replayed request is refused with 403 and changes nothing.
package hooks

import (
	"crypto/sha256"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/oob-relay/relay/channels/twilio"
	"github.com/oob-relay/relay/relay"
	"github.com/oob-relay/relay/relay/node"
	"github.com/oob-relay/relay/relay/secret"
)

// maxForm bounds a webhook body; Twilio's are a few hundred bytes.
const maxForm = 64 << 10

// Options configure the webhooks.
type Options struct {
	Node *node.Node
	// PublicURL is the node's URL as providers see it: the signature is
	// computed over PublicURL plus the request path.
	PublicURL string
	// AuthTokens are the auth tokens of the Twilio accounts that may call.
	AuthTokens []secret.String
	// OwnNumbers are relay's own sending numbers: a text from one of them
	// is relay talking to itself, and is never taken as a reply.
	OwnNumbers []string
	Logger     *slog.Logger
	Registerer prometheus.Registerer
	Now        func() time.Time
}

// Hooks is the webhook handler.
type Hooks struct {
	opts    Options
	log     *slog.Logger
	replays *seen
	refused *prometheus.CounterVec
	handled *prometheus.CounterVec
}

// New returns the webhook handler, to be mounted at node.WebhookPrefix.
func New(opts Options) (*Hooks, error) {
	if opts.Node == nil || opts.PublicURL == "" {
		return nil, errors.New("hooks: Node and PublicURL are required")
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
	h := &Hooks{opts: opts, log: opts.Logger, replays: newSeen(24*time.Hour, 100_000)}
	h.refused = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: "relay", Subsystem: "webhook", Name: "refused_total",
		Help: "Webhook requests refused, by reason (signature, replay, malformed, unknown).",
	}, []string{"reason"})
	h.handled = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: "relay", Subsystem: "webhook", Name: "handled_total",
		Help: "Webhook requests taken, by kind and outcome.",
	}, []string{"kind", "outcome"})
	for _, c := range []prometheus.Collector{h.refused, h.handled} {
		if err := opts.Registerer.Register(c); err != nil {
			return nil, err
		}
	}
	return h, nil
}

// InboundSMSPath is where Twilio posts the SMS people send to relay's
// numbers: set it as each number's messaging webhook, on one node, and
// as its fallback URL on another.
const InboundSMSPath = node.WebhookPrefix + "sms"

// ServeHTTP handles POST <prefix><delivery id>/<kind>, and incoming SMS
// at InboundSMSPath.
func (h *Hooks) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", "POST")
		http.Error(w, "webhooks take POST", http.StatusMethodNotAllowed)
		return
	}
	rest := strings.TrimPrefix(r.URL.Path, node.WebhookPrefix)
	id, kind, ok := strings.Cut(rest, "/")
	inbound := r.URL.Path == InboundSMSPath
	if !inbound && (!ok || id == "" || (kind != relay.CallbackStatus && kind != relay.CallbackGather)) {
		h.refuse(w, http.StatusNotFound, "unknown", "no such webhook")
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, maxForm)
	if err := r.ParseForm(); err != nil {
		h.refuse(w, http.StatusBadRequest, "malformed", "the body is not a form")
		return
	}
	sig := r.Header.Get("X-Twilio-Signature")
	full := h.opts.PublicURL + r.URL.RequestURI()
	if !h.signed(full, r, sig) {
		h.refuse(w, http.StatusForbidden, "signature", "X-Twilio-Signature does not match this request")
		return
	}
	if inbound {
		// A retried incoming SMS posts once whatever happens here: the
		// node keys it by its MessageSid.
		h.incoming(w, r)
		return
	}
	if !h.replays.first(sha256.Sum256([]byte(sig+"\x00"+full+"\x00"+r.PostForm.Encode())), h.opts.Now()) {
		h.refuse(w, http.StatusForbidden, "replay", "this request was already received")
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
		if twilio.ValidSignature(tok.Reveal(), full, r.PostForm, sig) {
			return true
		}
	}
	return false
}

func (h *Hooks) refuse(w http.ResponseWriter, code int, reason, msg string) {
	h.refused.WithLabelValues(reason).Inc()
	h.log.Warn("webhook refused", "reason", reason, "status", code)
	http.Error(w, msg, code)
}

// status records a message or call receipt.
func (h *Hooks) status(w http.ResponseWriter, r *http.Request, id string) {
	rep, err := twilio.ParseStatus(r.PostForm)
	if err != nil {
		h.refuse(w, http.StatusBadRequest, "malformed", err.Error())
		return
	}
	if !rep.Final {
		h.handled.WithLabelValues("status", "progress").Inc()
		w.WriteHeader(http.StatusNoContent)
		return
	}
	d, err := h.opts.Node.RecordReceipt(r.Context(), id, relay.Report{
		ProviderID: rep.SID, Status: rep.Status, Reason: rep.Reason, Code: rep.Code, Error: rep.Error, Temporary: rep.Temporary,
	})
	switch {
	case errors.Is(err, relay.ErrNotFound):
		h.refuse(w, http.StatusNotFound, "unknown", "no such delivery")
		return
	case errors.Is(err, node.ErrStaleReceipt):
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

// gather records an acknowledgement when the person pressed 1 and answers
// the call with what to say next.
func (h *Hooks) gather(w http.ResponseWriter, r *http.Request, id string) {
	_, digits, err := twilio.ParseGather(r.PostForm)
	if err != nil {
		h.refuse(w, http.StatusBadRequest, "malformed", err.Error())
		return
	}
	d, err := h.opts.Node.Store().Delivery(id)
	if errors.Is(err, relay.ErrNotFound) {
		h.refuse(w, http.StatusNotFound, "unknown", "no such delivery")
		return
	}
	if err != nil {
		http.Error(w, "try again", http.StatusServiceUnavailable)
		return
	}
	lang := relay.DefaultLang
	if m, err := h.opts.Node.Store().Message(d.MessageID); err == nil {
		if rc, ok := m.Recipient(d.Person); ok {
			lang = rc.Person.LangOrDefault()
		}
	}
	acked := strings.HasPrefix(digits, "1")
	if acked {
		if _, err := h.opts.Node.Acknowledge(r.Context(), id, relay.ChannelVoice); err != nil {
			h.log.Error("recording an acknowledgement failed", "delivery", id, "err", err)
			http.Error(w, "try again", http.StatusServiceUnavailable)
			return
		}
		h.log.Info("acknowledged by phone", "delivery", id, "person", d.Person)
	}
	h.handled.WithLabelValues("gather", fmt.Sprint(acked)).Inc()
	w.Header().Set("Content-Type", "text/xml; charset=utf-8")
	fmt.Fprint(w, twilio.RenderGatherReply(lang, acked))
}

// seen remembers what it was shown for a while, to refuse replays.
type seen struct {
	mu    sync.Mutex
	ttl   time.Duration
	max   int
	at    map[[32]byte]time.Time
	order [][32]byte
}

func newSeen(ttl time.Duration, max int) *seen {
	return &seen{ttl: ttl, max: max, at: map[[32]byte]time.Time{}}
}

// first reports whether k is new, and remembers it.
func (s *seen) first(k [32]byte, now time.Time) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	for len(s.order) > 0 && (len(s.order) >= s.max || now.Sub(s.at[s.order[0]]) > s.ttl) {
		delete(s.at, s.order[0])
		s.order = s.order[1:]
	}
	if _, dup := s.at[k]; dup {
		return false
	}
	s.at[k] = now
	s.order = append(s.order, k)
	return true
}
