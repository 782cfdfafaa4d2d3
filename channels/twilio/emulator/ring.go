package emulator

import (
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"time"
)

// callStep is one status change of a call: the StatusCallbackEvent it is
// reported under and the CallStatus it reports.
type callStep struct {
	event  string
	status string
}

// ring moves a call through its statuses: initiated, ringing, answered
// (fetching its document and pressing scripted digits into a Gather), and
// completed, or an early end busy, no-answer or failed. Each step whose
// event the call asked for is posted to its status callback.
func (e *Emulator) ring(c *Call, outcome CallOutcome, digits string, lost bool) {
	var steps []callStep
	switch outcome {
	case CallBusy:
		steps = []callStep{{"initiated", "initiated"}, {"completed", "busy"}}
	case CallNoAnswer:
		steps = []callStep{{"initiated", "initiated"}, {"ringing", "ringing"}, {"completed", "no-answer"}}
	case CallFailed:
		steps = []callStep{{"completed", "failed"}}
	default:
		steps = []callStep{{"initiated", "initiated"}, {"ringing", "ringing"}, {"answered", "in-progress"}, {"completed", "completed"}}
	}
	var answered time.Time
	for _, st := range steps {
		if !e.sleep(e.ctx, e.opts.CallbackDelay) {
			return
		}
		now := e.now()
		e.mu.Lock()
		if c.held {
			e.mu.Unlock()
			return
		}
		if st.status != "initiated" {
			c.Status = st.status
		} else {
			c.Started = now
		}
		c.Updated = now
		switch {
		case st.status == "in-progress":
			answered = now
		case st.status == "completed":
			c.Duration = max(1, int((now.Sub(answered)+time.Second-1)/time.Second))
		}
		params := e.callParamsLocked(c)
		params.Set("CallStatus", st.status)
		params.Set("CallbackSource", "call-progress-events")
		params.Set("SequenceNumber", strconv.Itoa(c.Callbacks))
		params.Set("Timestamp", now.Format(time.RFC1123Z))
		if st.event == "completed" {
			params.Set("CallDuration", strconv.Itoa(c.Duration))
		}
		report := c.StatusCallback != "" && !lost && slices.Contains(c.StatusCallbackEvents, st.event)
		e.notifyLocked()
		e.mu.Unlock()

		if report {
			if _, err := e.post(e.ctx, http.MethodPost, c.StatusCallback, c.AccountSID, params); err != nil {
				e.log.Warn("twilio emulator could not post a call status callback", "sid", c.SID, "err", err)
			}
			e.mu.Lock()
			c.Callbacks++
			e.notifyLocked()
			e.mu.Unlock()
		}
		if st.status == "in-progress" {
			e.answer(c, digits)
		}
	}
}

// answer runs an answered call's document: it fetches it from the call's
// URL when there is no Twiml, and presses the scripted digits into its
// first Gather.
func (e *Emulator) answer(c *Call, digits string) {
	e.mu.Lock()
	params := e.callParamsLocked(c)
	doc, target, method := c.Document, c.URL, c.Method
	e.mu.Unlock()
	params.Set("CallStatus", "in-progress")

	if doc == "" && target != "" {
		reply, err := e.post(e.ctx, method, target, c.AccountSID, params)
		if err != nil {
			e.log.Warn("twilio emulator could not fetch a call's TwiML", "sid", c.SID, "url", target, "err", err)
			return
		}
		doc = reply.Body
		e.mu.Lock()
		c.Document = doc
		e.notifyLocked()
		e.mu.Unlock()
	}
	if digits == "" {
		return
	}
	action, gatherMethod, ok := gather(doc)
	if !ok {
		e.log.Debug("twilio emulator has digits to press but the call has no Gather", "sid", c.SID)
		return
	}
	if action == "" {
		action = target
	}
	action, err := resolve(target, action)
	if err != nil || action == "" {
		e.log.Warn("twilio emulator cannot find a Gather action URL", "sid", c.SID, "err", err)
		return
	}
	params.Set("Digits", digits)
	params.Set("FinishedOnKey", "")
	params.Set("msg", "Gather End")
	if !e.sleep(e.ctx, e.opts.CallbackDelay) {
		return
	}
	reply, err := e.post(e.ctx, gatherMethod, action, c.AccountSID, params)
	if err != nil {
		e.log.Warn("twilio emulator could not post a Gather callback", "sid", c.SID, "url", action, "err", err)
	}
	e.mu.Lock()
	c.Digits, c.GatherStatus, c.GatherReply = digits, reply.Status, reply.Body
	e.notifyLocked()
	e.mu.Unlock()
}

// callParamsLocked are the parameters common to a call's webhooks; e.mu
// must be held.
func (e *Emulator) callParamsLocked(c *Call) url.Values {
	return url.Values{
		"AccountSid": {c.AccountSID},
		"ApiVersion": {APIVersion},
		"CallSid":    {c.SID},
		"CallStatus": {c.Status},
		"Called":     {c.To},
		"Caller":     {c.From},
		"Direction":  {"outbound-api"},
		"From":       {c.From},
		"To":         {c.To},
	}
}
