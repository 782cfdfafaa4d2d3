package emulator

import (
	"context"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
)

// callResource is Twilio's JSON for a Call.
type callResource struct {
	AccountSID      string            `json:"account_sid"`
	AnsweredBy      *string           `json:"answered_by"`
	APIVersion      string            `json:"api_version"`
	CallerName      *string           `json:"caller_name"`
	DateCreated     string            `json:"date_created"`
	DateUpdated     string            `json:"date_updated"`
	Direction       string            `json:"direction"`
	Duration        *string           `json:"duration"`
	EndTime         *string           `json:"end_time"`
	ForwardedFrom   *string           `json:"forwarded_from"`
	From            string            `json:"from"`
	FromFormatted   string            `json:"from_formatted"`
	GroupSID        *string           `json:"group_sid"`
	ParentCallSID   *string           `json:"parent_call_sid"`
	PhoneNumberSID  *string           `json:"phone_number_sid"`
	Price           *string           `json:"price"`
	PriceUnit       string            `json:"price_unit"`
	QueueTime       string            `json:"queue_time"`
	SID             string            `json:"sid"`
	StartTime       *string           `json:"start_time"`
	Status          string            `json:"status"`
	SubresourceURIs map[string]string `json:"subresource_uris"`
	To              string            `json:"to"`
	ToFormatted     string            `json:"to_formatted"`
	TrunkSID        *string           `json:"trunk_sid"`
	URI             string            `json:"uri"`
}

// callEvents are the StatusCallbackEvent values Twilio accepts.
var callEvents = []string{"initiated", "ringing", "answered", "completed"}

func (e *Emulator) createCall(q *request) answer {
	f := q.form
	to, from := f.Get("To"), f.Get("From")
	twiml, target, app := f.Get("Twiml"), f.Get("Url"), f.Get("ApplicationSid")
	switch {
	case to == "":
		return twilioError(http.StatusBadRequest, 21201, "No 'To' number is specified")
	case !e164.MatchString(to):
		return twilioError(http.StatusBadRequest, 21211, "Invalid 'To' Phone Number: %s", to)
	case from == "":
		return twilioError(http.StatusBadRequest, 21213, "No 'From' number is specified")
	case !e164.MatchString(from):
		return twilioError(http.StatusBadRequest, 21212, "Invalid 'From' Phone Number: %s", from)
	case twiml == "" && target == "" && app == "":
		return twilioError(http.StatusBadRequest, 21205, "Url parameter is required.")
	case target != "" && !validCallback(target):
		return twilioError(http.StatusBadRequest, 21205, "Url is not a valid URL: %s", target)
	}
	if twiml != "" {
		if err := checkTwiml(twiml); err != nil {
			return twilioError(http.StatusBadRequest, 12100, "Document parse failure: %v", err)
		}
	}
	callback := f.Get("StatusCallback")
	if callback != "" && !validCallback(callback) {
		return twilioError(http.StatusBadRequest, 21609, "Invalid StatusCallback url: %s", callback)
	}
	var events []string
	for _, v := range f["StatusCallbackEvent"] {
		for _, ev := range strings.Fields(v) {
			if !slices.Contains(callEvents, ev) {
				return twilioError(http.StatusBadRequest, 20422, "Invalid parameter: StatusCallbackEvent %s", ev)
			}
			events = append(events, ev)
		}
	}
	if len(events) == 0 {
		events = []string{"completed"}
	}
	timeout := 60
	if v := f.Get("Timeout"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 600 {
			return twilioError(http.StatusBadRequest, 20422, "Invalid parameter: Timeout %s", v)
		}
		timeout = n
	}

	e.mu.Lock()
	code, rejected := e.faults.reject[to]
	outcome, ok := e.faults.calls[to]
	if !ok {
		outcome = CallCompleted
	}
	digits, lost := e.faults.digits[to], e.faults.lost[to]
	e.mu.Unlock()
	if rejected {
		return twilioError(http.StatusBadRequest, code, "%s", rejections[code])
	}

	now := e.now()
	c := &Call{
		SID:                  e.sid("CA"),
		AccountSID:           q.account,
		To:                   to,
		From:                 from,
		Status:               "queued",
		Twiml:                twiml,
		URL:                  target,
		Method:               strings.ToUpper(f.Get("Method")),
		Document:             twiml,
		StatusCallback:       callback,
		StatusCallbackEvents: events,
		Timeout:              timeout,
		Created:              now,
		Updated:              now,
		Form:                 cloneValues(f),
	}
	e.mu.Lock()
	e.calls = append(e.calls, c)
	e.notifyLocked()
	res := callJSON(c)
	snap := c.clone()
	e.mu.Unlock()

	e.log.Debug("twilio emulator accepted a call", "sid", c.SID, "to", to)
	if e.opts.OnCall != nil {
		e.hook(func() { e.opts.OnCall(snap) })
	}
	e.goTracked(func() { e.ring(c, outcome, digits, lost) })
	return answer{status: http.StatusCreated, body: res}
}

func (e *Emulator) fetchCall(q *request) answer {
	e.mu.Lock()
	defer e.mu.Unlock()
	c := e.callLocked(resourceSID(q))
	if c == nil || c.AccountSID != q.account {
		return twilioError(http.StatusNotFound, 20404, "The requested resource %s was not found", q.r.URL.Path)
	}
	return answer{status: http.StatusOK, body: callJSON(c)}
}

// callJSON renders c as Twilio does; e.mu must be held.
func callJSON(c *Call) *callResource {
	sub := map[string]string{}
	for _, k := range []string{"Notifications", "Recordings", "Payments", "Events", "Siprec", "Streams",
		"Transcriptions", "UserDefinedMessageSubscriptions", "UserDefinedMessages"} {
		name := strings.ToLower(k[:1]) + k[1:]
		sub[snake(name)] = uri(c.AccountSID, "Calls", c.SID+"/"+k)
	}
	res := &callResource{
		AccountSID:      c.AccountSID,
		APIVersion:      APIVersion,
		DateCreated:     c.Created.Format(time.RFC1123Z),
		DateUpdated:     c.Updated.Format(time.RFC1123Z),
		Direction:       "outbound-api",
		From:            c.From,
		FromFormatted:   c.From,
		PriceUnit:       "USD",
		QueueTime:       "0",
		SID:             c.SID,
		Status:          c.Status,
		SubresourceURIs: sub,
		To:              c.To,
		ToFormatted:     c.To,
		URI:             uri(c.AccountSID, "Calls", c.SID),
	}
	if !c.Started.IsZero() {
		start := c.Started.Format(time.RFC1123Z)
		res.StartTime = &start
	}
	if Final(c.Status) {
		d, end := strconv.Itoa(c.Duration), c.Updated.Format(time.RFC1123Z)
		res.Duration, res.EndTime = &d, &end
	}
	return res
}

// snake turns "userDefinedMessages" into "user_defined_messages".
func snake(s string) string {
	var b strings.Builder
	for _, r := range s {
		if r >= 'A' && r <= 'Z' {
			b.WriteByte('_')
			r += 'a' - 'A'
		}
		b.WriteRune(r)
	}
	return b.String()
}

// checkTwiml reports whether doc is well-formed XML.
func checkTwiml(doc string) error {
	dec := xml.NewDecoder(strings.NewReader(doc))
	for {
		if _, err := dec.Token(); err == io.EOF {
			return nil
		} else if err != nil {
			return err
		}
	}
}

// gather finds the first <Gather> verb of a TwiML document and returns its
// action and method attributes.
func gather(doc string) (action, method string, ok bool) {
	dec := xml.NewDecoder(strings.NewReader(doc))
	for {
		tok, err := dec.Token()
		if err != nil {
			return "", "", false
		}
		el, isStart := tok.(xml.StartElement)
		if !isStart || el.Name.Local != "Gather" {
			continue
		}
		for _, a := range el.Attr {
			switch a.Name.Local {
			case "action":
				action = a.Value
			case "method":
				method = strings.ToUpper(a.Value)
			}
		}
		return action, method, true
	}
}

// resolve returns ref resolved against base, as Twilio resolves relative
// action URLs against the document's URL.
func resolve(base, ref string) (string, error) {
	r, err := url.Parse(ref)
	if err != nil {
		return "", err
	}
	if r.IsAbs() {
		return ref, nil
	}
	if base == "" {
		return "", errors.New("relative URL in a document that has no URL")
	}
	b, err := url.Parse(base)
	if err != nil {
		return "", err
	}
	return b.ResolveReference(r).String(), nil
}

// Press makes the person on call sid press digits into the call's first
// <Gather> now, as PressDigits does while the call is answered: the
// emulator posts the signed Gather callback with Digits to the Gather's
// action URL and returns what it answered. The call must have run its
// document (answered) and the document must gather.
func (e *Emulator) Press(ctx context.Context, sid, digits string) (Reply, error) {
	e.mu.Lock()
	c := e.callLocked(sid)
	if c == nil {
		e.mu.Unlock()
		return Reply{}, fmt.Errorf("emulator: no call %s", sid)
	}
	params := e.callParamsLocked(c)
	doc, target, account := c.Document, c.URL, c.AccountSID
	e.mu.Unlock()
	action, method, ok := gather(doc)
	if !ok {
		return Reply{}, fmt.Errorf("emulator: call %s has no Gather to press keys into", sid)
	}
	if action == "" {
		action = target
	}
	action, err := resolve(target, action)
	if err != nil || action == "" {
		return Reply{}, fmt.Errorf("emulator: call %s: no Gather action URL: %v", sid, err)
	}
	if !e.track() {
		return Reply{}, errors.New("emulator: closed")
	}
	defer e.wg.Done()
	params.Set("CallStatus", "in-progress")
	params.Set("Digits", digits)
	params.Set("FinishedOnKey", "")
	params.Set("msg", "Gather End")
	reply, err := e.post(ctx, method, action, account, params)
	e.mu.Lock()
	c.Digits, c.GatherStatus, c.GatherReply = digits, reply.Status, reply.Body
	e.notifyLocked()
	e.mu.Unlock()
	return reply, err
}
