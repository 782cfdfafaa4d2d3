package twilio

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"time"

	"github.com/twilio/twilio-go/client"

	"github.com/oob-relay/relay/relay"
)

// Twilio error codes with a meaning of their own; every other code is
// classified by its HTTP status.
var codeReasons = map[int]relay.Reason{
	20003: relay.ReasonAuth,        // authentication failed
	20005: relay.ReasonAuth,        // account not active
	20429: relay.ReasonRateLimited, // too many requests
	14107: relay.ReasonRateLimited, // SMS send rate limit exceeded
	21211: relay.ReasonRecipient,   // invalid 'To' number
	21214: relay.ReasonRecipient,   // 'To' number cannot be reached
	21217: relay.ReasonRecipient,   // number does not appear to be valid
	21401: relay.ReasonRecipient,   // invalid phone number
	21407: relay.ReasonRecipient,   // number type does not support SMS
	21612: relay.ReasonRecipient,   // 'To' number not reachable via SMS
	21614: relay.ReasonRecipient,   // 'To' number is not a mobile number
	21610: relay.ReasonUnsubscribe, // the recipient replied STOP
	21408: relay.ReasonPermission,  // sending to the region is not enabled
}

// classify turns a failed request into a *relay.SendError. op names the
// request ("create message") for the error's text; status and retryAfter
// are what the transport saw of the last answer; ctx is the request's
// context.
func classify(ctx context.Context, op string, err error, status int, retryAfter time.Duration) *relay.SendError {
	err = fmt.Errorf("twilio: %s: %w", op, err)
	var rest *client.TwilioRestError
	if errors.As(err, &rest) {
		if rest.Status != 0 {
			status = rest.Status
		}
		se := byStatus(status, err)
		if reason, ok := codeReasons[rest.Code]; ok {
			se = &relay.SendError{Reason: reason, Temporary: reason == relay.ReasonRateLimited, Err: err}
		}
		if rest.Code != 0 {
			se.Code = strconv.Itoa(rest.Code)
		}
		if se.Temporary {
			se.RetryAfter = retryAfter
		}
		return se
	}
	if status >= 400 {
		// An error answer without Twilio's JSON, as a proxy gives.
		se := byStatus(status, err)
		if se.Temporary {
			se.RetryAfter = retryAfter
		}
		return se
	}
	var ne net.Error
	switch {
	case errors.Is(err, context.DeadlineExceeded), ctx.Err() != nil:
		return relay.Temporary(relay.ReasonTimeout, err)
	case errors.As(err, &ne) && ne.Timeout():
		return relay.Temporary(relay.ReasonTimeout, err)
	case errors.As(err, &ne):
		return relay.Temporary(relay.ReasonNetwork, err)
	case status >= 200 && status < 300:
		// Twilio accepted, but its answer could not be read.
		return relay.Temporary(relay.ReasonProvider, err)
	}
	return relay.Temporary(relay.ReasonUnknown, err)
}

// byStatus classifies an HTTP error status: 429 and 5xx temporary, other
// 4xx permanent.
func byStatus(status int, err error) *relay.SendError {
	switch {
	case status == http.StatusTooManyRequests:
		return relay.Temporary(relay.ReasonRateLimited, err)
	case status >= 500:
		return relay.Temporary(relay.ReasonProvider, err)
	case status == http.StatusUnauthorized:
		return relay.Permanent(relay.ReasonAuth, err)
	case status == http.StatusForbidden:
		return relay.Permanent(relay.ReasonPermission, err)
	case status >= 400:
		return relay.Permanent(relay.ReasonRejected, err)
	}
	return relay.Temporary(relay.ReasonUnknown, err)
}
