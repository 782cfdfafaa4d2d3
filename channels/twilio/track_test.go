package twilio_test

import (
	"context"
	"errors"
	"net/url"
	"strconv"
	"testing"
	"time"

	"github.com/oob-relay/relay/channels/twilio"
	"github.com/oob-relay/relay/channels/twilio/emulator"
	"github.com/oob-relay/relay/relay"
)

// fromCallback is what ParseStatus makes of a status callback with the
// given form, as a relay.Report: the mapping Track must share.
func fromCallback(t *testing.T, form url.Values) relay.Report {
	t.Helper()
	r, err := twilio.ParseStatus(form)
	if err != nil {
		t.Fatalf("ParseStatus(%v): %v", form, err)
	}
	return relay.Report{ProviderID: r.SID, Status: r.Status, Reason: r.Reason, Code: r.Code, Error: r.Error, Temporary: r.Temporary}
}

func TestSMSTrackMapsEveryStatus(t *testing.T) {
	em, cfg := start(t)
	s := newSMS(t, cfg, nil)
	tests := []struct {
		status    string
		code      int
		want      relay.Status
		reason    relay.Reason
		temporary bool
		text      string
	}{
		{status: "accepted"},
		{status: "scheduled"},
		{status: "queued"},
		{status: "sending"},
		{status: "sent", want: relay.StatusSent},
		{status: "delivered", want: relay.StatusDelivered},
		{status: "read", want: relay.StatusDelivered},
		{status: "partially_delivered", want: relay.StatusDelivered},
		{status: "undelivered", code: 30003, want: relay.StatusFailed, reason: relay.ReasonRecipient, temporary: true,
			text: "message undelivered: unreachable handset (Twilio error 30003)"},
		{status: "undelivered", code: 30005, want: relay.StatusFailed, reason: relay.ReasonRecipient,
			text: "message undelivered: unknown handset (Twilio error 30005)"},
		{status: "undelivered", want: relay.StatusFailed, reason: relay.ReasonUnknown, text: "message undelivered"},
		{status: "failed", code: 30007, want: relay.StatusFailed, reason: relay.ReasonRejected,
			text: "message failed: filtered by the carrier (Twilio error 30007)"},
		{status: "failed", code: 30008, want: relay.StatusFailed, reason: relay.ReasonProvider, temporary: true,
			text: "message failed: unknown error (Twilio error 30008)"},
		{status: "failed", code: 21610, want: relay.StatusFailed, reason: relay.ReasonUnsubscribe,
			text: "message failed: unsubscribed recipient (Twilio error 21610)"},
		{status: "canceled", want: relay.StatusFailed, reason: relay.ReasonUnknown, text: "message canceled"},
	}
	for _, tt := range tests {
		t.Run(tt.status+"/"+strconv.Itoa(tt.code), func(t *testing.T) {
			rc, err := s.Send(sendCtx(t), outgoing("+821012345678", "ko"))
			if err != nil {
				t.Fatal(err)
			}
			em.UpdateMessage(rc.ProviderID, func(m *emulator.Message) { m.Status, m.ErrorCode = tt.status, tt.code })
			got, err := s.Track(sendCtx(t), rc.ProviderID)
			if err != nil {
				t.Fatal(err)
			}
			code := ""
			if tt.code != 0 {
				code = strconv.Itoa(tt.code)
			}
			want := relay.Report{ProviderID: rc.ProviderID, Status: tt.want, Reason: tt.reason, Temporary: tt.temporary, Error: tt.text}
			if tt.want == relay.StatusFailed {
				want.Code = code
			}
			if got != want {
				t.Errorf("Track = %+v\nwant    %+v", got, want)
			}
			form := url.Values{"MessageSid": {rc.ProviderID}, "MessageStatus": {tt.status}, "ErrorCode": {code}}
			if cb := fromCallback(t, form); got != cb {
				t.Errorf("Track = %+v\nbut the status callback says %+v", got, cb)
			}
		})
	}
	// Statuses of inbound messages and those relay does not know: a
	// temporary error, as ParseStatus refuses them.
	for _, status := range []string{"receiving", "received"} {
		rc, err := s.Send(sendCtx(t), outgoing("+821012345678", "ko"))
		if err != nil {
			t.Fatal(err)
		}
		em.UpdateMessage(rc.ProviderID, func(m *emulator.Message) { m.Status = status })
		_, err = s.Track(sendCtx(t), rc.ProviderID)
		assertSendError(t, err, relay.ReasonProvider, true, "")
	}
}

func TestSMSTrackFollowsDelivery(t *testing.T) {
	em, cfg := start(t)
	em.FailDelivery("+821000000003", emulator.Undelivered, 30003)
	s := newSMS(t, cfg, nil)
	for phone, want := range map[string]relay.Report{
		"+821012345678": {Status: relay.StatusDelivered},
		"+821000000003": {Status: relay.StatusFailed, Reason: relay.ReasonRecipient, Code: "30003", Temporary: true,
			Error: "message undelivered: unreachable handset (Twilio error 30003)"},
	} {
		rc, err := s.Send(sendCtx(t), outgoing(phone, "ko"))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := em.WaitMessage(sendCtx(t), rc.ProviderID, func(m emulator.Message) bool { return emulator.Final(m.Status) }); err != nil {
			t.Fatal(err)
		}
		got, err := s.Track(sendCtx(t), rc.ProviderID)
		want.ProviderID = rc.ProviderID
		if err != nil || got != want {
			t.Errorf("%s: Track = %+v, %v; want %+v", phone, got, err, want)
		}
	}
}

func TestSMSTrackErrors(t *testing.T) {
	em, cfg := start(t)
	s := newSMS(t, cfg, nil)

	// A message Twilio does not know: permanent.
	_, err := s.Track(sendCtx(t), "SM00000000000000000000000000000000")
	assertSendError(t, err, relay.ReasonRejected, false, "20404")

	// What is not a message SID never reaches Twilio.
	before := em.Requests()
	for _, id := range []string{"", "CA00000000000000000000000000000000", "SM../../Calls", "SM0000000000000000000000000000000g"} {
		_, err := s.Track(sendCtx(t), id)
		assertSendError(t, err, relay.ReasonRejected, false, "")
	}
	if n := em.Requests() - before; n != 0 {
		t.Errorf("%d requests for ids that are not SIDs", n)
	}

	rc, err := s.Send(sendCtx(t), outgoing("+821012345678", "ko"))
	if err != nil {
		t.Fatal(err)
	}
	em.FailNext(1, 503)
	_, err = s.Track(sendCtx(t), rc.ProviderID)
	assertSendError(t, err, relay.ReasonProvider, true, "20503")
	em.RateLimitNext(1, 2*time.Second)
	_, err = s.Track(sendCtx(t), rc.ProviderID)
	if se := assertSendError(t, err, relay.ReasonRateLimited, true, "20429"); se.RetryAfter != 2*time.Second {
		t.Errorf("RetryAfter %v", se.RetryAfter)
	}

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err = s.Track(ctx, rc.ProviderID)
	assertSendError(t, err, relay.ReasonTimeout, true, "")

	em.HangNext(1)
	ctx, cancel = context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	began := time.Now()
	_, err = s.Track(ctx, rc.ProviderID)
	assertSendError(t, err, relay.ReasonTimeout, true, "")
	if d := time.Since(began); d > 2*time.Second {
		t.Errorf("Track returned %v after its context ended", d)
	}
}

func TestVoiceTrackMapsEveryStatus(t *testing.T) {
	em, cfg := start(t)
	v := newVoice(t, cfg, nil)
	tests := []struct {
		status    string
		want      relay.Status
		reason    relay.Reason
		temporary bool
	}{
		{status: "queued"},
		{status: "ringing"},
		{status: "in-progress"},
		{status: "completed", want: relay.StatusSent},
		{status: "busy", want: relay.StatusFailed, reason: relay.ReasonRecipient, temporary: true},
		{status: "no-answer", want: relay.StatusFailed, reason: relay.ReasonRecipient, temporary: true},
		{status: "failed", want: relay.StatusFailed, reason: relay.ReasonRecipient},
		{status: "canceled", want: relay.StatusFailed, reason: relay.ReasonUnknown},
	}
	for _, tt := range tests {
		t.Run(tt.status, func(t *testing.T) {
			rc, err := v.Send(sendCtx(t), callOut("+821012345678", "ko", nil))
			if err != nil {
				t.Fatal(err)
			}
			em.UpdateCall(rc.ProviderID, func(c *emulator.Call) { c.Status = tt.status })
			got, err := v.Track(sendCtx(t), rc.ProviderID)
			if err != nil {
				t.Fatal(err)
			}
			want := relay.Report{ProviderID: rc.ProviderID, Status: tt.want, Reason: tt.reason, Temporary: tt.temporary}
			if tt.want == relay.StatusFailed {
				want.Error = "call " + tt.status
			}
			if got != want {
				t.Errorf("Track = %+v\nwant    %+v", got, want)
			}
			form := url.Values{"CallSid": {rc.ProviderID}, "CallStatus": {tt.status}}
			if cb := fromCallback(t, form); got != cb {
				t.Errorf("Track = %+v\nbut the status callback says %+v", got, cb)
			}
		})
	}
}

func TestVoiceTrackFollowsCall(t *testing.T) {
	em, cfg := start(t)
	em.SetCallOutcome("+821000000002", emulator.CallBusy)
	v := newVoice(t, cfg, nil)
	for phone, want := range map[string]relay.Report{
		"+821012345678": {Status: relay.StatusSent},
		"+821000000002": {Status: relay.StatusFailed, Reason: relay.ReasonRecipient, Temporary: true, Error: "call busy"},
	} {
		rc, err := v.Send(sendCtx(t), callOut(phone, "ko", nil))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := em.WaitCall(sendCtx(t), rc.ProviderID, func(c emulator.Call) bool { return emulator.Final(c.Status) }); err != nil {
			t.Fatal(err)
		}
		got, err := v.Track(sendCtx(t), rc.ProviderID)
		want.ProviderID = rc.ProviderID
		if err != nil || got != want {
			t.Errorf("%s: Track = %+v, %v; want %+v", phone, got, err, want)
		}
	}

	_, err := v.Track(sendCtx(t), "CA00000000000000000000000000000000")
	assertSendError(t, err, relay.ReasonRejected, false, "20404")
	_, err = v.Track(sendCtx(t), "SM00000000000000000000000000000000")
	assertSendError(t, err, relay.ReasonRejected, false, "")
	em.FailNext(1, 503)
	_, err = v.Track(sendCtx(t), "CA00000000000000000000000000000000")
	assertSendError(t, err, relay.ReasonProvider, true, "20503")
}

func TestVoiceFindIsUnsupported(t *testing.T) {
	em, cfg := start(t)
	v := newVoice(t, cfg, nil)
	if _, err := v.Send(sendCtx(t), callOut("+821012345678", "ko", nil)); err != nil {
		t.Fatal(err)
	}
	before := em.Requests()
	r, found, err := v.Find(sendCtx(t), callOut("+821012345678", "ko", nil), now.Add(-time.Hour))
	if !errors.Is(err, errors.ErrUnsupported) || found || r != (relay.Report{}) {
		t.Errorf("Find = %+v, %v, %v; want ErrUnsupported", r, found, err)
	}
	var se *relay.SendError
	if !errors.As(err, &se) || se.Temporary {
		t.Errorf("error %v is not a permanent SendError", err)
	}
	if n := em.Requests() - before; n != 0 {
		t.Errorf("Find made %d requests", n)
	}
}
