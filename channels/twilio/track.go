package twilio

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"time"

	openapi "github.com/twilio/twilio-go/rest/api/v2010"

	"github.com/oob-relay/relay/relay"
)

// Bounds of Find's search: it reads at most findPages pages of
// findPageSize messages, newest first.
const (
	findPageSize = 100
	findPages    = 5
)

// findSkew is how far before since a message Find finds may have been
// created, for the clocks of relay's nodes and Twilio's disagreeing.
const findSkew = time.Second

var (
	_ relay.Tracker = (*SMS)(nil)
	_ relay.Tracker = (*Voice)(nil)
)

// Track fetches the message Twilio accepted as providerID, a message SID,
// and reports its status as a status callback would report it (see
// ParseStatus): queued, accepted, scheduled and sending are still on
// their way (Status empty); sent is relay.StatusSent; delivered and read
// relay.StatusDelivered; undelivered, failed and canceled
// relay.StatusFailed, with the reason, code, text and temporariness of
// Twilio's error code. See relay.Tracker.
//
// A message Twilio does not know (404) is a permanent error; other
// failures are classified as Send classifies them. A status relay does not
// know is a temporary error.
func (s *SMS) Track(ctx context.Context, providerID string) (relay.Report, error) {
	if !messageSIDPattern.MatchString(providerID) {
		return relay.Report{}, relay.Permanent(relay.ReasonRejected,
			fmt.Errorf("twilio: %s is not a message SID", quote(providerID)))
	}
	ctx, cancel := context.WithTimeout(ctx, s.cfg.Timeout)
	defer cancel()
	api, x := s.service(ctx)
	msg, err := api.FetchMessage(providerID, nil)
	if err != nil {
		status, retryAfter := x.answer(s.now())
		se := classify(ctx, "fetch message", err, status, retryAfter)
		s.log.Debug("sms lookup failed", "sid", providerID, "reason", se.Reason, "temporary", se.Temporary, "err", se.Err)
		return relay.Report{}, se
	}
	r, err := messageReport(providerID, msg)
	if err != nil {
		return relay.Report{}, relay.Temporary(relay.ReasonProvider, err)
	}
	s.log.Debug("sms looked up", "sid", providerID, "twilio_status", deref(msg.Status), "status", r.Status)
	return r, nil
}

// Find looks for the message Send made of out at or after since, so that
// a takeover does not send it twice. See relay.Tracker.
//
// It lists the account's messages to the person's phone, from any of its
// numbers or services (the node that died may have sent from a number of
// its own), newest first, without a
// date filter (Twilio's filters on the send date, which a queued message
// does not have yet), and keeps those created at or after since (less a
// second for clock skew; a zero since is no bound) whose body is exactly
// the body Send renders for out. The body is the delivery's
// marker: it holds the incident, the text and the person's reply code. The
// oldest such message is the one found, reported with its status as Track
// reports it (a status relay does not know reads as still on its way) and
// its segment counts as Send's receipt gives them.
//
// The search reads at most 5 pages of 100 messages, and stops at the
// first page that reaches back before since. A match beyond that bound is
// not found, and the engine sends again: a bounded duplicate, never a
// loss. An out that Send would refuse without a request (no person, or no
// valid phone number) was never sent, and is not found, without a
// request.
func (s *SMS) Find(ctx context.Context, out *relay.Outgoing, since time.Time) (relay.Report, bool, error) {
	if out == nil || out.Message == nil || out.Code != nil {
		return relay.Report{}, false, relay.Permanent(relay.ReasonRejected, errors.New("twilio: nothing to find"))
	}
	p := out.Person
	if p == nil || !relay.ValidE164(p.Phone) {
		return relay.Report{}, false, nil
	}
	body := smsBody(out)
	earliest := since.Add(-findSkew)
	// No date filter: Twilio filters on date_sent, which stays empty
	// while a message is queued, and the message a node died sending may
	// well still be queued. The list is newest first, so reading stops at
	// the first page that reaches back before since.
	params := (&openapi.ListMessageParams{}).SetTo(p.Phone).SetPageSize(findPageSize)

	var found *openapi.ApiV2010Message
	token, number := "", ""
	for range findPages {
		page, err := s.page(ctx, params, token, number)
		if err != nil {
			s.log.Debug("sms search failed", "delivery", out.DeliveryID, "reason", err.Reason, "temporary", err.Temporary, "err", err.Err)
			return relay.Report{}, false, err
		}
		reachedBack := false
		for i := range page.Messages {
			m := &page.Messages[i]
			created, ok := parseDate(m.DateCreated)
			if ok && created.Before(earliest) {
				reachedBack = true
				continue
			}
			// Newest first: a later match is an older message.
			if ok && deref(m.To) == p.Phone && sameBody(deref(m.Body), out) {
				found = m
			}
		}
		if reachedBack {
			break
		}
		if token, number = nextPage(page.NextPageUri); token == "" && number == "" {
			break
		}
	}
	if found == nil || found.Sid == nil {
		s.log.Debug("sms not found", "delivery", out.DeliveryID, "since", since)
		return relay.Report{}, false, nil
	}
	r, err := messageReport(*found.Sid, found)
	if err != nil {
		r = relay.Report{ProviderID: *found.Sid}
	}
	r.Segments, r.ProviderSegments = segments(body, found.NumSegments)
	s.log.Debug("sms found", "delivery", out.DeliveryID, "sid", r.ProviderID, "twilio_status", deref(found.Status), "status", r.Status)
	return r, true, nil
}

// page reads one page of the Messages list, within one request timeout.
func (s *SMS) page(ctx context.Context, params *openapi.ListMessageParams, token, number string) (*openapi.ListMessageResponse, *relay.SendError) {
	ctx, cancel := context.WithTimeout(ctx, s.cfg.Timeout)
	defer cancel()
	api, x := s.service(ctx)
	page, err := api.PageMessage(params, token, number)
	if err != nil {
		status, retryAfter := x.answer(s.now())
		return nil, classify(ctx, "list messages", err, status, retryAfter)
	}
	return page, nil
}

// messageReport reads a fetched or listed message's status and error code
// as a report, or returns an error for a status relay does not know.
func messageReport(sid string, m *openapi.ApiV2010Message) (relay.Report, error) {
	code := ""
	if m.ErrorCode != nil && *m.ErrorCode != 0 {
		code = strconv.Itoa(*m.ErrorCode)
	}
	v, ok := judge(KindMessage, deref(m.Status), code)
	if !ok {
		return relay.Report{}, fmt.Errorf("twilio: message %s: status %s is not a status of an outbound message",
			sid, quote(deref(m.Status)))
	}
	return v.report(sid), nil
}

// Track fetches the call Twilio accepted as providerID, a call SID, and
// reports its status as a status callback would report it (see
// ParseStatus): queued, initiated, ringing and in-progress are still on
// their way (Status empty); completed is relay.StatusSent, since only the
// person's key press acknowledges a call; busy and no-answer are
// temporary failures; failed and canceled permanent ones. See
// relay.Tracker.
//
// A call Twilio does not know (404) is a permanent error; other failures
// are classified as Send classifies them. A status relay does not know is
// a temporary error.
func (v *Voice) Track(ctx context.Context, providerID string) (relay.Report, error) {
	if !callSIDPattern.MatchString(providerID) {
		return relay.Report{}, relay.Permanent(relay.ReasonRejected,
			fmt.Errorf("twilio: %s is not a call SID", quote(providerID)))
	}
	ctx, cancel := context.WithTimeout(ctx, v.cfg.Timeout)
	defer cancel()
	api, x := v.service(ctx)
	call, err := api.FetchCall(providerID, nil)
	if err != nil {
		status, retryAfter := x.answer(v.now())
		se := classify(ctx, "fetch call", err, status, retryAfter)
		v.log.Debug("call lookup failed", "sid", providerID, "reason", se.Reason, "temporary", se.Temporary, "err", se.Err)
		return relay.Report{}, se
	}
	status := deref(call.Status)
	verdict, ok := judge(KindCall, status, "")
	if !ok {
		return relay.Report{}, relay.Temporary(relay.ReasonProvider,
			fmt.Errorf("twilio: call %s: status %s is not a status of an outbound call", providerID, quote(status)))
	}
	v.log.Debug("call looked up", "sid", providerID, "twilio_status", status, "status", verdict.status)
	return verdict.report(providerID), nil
}

// Find cannot tell whether a call was placed for out, and returns an
// error wrapping errors.ErrUnsupported. Twilio's Call resource carries
// nothing that ties a call to one delivery: no text (the TwiML is not
// listed) and no callback URL, only numbers and times, which another
// message's call to the same person shares. Guessing would risk taking
// another message's call for this one, and a lost call is worse than a
// repeated one, so the engine calls again.
func (v *Voice) Find(context.Context, *relay.Outgoing, time.Time) (relay.Report, bool, error) {
	return relay.Report{}, false, relay.Permanent(relay.ReasonUnknown,
		fmt.Errorf("twilio: a call cannot be found by its delivery: %w", errors.ErrUnsupported))
}

// nextPage returns the PageToken and Page of a list page's next_page_uri,
// both empty when there is no next page.
func nextPage(uri *string) (token, number string) {
	if uri == nil || *uri == "" {
		return "", ""
	}
	u, err := url.Parse(*uri)
	if err != nil {
		return "", ""
	}
	q := u.Query()
	return q.Get("PageToken"), q.Get("Page")
}

// parseDate reads one of Twilio's RFC 2822 dates.
func parseDate(s *string) (time.Time, bool) {
	if s == nil {
		return time.Time{}, false
	}
	t, err := time.Parse(time.RFC1123Z, *s)
	return t, err == nil
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}
