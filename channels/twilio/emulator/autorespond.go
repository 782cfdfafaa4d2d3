package emulator

import (
	"context"
	"encoding/xml"
	"net/http"
	"strings"

	"github.com/oob-relay/relay/channels/twilio/segment"
)

// Message directions, as Twilio reports them.
const (
	// DirectionAPI is a message created through the REST API.
	DirectionAPI = "outbound-api"
	// DirectionReply is a message created by the TwiML that answered an
	// incoming message.
	DirectionReply = "outbound-reply"
)

// messagingWebhook is where the emulator posts what phones send to one of
// the account's numbers.
type messagingWebhook struct{ url, method string }

// AutoResponse is one answer an auto-responding phone sent.
type AutoResponse struct {
	// MessageSID is the SID of the inbound message the answer became.
	MessageSID string
	// From is the phone; To the number it answered.
	From, To string
	Body     string
	// Status is what the messaging webhook answered, 0 when it could not
	// be reached (Err says why).
	Status int
	// Replies are the texts of the webhook's TwiML <Message> elements,
	// which the emulator sent to the phone as Twilio does.
	Replies []string
	Err     string
}

// SetMessagingWebhook sets the messaging webhook of one of the account's
// numbers, as a number's SmsUrl and SmsMethod in Twilio's console: where
// the emulator posts what auto-responding phones (AutoRespond) send to
// that number. method is POST (the default when empty) or GET. An empty
// url removes it.
func (e *Emulator) SetMessagingWebhook(number, url, method string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if url == "" {
		delete(e.webhooks, number)
		return
	}
	e.webhooks[number] = messagingWebhook{url: url, method: method}
}

// AutoRespond makes phone answer every message delivered to it with text,
// as a phone with an auto-reply ("I'm driving") does: a moment
// (Options.CallbackDelay) after a message to phone is delivered, phone
// texts back to the number the message came from, and the emulator posts
// that inbound message to the number's messaging webhook
// (SetMessagingWebhook), signed as Twilio signs it. Each <Message> of the
// TwiML the webhook answers is sent to phone, as Twilio sends it, and
// answered in turn. An empty text stops phone's auto-responder.
func (e *Emulator) AutoRespond(phone, text string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if text == "" {
		delete(e.responders, phone)
		return
	}
	e.responders[phone] = text
}

// AutoResponses returns every answer auto-responding phones sent, oldest
// first.
func (e *Emulator) AutoResponses() []AutoResponse {
	e.mu.Lock()
	defer e.mu.Unlock()
	out := make([]AutoResponse, len(e.autoResponses))
	for i, r := range e.autoResponses {
		out[i] = r
		out[i].Replies = append([]string(nil), r.Replies...)
	}
	return out
}

// Idle reports whether nothing is under way: every message is in a final
// status (or held by UpdateMessage), and no auto-responding phone is
// about to answer or waiting for a webhook's answer.
func (e *Emulator) Idle() bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.idleLocked()
}

// WaitIdle blocks until the emulator is Idle, or returns ctx's error.
func (e *Emulator) WaitIdle(ctx context.Context) error {
	return e.wait(ctx, e.idleLocked)
}

func (e *Emulator) idleLocked() bool {
	if e.answering > 0 {
		return false
	}
	for _, m := range e.messages {
		if !m.held && !Final(m.Status) {
			return false
		}
	}
	return true
}

// respondsLocked reports whether m, just delivered, wakes an
// auto-responder, and counts the answer under way; e.mu must be held.
func (e *Emulator) respondsLocked(m *Message) bool {
	if _, ok := e.responders[m.To]; !ok {
		return false
	}
	e.answering++
	return true
}

// respond has the phone m was delivered to answer it, then ends the
// answer respondsLocked counted.
func (e *Emulator) respond(m *Message) {
	defer func() {
		e.mu.Lock()
		e.answering--
		e.notifyLocked()
		e.mu.Unlock()
	}()
	e.mu.Lock()
	text, ok := e.responders[m.To]
	hook, hooked := e.webhooks[m.From]
	phone, number, account := m.To, m.From, m.AccountSID
	e.mu.Unlock()
	if !ok || !e.sleep(e.ctx, e.opts.CallbackDelay) {
		return
	}
	r := AutoResponse{From: phone, To: number, Body: text}
	if !hooked {
		r.Err = "number " + number + " has no messaging webhook"
		e.log.Warn("twilio emulator: an auto-responder answered a number without a messaging webhook", "number", number)
		e.recordResponse(r)
		return
	}
	ans, err := e.SendInbound(e.ctx, Inbound{URL: hook.url, Method: hook.method, AccountSID: account, From: phone, To: number, Body: text})
	r.MessageSID, r.Status = ans.MessageSID, ans.Status
	if err != nil {
		r.Err = err.Error()
	}
	if ans.Status == http.StatusOK {
		r.Replies = twimlMessages(ans.Body)
	}
	e.recordResponse(r)
	for _, body := range r.Replies {
		e.sendReply(account, number, phone, body)
	}
}

func (e *Emulator) recordResponse(r AutoResponse) {
	e.mu.Lock()
	e.autoResponses = append(e.autoResponses, r)
	e.notifyLocked()
	e.mu.Unlock()
}

// sendReply sends the text of a TwiML <Message> from number to phone, as
// Twilio sends the answer to an incoming message.
func (e *Emulator) sendReply(account, number, phone, body string) {
	now := e.now()
	seg := segment.Count(body)
	m := &Message{SID: e.sid("SM"), AccountSID: account, To: phone, From: number, Body: body, Direction: DirectionReply,
		Status: "queued", Segments: seg.Segments, Encoding: seg.Encoding, Created: now, Updated: now}
	e.mu.Lock()
	e.messages = append(e.messages, m)
	e.notifyLocked()
	snap := m.clone()
	e.mu.Unlock()
	if e.opts.OnMessage != nil {
		e.hook(func() { e.opts.OnMessage(snap) })
	}
	e.goTracked(func() { e.deliver(m, deliveryFault{}, false) })
}

// twimlMessages returns the texts of the <Message> elements of a TwiML
// document (the element's text, or its <Body>), or nothing when it does
// not parse.
func twimlMessages(doc string) []string {
	var r struct {
		Messages []struct {
			Text string `xml:",chardata"`
			Body string `xml:"Body"`
		} `xml:"Message"`
	}
	if err := xml.NewDecoder(strings.NewReader(doc)).Decode(&r); err != nil {
		return nil
	}
	var out []string
	for _, m := range r.Messages {
		if text := strings.TrimSpace(m.Body + m.Text); text != "" {
			out = append(out, text)
		}
	}
	return out
}
