package nats

import (
	"context"
	"errors"
	"fmt"
	"testing"

	natsgo "github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/oob-relay/relay/relay"
)

func TestClassify(t *testing.T) {
	api := func(code int, errCode jetstream.ErrorCode) error {
		return fmt.Errorf("nats: %w", &jetstream.APIError{Code: code, ErrorCode: errCode, Description: "x"})
	}
	for _, tc := range []struct {
		err       error
		temporary bool
		reason    relay.Reason
		code      string
	}{
		{context.DeadlineExceeded, true, relay.ReasonTimeout, ""},
		{natsgo.ErrTimeout, true, relay.ReasonTimeout, ""},
		{jetstream.ErrAsyncPublishTimeout, true, relay.ReasonTimeout, ""},
		{context.Canceled, true, relay.ReasonUnknown, ""},
		{natsgo.ErrNoServers, true, relay.ReasonNetwork, ""},
		{natsgo.ErrConnectionClosed, true, relay.ReasonNetwork, ""},
		{natsgo.ErrDisconnected, true, relay.ReasonNetwork, ""},
		{natsgo.ErrReconnectBufExceeded, true, relay.ReasonNetwork, ""},
		{natsgo.ErrAuthorization, false, relay.ReasonAuth, ""},
		{natsgo.ErrAuthExpired, false, relay.ReasonAuth, ""},
		{fmt.Errorf("%w: Permissions Violation for Publish to \"a\"", natsgo.ErrPermissionViolation), false, relay.ReasonPermission, ""},
		{natsgo.ErrMaxPayload, false, relay.ReasonRejected, ""},
		{natsgo.ErrNoResponders, true, relay.ReasonUnavailable, ""},
		{jetstream.ErrNoStreamResponse, true, relay.ReasonUnavailable, ""},
		{jetstream.ErrTooManyStalledMsgs, true, relay.ReasonRateLimited, ""},
		{jetstream.ErrInvalidJSAck, true, relay.ReasonProvider, ""},
		{api(503, 10023), true, relay.ReasonUnavailable, "10023"},
		{api(429, 0), true, relay.ReasonRateLimited, "429"},
		{api(500, 10049), true, relay.ReasonProvider, "10049"},
		{api(400, jetstream.JSErrCodeStreamWrongLastSequence), false, relay.ReasonRejected, "10071"},
		{api(400, 10060), false, relay.ReasonRejected, "10060"},
		{errors.New("strange"), true, relay.ReasonUnknown, ""},
		{relay.Permanent(relay.ReasonRecipient, errors.New("kept")), false, relay.ReasonRecipient, ""},
	} {
		se := classify(tc.err)
		if se.Temporary != tc.temporary || se.Reason != tc.reason || se.Code != tc.code {
			t.Errorf("classify(%v) = temporary %v, %s, code %q; want %v, %s, %q", tc.err, se.Temporary, se.Reason, se.Code, tc.temporary, tc.reason, tc.code)
		}
	}
	if classify(nil) != nil {
		t.Error("classify(nil) is not nil")
	}
}

func TestNewDenial(t *testing.T) {
	denied := func(text string) error { return fmt.Errorf("%w: %s", natsgo.ErrPermissionViolation, text) }
	pubA := denied(`Permissions Violation for Publish to "relay.incident.a.message"`)
	for _, tc := range []struct {
		name          string
		before, last  error
		jetStream, is bool
	}{
		{"new denial of our subject", nil, pubA, false, true},
		{"old denial", pubA, pubA, false, false},
		{"same text, new error", denied(`Permissions Violation for Publish to "relay.incident.a.message"`), pubA, false, true},
		{"other subject", nil, denied(`Permissions Violation for Publish to "relay.incident.b.message"`), false, false},
		{"subject prefix only", nil, denied(`Permissions Violation for Publish to "relay.incident.a.message.x"`), false, false},
		{"not a permission error", nil, errors.New(`Publish to "relay.incident.a.message"`), false, false},
		{"reply denied, core", nil, denied(`Permissions Violation for Publish with Reply of "_INBOX.abc.def"`), false, false},
		{"reply denied, jetstream", nil, denied(`Permissions Violation for Publish with Reply of "_INBOX.abc.def"`), true, true},
		{"ack inbox denied, jetstream", nil, denied(`Permissions Violation for Subscription to "_INBOX.abc.*"`), true, true},
		{"nothing", nil, nil, false, false},
	} {
		got := newDenial(tc.before, tc.last, "relay.incident.a.message", tc.jetStream) != nil
		if got != tc.is {
			t.Errorf("%s: newDenial = %v, want %v", tc.name, got, tc.is)
		}
	}
}
