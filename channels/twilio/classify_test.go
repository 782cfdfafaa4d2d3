package twilio

import (
	"context"
	"errors"
	"fmt"
	"net"
	"syscall"
	"testing"
	"time"

	"github.com/twilio/twilio-go/client"

	"github.com/oob-relay/relay/relay"
)

func TestClassify(t *testing.T) {
	rest := func(status, code int) error {
		return &client.TwilioRestError{Status: status, Code: code, Message: "m"}
	}
	refused := &net.OpError{Op: "dial", Net: "tcp", Err: syscall.ECONNREFUSED}
	tests := []struct {
		name       string
		err        error
		status     int
		retryAfter time.Duration
		reason     relay.Reason
		temporary  bool
		code       string
		wantRetry  time.Duration
	}{
		{"invalid number", rest(400, 21211), 400, 0, relay.ReasonRecipient, false, "21211", 0},
		{"not mobile", rest(400, 21614), 400, 0, relay.ReasonRecipient, false, "21614", 0},
		{"unsubscribed", rest(400, 21610), 400, 0, relay.ReasonUnsubscribe, false, "21610", 0},
		{"auth", rest(401, 20003), 401, 0, relay.ReasonAuth, false, "20003", 0},
		{"region", rest(400, 21408), 400, 0, relay.ReasonPermission, false, "21408", 0},
		{"rate limited", rest(429, 20429), 429, 3 * time.Second, relay.ReasonRateLimited, true, "20429", 3 * time.Second},
		{"server error", rest(500, 20500), 500, 0, relay.ReasonProvider, true, "20500", 0},
		{"unavailable keeps hint", rest(503, 20503), 503, time.Second, relay.ReasonProvider, true, "20503", time.Second},
		{"other 4xx", rest(400, 21602), 400, time.Second, relay.ReasonRejected, false, "21602", 0},
		{"404", rest(404, 20404), 404, 0, relay.ReasonRejected, false, "20404", 0},
		{"403 without code", rest(403, 0), 403, 0, relay.ReasonPermission, false, "", 0},
		{"status only from transport", rest(0, 30001), 429, 0, relay.ReasonRateLimited, true, "30001", 0},
		{"non-JSON 502", errors.New("error decoding the response for an HTTP error code: 502"), 502, 0, relay.ReasonProvider, true, "", 0},
		{"non-JSON 429", errors.New("error decoding"), 429, 2 * time.Second, relay.ReasonRateLimited, true, "", 2 * time.Second},
		{"non-JSON 400", errors.New("error decoding"), 400, 0, relay.ReasonRejected, false, "", 0},
		{"deadline", fmt.Errorf("Post: %w", context.DeadlineExceeded), 0, 0, relay.ReasonTimeout, true, "", 0},
		{"refused", fmt.Errorf("Post: %w", refused), 0, 0, relay.ReasonNetwork, true, "", 0},
		{"bad 201 body", errors.New("invalid character"), 201, 0, relay.ReasonProvider, true, "", 0},
		{"mystery", errors.New("mystery"), 0, 0, relay.ReasonUnknown, true, "", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			se := classify(context.Background(), "create message", tt.err, tt.status, tt.retryAfter)
			if se.Reason != tt.reason || se.Temporary != tt.temporary || se.Code != tt.code || se.RetryAfter != tt.wantRetry {
				t.Errorf("classify = %+v, want reason %s temporary %v code %q retry %v",
					se, tt.reason, tt.temporary, tt.code, tt.wantRetry)
			}
			if !errors.Is(se, tt.err) {
				t.Errorf("classified error does not wrap the original")
			}
		})
	}
}

func TestClassifyCanceledContext(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	se := classify(ctx, "create message", fmt.Errorf("Post: %w", context.Canceled), 0, 0)
	if se.Reason != relay.ReasonTimeout || !se.Temporary {
		t.Errorf("canceled attempt: %+v", se)
	}
}

func TestValidity(t *testing.T) {
	for left, want := range map[time.Duration]int{
		time.Millisecond:        1,
		1500 * time.Millisecond: 1,
		90 * time.Second:        90,
		10 * time.Hour:          36000,
		48 * time.Hour:          36000,
	} {
		if got := validity(left); got != want {
			t.Errorf("validity(%v) = %d, want %d", left, got, want)
		}
	}
}

func TestParseRetryAfter(t *testing.T) {
	now := time.Date(2026, 11, 3, 0, 0, 0, 0, time.UTC)
	for v, want := range map[string]time.Duration{
		"":                              0,
		"7":                             7 * time.Second,
		"-1":                            0,
		"soon":                          0,
		"Tue, 03 Nov 2026 00:00:30 GMT": 30 * time.Second,
		"Mon, 02 Nov 2026 00:00:30 GMT": 0,
	} {
		if got := parseRetryAfter(v, now); got != want {
			t.Errorf("parseRetryAfter(%q) = %v, want %v", v, got, want)
		}
	}
}
