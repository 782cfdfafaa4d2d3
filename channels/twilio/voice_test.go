package twilio_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/oob-relay/relay/channels/twilio"
	"github.com/oob-relay/relay/channels/twilio/emulator"
	"github.com/oob-relay/relay/channels/twilio/emulator/emulatortest"
	"github.com/oob-relay/relay/relay"
	"github.com/oob-relay/relay/relay/secret"
)

func newVoice(t *testing.T, cfg twilio.Config, log *slog.Logger) *twilio.Voice {
	t.Helper()
	v, err := twilio.NewVoice(cfg, twilio.Options{Logger: log, Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { v.Close() })
	return v
}

// callOut is a voice delivery of a critical message to a person speaking
// lang, with webhooks under base (none when empty).
func callOut(phone, lang string, n *node) *relay.Outgoing {
	msg := &relay.Message{
		ID: "m1", Incident: "db-outage", Severity: relay.SeverityCritical,
		Text:     "주 데이터베이스 장애. 복구 담당자는 브리지에 참여하세요.",
		Deadline: now.Add(time.Hour),
	}
	p := &relay.Person{ID: "kim", Phone: phone, Lang: lang}
	out := &relay.Outgoing{DeliveryID: relay.DeliveryID(msg.ID, relay.ChannelVoice, p.ID), Channel: relay.ChannelVoice,
		Attempt: 1, Message: msg, Person: p}
	if n != nil {
		out.CallbackBase = n.base(out.DeliveryID)
		out.StatusCallback = out.CallbackURL(relay.CallbackStatus)
	}
	return out
}

func TestVoiceCallsKoreanPersonWhoAcknowledges(t *testing.T) {
	const phone = "+821012345678"
	n := newNode(t, emulatortest.AuthToken, "ko")
	em, cfg := start(t)
	em.PressDigits(phone, "1")
	out := callOut(phone, "", n)
	rc, err := newVoice(t, cfg, nil).Send(sendCtx(t), out)
	if err != nil {
		t.Fatal(err)
	}

	calls := em.Calls()
	if len(calls) != 1 {
		t.Fatalf("emulator got %d calls, want 1", len(calls))
	}
	c := calls[0]
	want, err := twilio.RenderCall(out)
	if err != nil {
		t.Fatal(err)
	}
	if c.To != phone || c.From != cfg.From || c.Twiml != want || c.URL != "" {
		t.Errorf("call to %q from %q url %q twiml\n%s", c.To, c.From, c.URL, c.Twiml)
	}
	if !strings.Contains(c.Twiml, `<Say language="ko-KR" voice="Polly.Seoyeon">`+out.Message.Text+`</Say>`) {
		t.Errorf("twiml does not speak the Korean text intact:\n%s", c.Twiml)
	}
	if c.StatusCallback != out.StatusCallback || c.Form.Get("StatusCallbackMethod") != "POST" ||
		!slices.Equal(c.StatusCallbackEvents, []string{"initiated", "ringing", "answered", "completed"}) {
		t.Errorf("status callback %q method %q events %v", c.StatusCallback, c.Form.Get("StatusCallbackMethod"), c.StatusCallbackEvents)
	}
	if c.Timeout != twilio.RingSeconds || c.Form.Has("MachineDetection") {
		t.Errorf("timeout %d, form %v", c.Timeout, c.Form)
	}
	if rc.ProviderID != c.SID || rc.Delivered || rc.Segments != 0 {
		t.Errorf("receipt %+v, call %s", rc, c.SID)
	}

	gather := n.wait(relay.CallbackGather, c.SID, 1)[0]
	if !gather.signed {
		t.Error("the Gather webhook's signature does not validate")
	}
	sid, digits, err := twilio.ParseGather(gather.form)
	if err != nil || sid != c.SID || digits != "1" {
		t.Errorf("ParseGather = %q %q %v", sid, digits, err)
	}
	done, err := em.WaitCall(sendCtx(t), c.SID, func(c emulator.Call) bool { return c.GatherStatus != 0 })
	if err != nil {
		t.Fatal(err)
	}
	if done.GatherStatus != http.StatusOK || !strings.Contains(done.GatherReply, "확인되었습니다") {
		t.Errorf("the call heard %d %q", done.GatherStatus, done.GatherReply)
	}

	var reports []twilio.Report
	for _, h := range n.wait(relay.CallbackStatus, c.SID, 4) {
		if !h.signed {
			t.Errorf("status callback %v: signature does not validate", h.form)
		}
		r, err := twilio.ParseStatus(h.form)
		if err != nil {
			t.Fatal(err)
		}
		reports = append(reports, r)
	}
	var statuses []string
	for _, r := range reports {
		statuses = append(statuses, r.TwilioStatus)
		if r.SID != c.SID || r.Kind != twilio.KindCall {
			t.Errorf("report %+v", r)
		}
	}
	if !slices.Equal(statuses, []string{"initiated", "ringing", "in-progress", "completed"}) {
		t.Errorf("statuses %v", statuses)
	}
	last := reports[len(reports)-1]
	if last.Status != relay.StatusSent || last.Final || last.Reason != "" {
		t.Errorf("a completed call reports %+v, want sent and not final", last)
	}
}

func TestVoiceCallsEnglishPersonWithoutCallbacks(t *testing.T) {
	em, cfg := start(t)
	if _, err := newVoice(t, cfg, nil).Send(sendCtx(t), callOut("+14155550100", "en-US", nil)); err != nil {
		t.Fatal(err)
	}
	c := em.Calls()[0]
	if !strings.Contains(c.Twiml, `<Say language="en-US" voice="Polly.Joanna">This is a relay emergency call.`) ||
		strings.Contains(c.Twiml, "ko-KR") || strings.Contains(c.Twiml, "Gather") {
		t.Errorf("want English and no Gather without a callback URL:\n%s", c.Twiml)
	}
	for _, k := range []string{"StatusCallback", "StatusCallbackEvent", "StatusCallbackMethod"} {
		if c.Form.Has(k) {
			t.Errorf("%s sent without a callback URL: %v", k, c.Form)
		}
	}
}

func TestVoiceCallOutcomes(t *testing.T) {
	tests := []struct {
		outcome   emulator.CallOutcome
		callbacks int // initiated, ringing, busy or no-answer; failed alone
		temporary bool
	}{
		{emulator.CallBusy, 2, true},
		{emulator.CallNoAnswer, 3, true},
		{emulator.CallFailed, 1, false},
	}
	for _, tt := range tests {
		t.Run(string(tt.outcome), func(t *testing.T) {
			const phone = "+821000000002"
			n := newNode(t, emulatortest.AuthToken, "ko")
			em, cfg := start(t)
			em.SetCallOutcome(phone, tt.outcome)
			em.PressDigits(phone, "1") // never pressed: the call is not answered
			rc, err := newVoice(t, cfg, nil).Send(sendCtx(t), callOut(phone, "ko", n))
			if err != nil {
				t.Fatal(err)
			}
			if _, err := em.WaitCall(sendCtx(t), rc.ProviderID, func(c emulator.Call) bool {
				return emulator.Final(c.Status) && c.Callbacks == tt.callbacks
			}); err != nil {
				t.Fatal(err)
			}
			hits := n.wait(relay.CallbackStatus, rc.ProviderID, tt.callbacks)
			for _, h := range hits {
				if !h.signed {
					t.Errorf("status callback %v: signature does not validate", h.form)
				}
			}
			r, err := twilio.ParseStatus(hits[len(hits)-1].form)
			if err != nil {
				t.Fatal(err)
			}
			want := twilio.Report{SID: rc.ProviderID, Kind: twilio.KindCall, TwilioStatus: string(tt.outcome),
				Status: relay.StatusFailed, Reason: relay.ReasonRecipient, Temporary: tt.temporary, Final: true,
				Error: "call " + string(tt.outcome)}
			if r != want {
				t.Errorf("report\n %+v, want\n %+v", r, want)
			}
			for _, h := range hits[:len(hits)-1] {
				if r, err := twilio.ParseStatus(h.form); err != nil || r.Status != "" || r.Final {
					t.Errorf("progress %v: %+v %v", h.form.Get("CallStatus"), r, err)
				}
			}
			if g := n.hits(relay.CallbackGather); g != 0 {
				t.Errorf("%d Gather posts for a call nobody answered", g)
			}
		})
	}
}

func TestVoiceNodeRefusesForgedWebhooks(t *testing.T) {
	// A node that knows another token refuses the emulator's webhooks.
	n := newNode(t, "someothertoken0123456789abcdef01", "ko")
	em, cfg := start(t)
	em.PressDigits("+821012345678", "1")
	rc, err := newVoice(t, cfg, nil).Send(sendCtx(t), callOut("+821012345678", "ko", n))
	if err != nil {
		t.Fatal(err)
	}
	c, err := em.WaitCall(sendCtx(t), rc.ProviderID, func(c emulator.Call) bool { return c.GatherStatus != 0 })
	if err != nil {
		t.Fatal(err)
	}
	if c.GatherStatus != http.StatusForbidden {
		t.Errorf("forged Gather answered %d", c.GatherStatus)
	}
	for _, h := range n.wait(relay.CallbackStatus, rc.ProviderID, 1) {
		if h.signed {
			t.Error("a signature made with another token validated")
		}
	}
}

func TestNewVoiceNeedsFromNumber(t *testing.T) {
	_, base := start(t)
	cfg := base
	cfg.From, cfg.MessagingServiceSID = "", serviceSID
	_, err := twilio.NewVoice(cfg, twilio.Options{})
	if err == nil || !strings.Contains(err.Error(), "from:") {
		t.Errorf("NewVoice with a messaging service only: %v, want an error naming from", err)
	}
	cfg = base
	cfg.AccountSID = "AC1"
	if _, err := twilio.NewVoice(cfg, twilio.Options{}); err == nil || !strings.Contains(err.Error(), "account_sid:") {
		t.Errorf("invalid config: %v", err)
	}
	cfg = base
	cfg.AuthToken, cfg.AuthTokenEnv = secret.String{}, "TWILIO_TOKEN"
	if _, err := twilio.NewVoice(cfg, twilio.Options{}); err == nil || !strings.Contains(err.Error(), "auth_token:") {
		t.Errorf("unresolved token: %v", err)
	}
}

func TestVoiceRefusesWithoutRequest(t *testing.T) {
	em, cfg := start(t)
	v := newVoice(t, cfg, nil)
	expired := callOut("+821012345678", "ko", nil)
	expired.Message.Deadline = now
	_, err := v.Send(sendCtx(t), expired)
	assertSendError(t, err, relay.ReasonExpired, false, "")
	for _, phone := range []string{"", "010-1234-5678"} {
		_, err := v.Send(sendCtx(t), callOut(phone, "ko", nil))
		assertSendError(t, err, relay.ReasonRecipient, false, "")
	}
	_, err = v.Send(sendCtx(t), &relay.Outgoing{})
	assertSendError(t, err, relay.ReasonRejected, false, "")
	if n := em.Requests(); n != 0 {
		t.Errorf("%d requests, want none", n)
	}
}

func TestVoiceIsSafeForConcurrentUse(t *testing.T) {
	em, cfg := start(t)
	v := newVoice(t, cfg, nil)
	const n = 8
	var wg sync.WaitGroup
	sids := make(chan string, n)
	for range n {
		wg.Go(func() {
			rc, err := v.Send(sendCtx(t), callOut("+821012345678", "ko", nil))
			if err != nil {
				t.Error(err)
				return
			}
			sids <- rc.ProviderID
		})
	}
	wg.Wait()
	close(sids)
	seen := map[string]bool{}
	for sid := range sids {
		seen[sid] = true
	}
	if len(seen) != n || len(em.Calls()) != n {
		t.Errorf("%d distinct SIDs and %d calls, want %d", len(seen), len(em.Calls()), n)
	}
}

func TestVoiceClassifiesFaults(t *testing.T) {
	tests := []struct {
		name       string
		script     func(*emulator.Emulator)
		url        func(*testing.T) string // instead of the emulator
		to         string
		reason     relay.Reason
		temporary  bool
		code       string
		retryAfter time.Duration
	}{
		{name: "internal error", script: func(em *emulator.Emulator) { em.FailNext(1, 500) },
			reason: relay.ReasonProvider, temporary: true, code: "20500"},
		{name: "unavailable", script: func(em *emulator.Emulator) { em.FailNext(1, 503) },
			reason: relay.ReasonProvider, temporary: true, code: "20503"},
		{name: "rate limited", script: func(em *emulator.Emulator) { em.RateLimitNext(1, 3*time.Second) },
			reason: relay.ReasonRateLimited, temporary: true, code: "20429", retryAfter: 3 * time.Second},
		{name: "invalid number", script: func(em *emulator.Emulator) { em.RejectNumber("+821000000001", 21211) },
			to: "+821000000001", reason: relay.ReasonRecipient, code: "21211"},
		{name: "number not valid", script: func(em *emulator.Emulator) { em.RejectNumber("+821000000001", 21217) },
			to: "+821000000001", reason: relay.ReasonRecipient, code: "21217"},
		{name: "geo permission", url: func(t *testing.T) string { return twilioAnswer(t, 400, 21215) },
			reason: relay.ReasonPermission, code: "21215"},
		{name: "trial number not verified", url: func(t *testing.T) string { return twilioAnswer(t, 400, 21219) },
			reason: relay.ReasonPermission, code: "21219"},
		{name: "connection refused", url: deadServer, reason: relay.ReasonNetwork, temporary: true},
		{name: "proxy 502", url: func(t *testing.T) string { return proxyAnswer(t, 502, "") },
			reason: relay.ReasonProvider, temporary: true},
		{name: "proxy 429", url: func(t *testing.T) string { return proxyAnswer(t, 429, "4") },
			reason: relay.ReasonRateLimited, temporary: true, retryAfter: 4 * time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			em, cfg := start(t)
			if tt.script != nil {
				tt.script(em)
			}
			if tt.url != nil {
				cfg.APIURL = tt.url(t)
			}
			to := tt.to
			if to == "" {
				to = "+821012345678"
			}
			_, err := newVoice(t, cfg, nil).Send(sendCtx(t), callOut(to, "ko", nil))
			se := assertSendError(t, err, tt.reason, tt.temporary, tt.code)
			if se.RetryAfter != tt.retryAfter {
				t.Errorf("RetryAfter %v, want %v", se.RetryAfter, tt.retryAfter)
			}
			if !strings.HasPrefix(se.Err.Error(), "twilio: create call: ") {
				t.Errorf("error %q does not say a call failed", se.Err)
			}
			if n := len(em.Calls()); n != 0 {
				t.Errorf("%d calls placed", n)
			}
			if n := em.Requests(); tt.script != nil && n != 1 {
				t.Errorf("%d requests, want exactly one attempt", n)
			}
		})
	}
}

// twilioAnswer is a server that refuses every request with Twilio's error
// body for code.
func twilioAnswer(t *testing.T, status, code int) string {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		_, _ = fmt.Fprintf(w, `{"code": %d, "message": "Account not authorized to call +82100", "more_info": "https://www.twilio.com/docs/errors/%d", "status": %d}`, code, code, status)
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}

func TestVoiceHangEndsAtContextDeadline(t *testing.T) {
	em, cfg := start(t)
	em.HangNext(1)
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	_, err := newVoice(t, cfg, nil).Send(ctx, callOut("+821012345678", "ko", nil))
	assertSendError(t, err, relay.ReasonTimeout, true, "")
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("error %v does not wrap context.DeadlineExceeded", err)
	}
	em.HangNext(1)
	cfg.Timeout = 100 * time.Millisecond
	_, err = newVoice(t, cfg, nil).Send(context.Background(), callOut("+821012345678", "ko", nil))
	assertSendError(t, err, relay.ReasonTimeout, true, "")
}

// TestVoiceTokenNeverLeaks places calls through every path, success and
// failure, with debug logging, and checks the auth token shows in no log
// line and no error text.
func TestVoiceTokenNeverLeaks(t *testing.T) {
	const token = "LeakCanary0123456789LeakCanary01"
	var logs bytes.Buffer
	log := slog.New(slog.NewJSONHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	n := newNode(t, token, "ko")
	em := emulatortest.Start(t, emulator.Options{
		Accounts:      map[string]string{emulatortest.AccountSID: token},
		Logger:        log,
		CallbackDelay: 5 * time.Millisecond,
	})
	cfg := twilio.Config{AccountSID: emulatortest.AccountSID, AuthToken: secret.New(token), From: "+15005550006", APIURL: em.URL()}
	var texts []string
	call := func(c twilio.Config, ctx context.Context, to string) string {
		v, err := twilio.NewVoice(c, twilio.Options{Logger: log, Now: func() time.Time { return now }})
		if err != nil {
			t.Fatal(err)
		}
		defer v.Close()
		rc, err := v.Send(ctx, callOut(to, "ko", n))
		if err != nil {
			texts = append(texts, err.Error(), fmt.Sprintf("%+v %#v", err, err))
		}
		return rc.ProviderID
	}
	em.PressDigits("+821012345678", "1")
	sid := call(cfg, sendCtx(t), "+821012345678") // placed, answered, acknowledged
	n.wait(relay.CallbackGather, sid, 1)
	n.wait(relay.CallbackStatus, sid, 4)
	em.RejectNumber("+821000000001", 21211)
	call(cfg, sendCtx(t), "+821000000001")
	em.RateLimitNext(1, time.Second)
	call(cfg, sendCtx(t), "+821012345678")
	em.FailNext(1, 500)
	call(cfg, sendCtx(t), "+821012345678")
	em.HangNext(1)
	short, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	call(cfg, short, "+821012345678")
	cancel()
	wrong := cfg
	wrong.AuthToken = secret.New(token + "x")
	call(wrong, sendCtx(t), "+821012345678")
	dead := cfg
	dead.APIURL = deadServer(t)
	call(dead, sendCtx(t), "+821012345678")
	service := cfg
	service.From, service.MessagingServiceSID = "", serviceSID
	if _, err := twilio.NewVoice(service, twilio.Options{Logger: log}); err != nil {
		texts = append(texts, err.Error())
	}
	bad := cfg
	bad.AuthToken = secret.New(token + "!")
	if _, err := twilio.NewVoice(bad, twilio.Options{Logger: log}); err != nil {
		texts = append(texts, err.Error())
	}

	if len(texts) < 14 {
		t.Fatalf("only %d error texts collected; the failure paths did not run", len(texts))
	}
	all := logs.String() + strings.Join(texts, "\n")
	if strings.Contains(all, token) {
		t.Errorf("the auth token leaked:\n%s", all)
	}
	if !strings.Contains(logs.String(), "voice call placed") || !strings.Contains(logs.String(), "voice attempt failed") {
		t.Errorf("debug logs missing, so the test proves nothing:\n%s", logs.String())
	}
}
