package twilio_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/oob-relay/relay/channels/twilio"
	"github.com/oob-relay/relay/channels/twilio/emulator"
	"github.com/oob-relay/relay/channels/twilio/emulator/emulatortest"
	"github.com/oob-relay/relay/relay"
	"github.com/oob-relay/relay/relay/secret"
)

func TestSendClassifiesFaults(t *testing.T) {
	tests := []struct {
		name       string
		script     func(*emulator.Emulator)
		to         string
		token      string
		reason     relay.Reason
		temporary  bool
		code       string
		retryAfter time.Duration
	}{
		{name: "invalid number", script: func(em *emulator.Emulator) { em.RejectNumber("+821000000001", 21211) },
			to: "+821000000001", reason: relay.ReasonRecipient, code: "21211"},
		{name: "not a mobile", script: func(em *emulator.Emulator) { em.RejectNumber("+821000000001", 21614) },
			to: "+821000000001", reason: relay.ReasonRecipient, code: "21614"},
		{name: "unsubscribed", script: func(em *emulator.Emulator) { em.RejectNumber("+821000000001", 21610) },
			to: "+821000000001", reason: relay.ReasonUnsubscribe, code: "21610"},
		{name: "wrong token", token: "wrongtoken0123456789", reason: relay.ReasonAuth, code: "20003"},
		{name: "rate limited", script: func(em *emulator.Emulator) { em.RateLimitNext(1, 3*time.Second) },
			reason: relay.ReasonRateLimited, temporary: true, code: "20429", retryAfter: 3 * time.Second},
		{name: "internal error", script: func(em *emulator.Emulator) { em.FailNext(1, 500) },
			reason: relay.ReasonProvider, temporary: true, code: "20500"},
		{name: "unavailable", script: func(em *emulator.Emulator) { em.FailNext(1, 503) },
			reason: relay.ReasonProvider, temporary: true, code: "20503"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			em, cfg := start(t)
			if tt.script != nil {
				tt.script(em)
			}
			if tt.token != "" {
				cfg.AuthToken = secret.New(tt.token)
			}
			to := tt.to
			if to == "" {
				to = "+821012345678"
			}
			_, err := newSMS(t, cfg, nil).Send(sendCtx(t), outgoing(to, "ko"))
			se := assertSendError(t, err, tt.reason, tt.temporary, tt.code)
			if se.RetryAfter != tt.retryAfter {
				t.Errorf("RetryAfter %v, want %v", se.RetryAfter, tt.retryAfter)
			}
			if n := em.Requests(); n != 1 {
				t.Errorf("%d requests, want exactly one attempt", n)
			}
			if n := len(em.Messages()); n != 0 {
				t.Errorf("%d messages accepted", n)
			}
		})
	}
}

func TestSendHangEndsAtContextDeadline(t *testing.T) {
	em, cfg := start(t)
	em.HangNext(1)
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := newSMS(t, cfg, nil).Send(ctx, outgoing("+821012345678", "ko"))
	assertSendError(t, err, relay.ReasonTimeout, true, "")
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("error %v does not wrap context.DeadlineExceeded", err)
	}
	if took := time.Since(start); took > 2*time.Second {
		t.Errorf("Send returned after %v", took)
	}
}

func TestSendHangEndsAtConfiguredTimeout(t *testing.T) {
	em, cfg := start(t)
	em.HangNext(1)
	cfg.Timeout = 100 * time.Millisecond
	_, err := newSMS(t, cfg, nil).Send(context.Background(), outgoing("+821012345678", "ko"))
	assertSendError(t, err, relay.ReasonTimeout, true, "")
}

func TestSendHonoursCancel(t *testing.T) {
	em, cfg := start(t)
	em.HangNext(1)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() {
		_, err := newSMS(t, cfg, nil).Send(ctx, outgoing("+821012345678", "ko"))
		done <- err
	}()
	if err := em.WaitRequests(sendCtx(t), 1); err != nil {
		t.Fatal(err)
	}
	cancel()
	select {
	case err := <-done:
		if !errors.Is(err, context.Canceled) {
			t.Errorf("error %v does not wrap context.Canceled", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Send did not return after cancel")
	}
}

func TestSendNetworkAndProxyFailures(t *testing.T) {
	_, cfg := start(t)
	for _, tt := range []struct {
		name       string
		url        string
		reason     relay.Reason
		temporary  bool
		retryAfter time.Duration
	}{
		{"connection refused", deadServer(t), relay.ReasonNetwork, true, 0},
		{"proxy 502", proxyAnswer(t, 502, ""), relay.ReasonProvider, true, 0},
		{"proxy 429", proxyAnswer(t, 429, "4"), relay.ReasonRateLimited, true, 4 * time.Second},
		{"proxy 403", proxyAnswer(t, 403, ""), relay.ReasonPermission, false, 0},
	} {
		t.Run(tt.name, func(t *testing.T) {
			c := cfg
			c.APIURL = tt.url
			_, err := newSMS(t, c, nil).Send(sendCtx(t), outgoing("+821012345678", "ko"))
			se := assertSendError(t, err, tt.reason, tt.temporary, "")
			if se.RetryAfter != tt.retryAfter {
				t.Errorf("RetryAfter %v, want %v", se.RetryAfter, tt.retryAfter)
			}
		})
	}
}

// TestTokenNeverLeaks sends through every path, success and failure, with
// debug logging, and checks the auth token shows in no log line and no
// error text.
func TestTokenNeverLeaks(t *testing.T) {
	const token = "LeakCanary0123456789LeakCanary01"
	var logs bytes.Buffer
	log := slog.New(slog.NewJSONHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	em := emulatortest.Start(t, emulator.Options{
		Accounts: map[string]string{emulatortest.AccountSID: token},
		Logger:   log,
	})
	cfg := twilio.Config{AccountSID: emulatortest.AccountSID, AuthToken: secret.New(token), From: "+15005550006", APIURL: em.URL()}
	var texts []string
	send := func(c twilio.Config, ctx context.Context, to string) {
		s, err := twilio.New(c, twilio.Options{Logger: log, Now: func() time.Time { return now }})
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		_, err = s.Send(ctx, outgoing(to, "ko"))
		if err != nil {
			texts = append(texts, err.Error(), fmt.Sprintf("%+v %#v", err, err))
			if b, jerr := json.Marshal(err); jerr == nil {
				texts = append(texts, string(b))
			}
		}
	}
	send(cfg, sendCtx(t), "+821012345678") // accepted
	em.RejectNumber("+821000000001", 21211)
	send(cfg, sendCtx(t), "+821000000001")
	em.RateLimitNext(1, time.Second)
	send(cfg, sendCtx(t), "+821012345678")
	em.FailNext(1, 500)
	send(cfg, sendCtx(t), "+821012345678")
	em.HangNext(1)
	short, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	send(cfg, short, "+821012345678")
	cancel()
	// The emulator knows another token, so this one is refused.
	wrong := cfg
	wrong.AuthToken = secret.New(token + "x")
	send(wrong, sendCtx(t), "+821012345678")
	dead := cfg
	dead.APIURL = deadServer(t)
	send(dead, sendCtx(t), "+821012345678")
	// A token twilio-go would refuse never reaches the request.
	bad := cfg
	bad.AuthToken = secret.New(token + "!")
	if _, err := twilio.New(bad, twilio.Options{Logger: log}); err != nil {
		texts = append(texts, err.Error())
	} else {
		t.Error("New accepted a token with a symbol")
	}

	if len(texts) < 7 {
		t.Fatalf("only %d error texts collected; the failure paths did not run", len(texts))
	}
	all := logs.String() + strings.Join(texts, "\n")
	if strings.Contains(all, token) {
		t.Errorf("the auth token leaked:\n%s", all)
	}
	if !strings.Contains(logs.String(), "sms accepted") || !strings.Contains(logs.String(), "sms attempt failed") {
		t.Errorf("debug logs missing, so the test proves nothing:\n%s", logs.String())
	}
}
