package relay

import (
	"context"
	"errors"
	"fmt"
	"net"
	"time"
)

// Reason is the closed set of causes a delivery attempt can fail for. It is
// a metric label, so adapters must map provider errors onto it rather than
// invent new values.
type Reason string

// Reasons, temporary first.
const (
	ReasonTimeout     Reason = "timeout"      // the provider did not answer in time
	ReasonNetwork     Reason = "network"      // connection refused, reset, DNS
	ReasonRateLimited Reason = "rate_limited" // the provider asked us to slow down
	ReasonProvider    Reason = "provider"     // the provider failed (HTTP 5xx, SMTP 4xx)
	ReasonUnavailable Reason = "unavailable"  // no provider could take the attempt

	ReasonRejected    Reason = "rejected"     // the provider refused the request (HTTP 4xx, SMTP 5xx)
	ReasonRecipient   Reason = "recipient"    // invalid or unreachable recipient
	ReasonUnsubscribe Reason = "unsubscribed" // the recipient opted out with the carrier
	ReasonAuth        Reason = "auth"         // credentials refused
	ReasonPermission  Reason = "permission"   // not allowed to publish or send
	ReasonExpired     Reason = "expired"      // the message deadline passed
	ReasonUnknown     Reason = "unknown"
)

// Reasons lists every Reason, so metrics can create their series up front.
var Reasons = []Reason{
	ReasonTimeout, ReasonNetwork, ReasonRateLimited, ReasonProvider, ReasonUnavailable,
	ReasonRejected, ReasonRecipient, ReasonUnsubscribe, ReasonAuth, ReasonPermission,
	ReasonExpired, ReasonUnknown,
}

// SendError is a classified failure of one delivery attempt.
type SendError struct {
	Reason    Reason
	Temporary bool
	// RetryAfter is the provider's own hint (HTTP Retry-After), zero if none.
	RetryAfter time.Duration
	// Code is the provider's error code when it gave one ("21211", "550").
	Code string
	Err  error
}

func (e *SendError) Error() string {
	kind := "permanent"
	if e.Temporary {
		kind = "temporary"
	}
	if e.Code != "" {
		return fmt.Sprintf("%s %s error (code %s): %v", kind, e.Reason, e.Code, e.Err)
	}
	return fmt.Sprintf("%s %s error: %v", kind, e.Reason, e.Err)
}

func (e *SendError) Unwrap() error { return e.Err }

// Temporary classifies err as worth retrying.
func Temporary(reason Reason, err error) *SendError {
	return &SendError{Reason: reason, Temporary: true, Err: err}
}

// Permanent classifies err as final: retrying the same request on the same
// provider cannot succeed.
func Permanent(reason Reason, err error) *SendError {
	return &SendError{Reason: reason, Err: err}
}

// Classify returns err as a *SendError. Errors an adapter left unclassified
// are sorted by what the standard library can tell: deadlines are timeouts,
// net errors are network failures, anything else is temporary and unknown.
func Classify(err error) *SendError {
	var se *SendError
	if errors.As(err, &se) {
		return se
	}
	var ne net.Error
	switch {
	case errors.Is(err, context.DeadlineExceeded):
		return Temporary(ReasonTimeout, err)
	case errors.As(err, &ne) && ne.Timeout():
		return Temporary(ReasonTimeout, err)
	case errors.As(err, &ne):
		return Temporary(ReasonNetwork, err)
	}
	return Temporary(ReasonUnknown, err)
}
