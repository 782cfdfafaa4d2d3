package hooks

import (
	"errors"
	"fmt"
	"net/http"
	"slices"

	"github.com/oob-relay/relay/channels/twilio"
	"github.com/oob-relay/relay/relay"
)

// incoming takes an SMS a person sent to one of relay's numbers and
// answers with TwiML: the node's automatic answer, if any.
func (h *Hooks) incoming(w http.ResponseWriter, r *http.Request) {
	sms, err := twilio.ParseIncoming(r.PostForm)
	if err != nil {
		h.refuse(w, http.StatusBadRequest, "malformed", err.Error())
		return
	}
	if slices.Contains(h.opts.OwnNumbers, sms.From) {
		h.handled.WithLabelValues("sms", "own-number").Inc()
		h.log.Warn("an SMS from one of relay's own numbers was ignored", "number", sms.From)
		reply(w, "")
		return
	}
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
	}
	h.handled.WithLabelValues("sms", outcome).Inc()
	text := ""
	if ans != nil {
		text = ans.Reply
	}
	reply(w, text)
}

func reply(w http.ResponseWriter, text string) {
	w.Header().Set("Content-Type", "text/xml; charset=utf-8")
	fmt.Fprint(w, twilio.RenderMessageReply(text))
}
