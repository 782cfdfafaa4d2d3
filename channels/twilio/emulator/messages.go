package emulator

import (
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/oob-relay/relay/channels/twilio/segment"
)

var (
	e164           = regexp.MustCompile(`^\+[1-9][0-9]{6,14}$`)
	alphaSenderID  = regexp.MustCompile(`^[A-Za-z0-9 ]{0,10}[A-Za-z][A-Za-z0-9 ]{0,10}$`)
	serviceSIDForm = regexp.MustCompile(`^MG[0-9a-fA-F]{32}$`)
)

// Twilio's limits on a message.
const (
	maxBodyChars      = 1600
	maxValidityPeriod = 36000
)

// messageResource is Twilio's JSON for a Message.
type messageResource struct {
	AccountSID          string            `json:"account_sid"`
	APIVersion          string            `json:"api_version"`
	Body                string            `json:"body"`
	DateCreated         string            `json:"date_created"`
	DateSent            *string           `json:"date_sent"`
	DateUpdated         string            `json:"date_updated"`
	Direction           string            `json:"direction"`
	ErrorCode           *int              `json:"error_code"`
	ErrorMessage        *string           `json:"error_message"`
	From                *string           `json:"from"`
	MessagingServiceSID *string           `json:"messaging_service_sid"`
	NumMedia            string            `json:"num_media"`
	NumSegments         string            `json:"num_segments"`
	Price               *string           `json:"price"`
	PriceUnit           string            `json:"price_unit"`
	SID                 string            `json:"sid"`
	Status              string            `json:"status"`
	SubresourceURIs     map[string]string `json:"subresource_uris"`
	To                  string            `json:"to"`
	URI                 string            `json:"uri"`
}

func (e *Emulator) createMessage(q *request) answer {
	f := q.form
	to, from, service, body := f.Get("To"), f.Get("From"), f.Get("MessagingServiceSid"), f.Get("Body")
	switch {
	case to == "":
		return twilioError(http.StatusBadRequest, 21604, "A 'To' phone number is required.")
	case !e164.MatchString(to):
		return twilioError(http.StatusBadRequest, 21211, "Invalid 'To' Phone Number: %s", to)
	case from == "" && service == "":
		return twilioError(http.StatusBadRequest, 21603, "A 'From' phone number is required.")
	case from != "" && !e164.MatchString(from) && !alphaSenderID.MatchString(from):
		return twilioError(http.StatusBadRequest, 21212, "Invalid 'From' Phone Number: %s", from)
	case service != "" && !serviceSIDForm.MatchString(service):
		return twilioError(http.StatusBadRequest, 21701, "The Messaging Service Sid %s is invalid.", service)
	case body == "" && f.Get("MediaUrl") == "" && f.Get("ContentSid") == "":
		return twilioError(http.StatusBadRequest, 21602, "Message body is required.")
	case utf8.RuneCountInString(body) > maxBodyChars:
		return twilioError(http.StatusBadRequest, 21617, "The concatenated message body exceeds the %d character limit.", maxBodyChars)
	}
	validity := 0
	if v := f.Get("ValidityPeriod"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > maxValidityPeriod {
			return twilioError(http.StatusBadRequest, 21624, "Invalid validity period value: %s", v)
		}
		validity = n
	}
	callback := f.Get("StatusCallback")
	if callback != "" && !validCallback(callback) {
		return twilioError(http.StatusBadRequest, 21609, "Invalid StatusCallback url: %s", callback)
	}

	e.mu.Lock()
	code, rejected := e.faults.reject[to]
	delivery := e.faults.delivery[to]
	lost := e.faults.lost[to]
	e.mu.Unlock()
	if rejected {
		return twilioError(http.StatusBadRequest, code, "%s", rejections[code])
	}

	now := e.now()
	seg := segment.Count(body)
	m := &Message{
		SID:                 e.sid("SM"),
		AccountSID:          q.account,
		To:                  to,
		From:                from,
		MessagingServiceSID: service,
		Body:                body,
		Direction:           DirectionAPI,
		Status:              "queued",
		Segments:            seg.Segments,
		Encoding:            seg.Encoding,
		ValidityPeriod:      validity,
		StatusCallback:      callback,
		Created:             now,
		Updated:             now,
		Form:                cloneValues(f),
	}
	if from == "" {
		// Twilio picks the sender from the service's pool later, and
		// counts segments only then.
		m.Status = "accepted"
		m.Segments = 0
	}
	e.mu.Lock()
	e.messages = append(e.messages, m)
	e.notifyLocked()
	res := messageJSON(m)
	snap := m.clone()
	e.mu.Unlock()

	e.log.Debug("twilio emulator accepted a message", "sid", m.SID, "to", to, "segments", seg.Segments)
	if e.opts.OnMessage != nil {
		e.hook(func() { e.opts.OnMessage(snap) })
	}
	e.goTracked(func() { e.deliver(m, delivery, lost) })
	return answer{status: http.StatusCreated, body: res}
}

func (e *Emulator) fetchMessage(q *request) answer {
	e.mu.Lock()
	defer e.mu.Unlock()
	m := e.messageLocked(resourceSID(q))
	if m == nil || m.AccountSID != q.account {
		return twilioError(http.StatusNotFound, 20404, "The requested resource %s was not found", q.r.URL.Path)
	}
	return answer{status: http.StatusOK, body: messageJSON(m)}
}

// messageJSON renders m as Twilio does; e.mu must be held.
func messageJSON(m *Message) *messageResource {
	created := m.Created.Format(time.RFC1123Z)
	res := &messageResource{
		AccountSID:      m.AccountSID,
		APIVersion:      APIVersion,
		Body:            m.Body,
		DateCreated:     created,
		DateUpdated:     m.Updated.Format(time.RFC1123Z),
		Direction:       m.Direction,
		NumMedia:        "0",
		NumSegments:     strconv.Itoa(m.Segments),
		PriceUnit:       "USD",
		SID:             m.SID,
		Status:          m.Status,
		To:              m.To,
		URI:             uri(m.AccountSID, "Messages", m.SID),
		SubresourceURIs: map[string]string{"media": uri(m.AccountSID, "Messages", m.SID+"/Media")},
	}
	if !m.Sent.IsZero() {
		sent := m.Sent.Format(time.RFC1123Z)
		res.DateSent = &sent
	}
	if m.From != "" {
		res.From = &m.From
	}
	if m.MessagingServiceSID != "" {
		res.MessagingServiceSID = &m.MessagingServiceSID
	}
	if m.ErrorCode != 0 {
		code, msg := m.ErrorCode, deliveryErrors[m.ErrorCode]
		res.ErrorCode, res.ErrorMessage = &code, &msg
	}
	return res
}

// deliver moves a message through its statuses, posting each to its
// status callback: sent then delivered, sent then undelivered, or failed.
func (e *Emulator) deliver(m *Message, fault deliveryFault, lost bool) {
	steps := []deliveryFault{{status: "sent"}, {status: "delivered"}}
	switch fault.status {
	case Undelivered:
		steps[1] = fault
	case Failed:
		steps = []deliveryFault{fault}
	}
	for _, st := range steps {
		if !e.sleep(e.ctx, e.opts.CallbackDelay) {
			return
		}
		e.mu.Lock()
		if m.held {
			e.mu.Unlock()
			return
		}
		if m.From == "" {
			m.From = e.opts.ServiceFrom
			m.Segments = segment.Count(m.Body).Segments
		}
		m.Status, m.ErrorCode, m.Updated = string(st.status), st.code, e.now()
		// A phone that answers by itself starts to, counted at once so
		// that the emulator is never idle in between.
		respond := st.status == "delivered" && e.respondsLocked(m)
		if st.status == "sent" {
			// The emulator hands a message on the moment it accepts it:
			// date_sent is its creation time, reported from this step on.
			m.Sent = m.Created
		}
		e.notifyLocked()
		params := messageCallbackParams(m)
		account, callback := m.AccountSID, m.StatusCallback
		e.mu.Unlock()

		if respond && !e.goTracked(func() { e.respond(m) }) {
			e.mu.Lock()
			e.answering-- // closed: nobody answers
			e.mu.Unlock()
		}
		if callback == "" || lost {
			continue
		}
		if _, err := e.post(e.ctx, http.MethodPost, callback, account, params); err != nil {
			e.log.Warn("twilio emulator could not post a status callback", "sid", m.SID, "url", callback, "err", err)
		}
		e.mu.Lock()
		m.Callbacks++
		e.notifyLocked()
		e.mu.Unlock()
	}
}

// messageCallbackParams are the parameters of a message status callback;
// e.mu must be held.
func messageCallbackParams(m *Message) url.Values {
	p := url.Values{
		"AccountSid":    {m.AccountSID},
		"ApiVersion":    {APIVersion},
		"From":          {m.From},
		"MessageSid":    {m.SID},
		"MessageStatus": {m.Status},
		"SmsSid":        {m.SID},
		"SmsStatus":     {m.Status},
		"To":            {m.To},
	}
	if m.MessagingServiceSID != "" {
		p.Set("MessagingServiceSid", m.MessagingServiceSID)
	}
	if m.ErrorCode != 0 {
		p.Set("ErrorCode", strconv.Itoa(m.ErrorCode))
	}
	if m.Status == "delivered" || m.Status == "undelivered" {
		p.Set("RawDlrDoneDate", m.Updated.Format("0601021504"))
	}
	return p
}

// validCallback reports whether s is an absolute http or https URL.
func validCallback(s string) bool {
	u, err := url.Parse(s)
	return err == nil && (u.Scheme == "http" || u.Scheme == "https") && u.Host != ""
}
