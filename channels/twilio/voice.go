package twilio

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/twilio/twilio-go/client"
	openapi "github.com/twilio/twilio-go/rest/api/v2010"

	"github.com/oob-relay/relay/relay"
)

// RingSeconds is how long a call rings before Twilio gives up with
// no-answer: long enough to reach a phone across a room, short enough to
// move on to the next channel quickly.
const RingSeconds = 30

// callEvents are the call progress events reported to a status callback.
var callEvents = []string{"initiated", "ringing", "answered", "completed"}

// Twilio error codes of call create requests with a meaning of their
// own, beside those of codeReasons.
var callCodeReasons = map[int]relay.Reason{
	21210: relay.ReasonPermission, // the From number is not verified for the account
	21215: relay.ReasonPermission, // geo permissions: the account may not call the region
	21216: relay.ReasonPermission, // the account may not call this number
	21219: relay.ReasonPermission, // trial account: the To number is not verified
}

// Voice places calls that speak incident messages through one Twilio
// account with twilio-go. It is safe for concurrent use.
type Voice struct {
	account
}

var _ relay.Sender = (*Voice)(nil)

// NewVoice returns a voice sender for cfg, which it completes with
// defaults and validates. A call needs a caller number, so cfg must set
// From; a messaging service cannot place calls. The auth token must
// already be resolved (see Config.ResolveSecrets).
func NewVoice(cfg Config, opts Options) (*Voice, error) {
	a, err := newAccount(cfg, opts)
	if err != nil {
		return nil, err
	}
	if a.cfg.From == "" {
		return nil, errors.New("twilio: from: voice calls need a from number; a messaging_service_sid cannot place calls")
	}
	return &Voice{account: a}, nil
}

// Send makes one attempt to call out's person and speak out's message.
// See relay.Sender.
//
// The call's TwiML is RenderCall, or RenderCodeCall for a one-time code
// (out.Code), sent inline; the call rings for
// RingSeconds. Progress (initiated, ringing, answered, completed) is
// posted to out.StatusCallback when it is set, and the key the person
// presses to out.CallbackURL(relay.CallbackGather). The receipt's
// ProviderID is the call SID; it is never Delivered, since only the status
// callbacks and the acknowledgement tell what became of the call. The
// attempt is refused without a request (permanent, expired) once the
// message deadline has passed.
func (v *Voice) Send(ctx context.Context, out *relay.Outgoing) (relay.Receipt, error) {
	if out == nil || (out.Message == nil && out.Code == nil) {
		return relay.Receipt{}, relay.Permanent(relay.ReasonRejected, errors.New("twilio: nothing to call about"))
	}
	rc, err := v.call(ctx, out)
	if err != nil {
		se := relay.Classify(err)
		v.log.Debug("voice attempt failed", "delivery", out.DeliveryID, "attempt", out.Attempt,
			"reason", se.Reason, "temporary", se.Temporary, "code", se.Code, "err", se.Err)
		return relay.Receipt{}, se
	}
	v.log.Debug("voice call placed", "delivery", out.DeliveryID, "attempt", out.Attempt, "sid", rc.ProviderID)
	return rc, nil
}

// call makes the attempt; Send logs its outcome.
func (v *Voice) call(ctx context.Context, out *relay.Outgoing) (relay.Receipt, error) {
	p := out.Person
	switch {
	case p == nil || p.Phone == "":
		return relay.Receipt{}, relay.Permanent(relay.ReasonRecipient, errors.New("twilio: recipient has no phone number"))
	case !relay.ValidE164(p.Phone):
		return relay.Receipt{}, relay.Permanent(relay.ReasonRecipient,
			fmt.Errorf("twilio: phone number %q is not an E.164 number", p.Phone))
	}
	if deadline := out.Deadline(); !deadline.IsZero() && !deadline.After(v.now()) {
		return relay.Receipt{}, relay.Permanent(relay.ReasonExpired,
			fmt.Errorf("twilio: message deadline %s passed", deadline.UTC().Format(time.RFC3339)))
	}
	render := RenderCall
	if out.Code != nil {
		render = RenderCodeCall
	}
	twiml, err := render(out)
	if err != nil {
		return relay.Receipt{}, relay.Permanent(relay.ReasonRejected, fmt.Errorf("twilio: %w", err))
	}
	params := (&openapi.CreateCallParams{}).
		SetTo(p.Phone).
		SetFrom(v.cfg.From).
		SetTwiml(twiml).
		SetTimeout(RingSeconds)
	if out.StatusCallback != "" {
		params.SetStatusCallback(out.StatusCallback).
			SetStatusCallbackEvent(callEvents).
			SetStatusCallbackMethod(http.MethodPost)
	}

	ctx, cancel := context.WithTimeout(ctx, v.cfg.Timeout)
	defer cancel()
	api, x := v.service(ctx)

	res, err := api.CreateCall(params)
	if err != nil {
		status, retryAfter := x.answer(v.now())
		return relay.Receipt{}, classifyCall(ctx, err, status, retryAfter)
	}
	if res.Sid == nil || *res.Sid == "" {
		return relay.Receipt{}, relay.Temporary(relay.ReasonProvider, errors.New("twilio: create call: answer has no sid"))
	}
	return relay.Receipt{ProviderID: *res.Sid}, nil
}

// classifyCall turns a failed call create into a *relay.SendError: as
// classify does for messages, with the call codes of callCodeReasons.
func classifyCall(ctx context.Context, err error, status int, retryAfter time.Duration) *relay.SendError {
	se := classify(ctx, "create call", err, status, retryAfter)
	var rest *client.TwilioRestError
	if errors.As(err, &rest) {
		if reason, ok := callCodeReasons[rest.Code]; ok {
			se.Reason, se.Temporary, se.RetryAfter = reason, false, 0
		}
	}
	return se
}
