package nats

import (
	"context"
	"errors"
	"net/http"
	"reflect"
	"strconv"
	"strings"

	natsgo "github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/oob-relay/relay/relay"
)

// classify maps an error of one publish onto the core's reasons.
//
// Timeouts and disconnects are temporary; refused credentials and denied
// subjects are permanent, as retrying the same request cannot succeed. A
// JetStream stream that does not answer (missing, or electing a leader) is
// temporary and unavailable. JetStream API errors follow their HTTP-like
// code: 503 unavailable, 429 rate limited, other 5xx temporary provider
// failures, 4xx permanent rejections. Among the 4xx, a wrong last sequence
// or an unexpected stream can only mean the subject is captured by a stream
// other than the configured one, which retrying does not change.
func classify(err error) *relay.SendError {
	var se *relay.SendError
	var api *jetstream.APIError
	switch {
	case err == nil:
		return nil
	case errors.As(err, &se):
		return se
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, natsgo.ErrTimeout),
		errors.Is(err, jetstream.ErrAsyncPublishTimeout):
		return relay.Temporary(relay.ReasonTimeout, err)
	case errors.Is(err, context.Canceled):
		// The caller gave up; nothing is known about the server.
		return relay.Temporary(relay.ReasonUnknown, err)
	case isAuthError(err):
		return relay.Permanent(relay.ReasonAuth, err)
	case errors.Is(err, natsgo.ErrPermissionViolation):
		return relay.Permanent(relay.ReasonPermission, err)
	case errors.Is(err, natsgo.ErrConnectionClosed), errors.Is(err, natsgo.ErrDisconnected),
		errors.Is(err, natsgo.ErrConnectionReconnecting), errors.Is(err, natsgo.ErrNoServers),
		errors.Is(err, natsgo.ErrReconnectBufExceeded), errors.Is(err, natsgo.ErrConnectionDraining),
		errors.Is(err, natsgo.ErrStaleConnection), errors.Is(err, natsgo.ErrInvalidConnection):
		return relay.Temporary(relay.ReasonNetwork, err)
	case errors.Is(err, natsgo.ErrMaxPayload), errors.Is(err, natsgo.ErrBadSubject),
		errors.Is(err, natsgo.ErrHeadersNotSupported):
		return relay.Permanent(relay.ReasonRejected, err)
	case errors.Is(err, jetstream.ErrNoStreamResponse), errors.Is(err, natsgo.ErrNoResponders):
		return relay.Temporary(relay.ReasonUnavailable, err)
	case errors.Is(err, jetstream.ErrTooManyStalledMsgs):
		return relay.Temporary(relay.ReasonRateLimited, err)
	case errors.Is(err, jetstream.ErrInvalidJSAck):
		return relay.Temporary(relay.ReasonProvider, err)
	case errors.As(err, &api):
		return classifyAPI(api, err)
	}
	return relay.Classify(err)
}

// classifyAPI classifies a JetStream API error; err wraps api.
func classifyAPI(api *jetstream.APIError, err error) *relay.SendError {
	var se *relay.SendError
	switch {
	case api.Code == http.StatusServiceUnavailable:
		se = relay.Temporary(relay.ReasonUnavailable, err)
	case api.Code == http.StatusTooManyRequests:
		se = relay.Temporary(relay.ReasonRateLimited, err)
	case api.Code >= 500 || api.Code == 0:
		se = relay.Temporary(relay.ReasonProvider, err)
	default:
		se = relay.Permanent(relay.ReasonRejected, err)
	}
	if api.ErrorCode != 0 {
		se.Code = strconv.Itoa(int(api.ErrorCode))
	} else if api.Code != 0 {
		se.Code = strconv.Itoa(api.Code)
	}
	return se
}

// isAuthError reports whether the server refused the credentials.
func isAuthError(err error) bool {
	return errors.Is(err, natsgo.ErrAuthorization) || errors.Is(err, natsgo.ErrAuthExpired) ||
		errors.Is(err, natsgo.ErrAuthRevoked) || errors.Is(err, natsgo.ErrAccountAuthExpired)
}

// newDenial returns the permission error the server reported for a publish
// to subject since before was the connection's last error, or nil. The
// server reports a denied publish only as an asynchronous -ERR, which
// nats.go keeps as the connection's last error; the flush after the
// publish guarantees it has arrived. With JetStream, the ack needs a reply
// subject under _INBOX, so a denied reply or ack subscription counts too.
func newDenial(before, last error, subject string, jetStream bool) error {
	if last == nil || sameError(before, last) || !errors.Is(last, natsgo.ErrPermissionViolation) {
		return nil
	}
	text := last.Error()
	switch {
	case strings.Contains(text, "Publish to \""+subject+"\""):
		return last
	case jetStream && (strings.Contains(text, "Publish with Reply of \"_INBOX.") ||
		strings.Contains(text, "Subscription to \"_INBOX.")):
		return last
	}
	return nil
}

// sameError reports whether a and b are the same error value. nats.go
// makes a new value for every error the server sends.
func sameError(a, b error) bool {
	if a == nil || b == nil {
		return a == b
	}
	ta, tb := reflect.TypeOf(a), reflect.TypeOf(b)
	return ta == tb && ta.Comparable() && a == b
}
