package twilio

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"time"

	openapi "github.com/twilio/twilio-go/rest/api/v2010"

	"github.com/oob-relay/relay/channels/twilio/segment"
	"github.com/oob-relay/relay/relay"
)

// Twilio's bounds on ValidityPeriod, in seconds.
const (
	minValidity = 1
	maxValidity = 36000
)

// Options are an SMS sender's collaborators.
type Options struct {
	// Logger receives debug logs of each attempt; nil discards them. The
	// auth token never reaches it.
	Logger *slog.Logger
	// Transport is the base HTTP transport, for proxies or custom TLS; nil
	// means a transport of the sender's own, released by Close.
	Transport http.RoundTripper
	// Now tells the time for validity periods; nil means time.Now.
	Now func() time.Time
}

// SMS sends text messages through one Twilio account with twilio-go. It
// is safe for concurrent use.
type SMS struct {
	account
}

var _ relay.Sender = (*SMS)(nil)

// New returns a sender for cfg, which it completes with defaults and
// validates. The auth token must already be resolved (see
// Config.ResolveSecrets).
func New(cfg Config, opts Options) (*SMS, error) {
	a, err := newAccount(cfg, opts)
	if err != nil {
		return nil, err
	}
	return &SMS{account: a}, nil
}

// Send makes one attempt to send out's message to its person's phone as
// an SMS. See relay.Sender.
//
// The body is RenderBody in the person's language, ending in the
// person's reply code (WithReplyCode) and link (WithLink); see the
// package documentation. A one-time code (out.Code) is sent as
// relay.CodeText alone, valid until the code expires. The
// attempt is refused without a request (permanent, expired) once the
// message deadline has passed; before that, Twilio is told to drop the
// message if it is still queued at the deadline. Delivery receipts go to
// out.StatusCallback when it is set. The receipt's Segments is relay's
// count of the body's parts, and its ProviderSegments Twilio's when that
// differs.
func (s *SMS) Send(ctx context.Context, out *relay.Outgoing) (relay.Receipt, error) {
	if out == nil || (out.Message == nil && out.Code == nil) {
		return relay.Receipt{}, relay.Permanent(relay.ReasonRejected, errors.New("twilio: nothing to send"))
	}
	rc, err := s.send(ctx, out)
	if err != nil {
		se := relay.Classify(err)
		s.log.Debug("sms attempt failed", "delivery", out.DeliveryID, "attempt", out.Attempt,
			"reason", se.Reason, "temporary", se.Temporary, "code", se.Code, "err", se.Err)
		return relay.Receipt{}, se
	}
	s.log.Debug("sms accepted", "delivery", out.DeliveryID, "attempt", out.Attempt,
		"sid", rc.ProviderID, "segments", rc.Segments)
	return rc, nil
}

// send makes the attempt; Send logs its outcome.
func (s *SMS) send(ctx context.Context, out *relay.Outgoing) (relay.Receipt, error) {
	p := out.Person
	switch {
	case p == nil || p.Phone == "":
		return relay.Receipt{}, relay.Permanent(relay.ReasonRecipient, errors.New("twilio: recipient has no phone number"))
	case !relay.ValidE164(p.Phone):
		return relay.Receipt{}, relay.Permanent(relay.ReasonRecipient,
			fmt.Errorf("twilio: phone number %q is not an E.164 number", p.Phone))
	}
	now := s.now()
	body := smsBody(out)
	params := (&openapi.CreateMessageParams{}).SetTo(p.Phone).SetBody(body)
	if s.cfg.From != "" {
		params.SetFrom(s.cfg.From)
	} else {
		params.SetMessagingServiceSid(s.cfg.MessagingServiceSID)
	}
	if deadline := out.Deadline(); !deadline.IsZero() {
		left := deadline.Sub(now)
		if left <= 0 {
			return relay.Receipt{}, relay.Permanent(relay.ReasonExpired,
				fmt.Errorf("twilio: message deadline %s passed", deadline.UTC().Format(time.RFC3339)))
		}
		params.SetValidityPeriod(validity(left))
	}
	if out.StatusCallback != "" {
		params.SetStatusCallback(out.StatusCallback)
	}
	if out.Attempt > 0 {
		params.SetAttempt(out.Attempt)
	}

	ctx, cancel := context.WithTimeout(ctx, s.cfg.Timeout)
	defer cancel()
	api, x := s.service(ctx)

	msg, err := api.CreateMessage(params)
	if err != nil {
		status, retryAfter := x.answer(s.now())
		return relay.Receipt{}, classify(ctx, "create message", err, status, retryAfter)
	}
	if msg.Sid == nil || *msg.Sid == "" {
		return relay.Receipt{}, relay.Temporary(relay.ReasonProvider, errors.New("twilio: create message: answer has no sid"))
	}
	rc := relay.Receipt{ProviderID: *msg.Sid}
	rc.Segments, rc.ProviderSegments = segments(body, msg.NumSegments)
	return rc, nil
}

// segments returns relay's count of body's SMS parts (package segment),
// and Twilio's num_segments when Twilio gave a figure that differs, else
// zero. Twilio answers 0 for a message a messaging service has not yet
// given a sender, and may count otherwise than relay, as when it replaces
// characters to stay in GSM-7 (smart encoding).
func segments(body string, twilio *string) (ours, theirs int) {
	ours = segment.Count(body).Segments
	if twilio != nil {
		if n, err := strconv.Atoi(*twilio); err == nil && n > 0 && n != ours {
			theirs = n
		}
	}
	return ours, theirs
}

// validity returns the ValidityPeriod for a message with left to live:
// whole seconds, rounded down so Twilio never sends after the deadline,
// within Twilio's bounds.
func validity(left time.Duration) int {
	return min(max(int(left/time.Second), minValidity), maxValidity)
}
