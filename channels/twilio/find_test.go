package twilio_test

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/oob-relay/relay/channels/twilio"
	"github.com/oob-relay/relay/channels/twilio/emulator"
	"github.com/oob-relay/relay/channels/twilio/emulator/emulatortest"
	"github.com/oob-relay/relay/channels/twilio/segment"
	"github.com/oob-relay/relay/internal/testkit"
	"github.com/oob-relay/relay/relay"
	"github.com/oob-relay/relay/relay/secret"
)

// startAt is start with the emulator's clock at now, to be moved. Its
// messaging service sends from a number of its own.
func startAt(t *testing.T) (*emulator.Emulator, twilio.Config, *testkit.Clock) {
	t.Helper()
	clk := testkit.NewClock(now)
	em := emulatortest.Start(t, emulator.Options{CallbackDelay: 5 * time.Millisecond, Now: clk.Now, ServiceFrom: "+15005550008"})
	return em, twilio.Config{
		AccountSID: emulatortest.AccountSID,
		AuthToken:  secret.New(emulatortest.AuthToken),
		From:       "+15005550006",
		APIURL:     em.URL(),
	}, clk
}

// replyOut is outgoing with the person's reply code.
func replyOut(phone, lang, code string) *relay.Outgoing {
	out := outgoing(phone, lang)
	out.ReplyCode = code
	return out
}

// mustSend sends out and returns the message's SID.
func mustSend(t *testing.T, s *twilio.SMS, out *relay.Outgoing) string {
	t.Helper()
	rc, err := s.Send(sendCtx(t), out)
	if err != nil {
		t.Fatal(err)
	}
	return rc.ProviderID
}

// other is a delivery of another message to the same person.
func other(i int) *relay.Outgoing {
	out := replyOut("+821012345678", "ko", "KP47")
	out.Message.Text = "다른 메시지 " + strconv.Itoa(i)
	return out
}

// fill sends n other messages to the same person.
func fill(t *testing.T, s *twilio.SMS, n int) {
	t.Helper()
	for i := range n {
		mustSend(t, s, other(i))
	}
}

func find(t *testing.T, s *twilio.SMS, out *relay.Outgoing, since time.Time) (relay.Report, bool) {
	t.Helper()
	r, found, err := s.Find(sendCtx(t), out, since)
	if err != nil {
		t.Fatal(err)
	}
	return r, found
}

func TestSMSFindFindsTheSentMessage(t *testing.T) {
	em, cfg, clk := startAt(t)
	s := newSMS(t, cfg, nil)
	out := replyOut("+821012345678", "ko", "KP47")
	mustSend(t, s, other(1)) // before, to the same person
	clk.Set(now.Add(time.Minute))
	sid := mustSend(t, s, out)
	clk.Set(now.Add(2 * time.Minute))
	mustSend(t, s, other(2)) // after

	r, found := find(t, s, out, now.Add(30*time.Second))
	body := twilio.WithReplyCode(twilio.RenderBody(out.Message, "ko"), "KP47", "ko")
	if !found || r.ProviderID != sid || r.Segments != segment.Count(body).Segments || r.ProviderSegments != 0 {
		t.Errorf("Find = %+v, %v; want %s with %d segments", r, found, sid, segment.Count(body).Segments)
	}

	// Its status as Track reports it.
	if _, err := em.WaitMessage(sendCtx(t), sid, func(m emulator.Message) bool { return m.Status == "delivered" }); err != nil {
		t.Fatal(err)
	}
	tracked, err := s.Track(sendCtx(t), sid)
	if err != nil {
		t.Fatal(err)
	}
	tracked.Segments = r.Segments
	if r, _ := find(t, s, out, now); r != tracked || r.Status != relay.StatusDelivered {
		t.Errorf("Find = %+v, Track = %+v; want delivered", r, tracked)
	}
	em.UpdateMessage(sid, func(m *emulator.Message) { m.Status, m.ErrorCode = "undelivered", 30003 })
	want := relay.Report{ProviderID: sid, Status: relay.StatusFailed, Reason: relay.ReasonRecipient, Code: "30003",
		Error: "message undelivered: unreachable handset (Twilio error 30003)", Temporary: true, Segments: r.Segments}
	if r, _ := find(t, s, out, now); r != want {
		t.Errorf("Find = %+v\nwant   %+v", r, want)
	}
}

func TestSMSFindOnlyThisDeliverySinceThen(t *testing.T) {
	base := replyOut("+821012345678", "ko", "KP47")
	tests := []struct {
		name  string
		send  func(t *testing.T, s *twilio.SMS, cfg twilio.Config, clk *testkit.Clock) // at now
		since time.Time
		found bool
	}{
		{name: "nothing sent", send: func(*testing.T, *twilio.SMS, twilio.Config, *testkit.Clock) {}, since: now},
		{name: "sent", since: now, found: true},
		{name: "sent within a second of since", since: now.Add(999 * time.Millisecond), found: true},
		{name: "sent before since", since: now.Add(2 * time.Second)},
		{name: "sent the day before", since: now, send: func(t *testing.T, s *twilio.SMS, _ twilio.Config, clk *testkit.Clock) {
			clk.Set(now.Add(-24 * time.Hour))
			mustSend(t, s, base)
		}},
		{name: "sent a moment before midnight", since: time.Date(2026, 11, 4, 0, 0, 0, 0, time.UTC), found: true,
			send: func(t *testing.T, s *twilio.SMS, _ twilio.Config, clk *testkit.Clock) {
				clk.Set(time.Date(2026, 11, 3, 23, 59, 59, 500e6, time.UTC)) // listed as sent on the day before
				mustSend(t, s, base)
			}},
		{name: "other text", since: now, send: func(t *testing.T, s *twilio.SMS, _ twilio.Config, _ *testkit.Clock) {
			mustSend(t, s, other(1))
		}},
		{name: "other reply code", since: now, send: func(t *testing.T, s *twilio.SMS, _ twilio.Config, _ *testkit.Clock) {
			mustSend(t, s, replyOut("+821012345678", "ko", "KP48"))
		}},
		{name: "other language", since: now, send: func(t *testing.T, s *twilio.SMS, _ twilio.Config, _ *testkit.Clock) {
			mustSend(t, s, replyOut("+821012345678", "en", "KP47"))
		}},
		{name: "other person", since: now, send: func(t *testing.T, s *twilio.SMS, _ twilio.Config, _ *testkit.Clock) {
			mustSend(t, s, replyOut("+821087654321", "ko", "KP47"))
		}},
		// The node that died may have sent from a number of its own.
		{name: "another sender", since: now, found: true, send: func(t *testing.T, _ *twilio.SMS, cfg twilio.Config, _ *testkit.Clock) {
			cfg.From = "+15005550007"
			mustSend(t, newSMS(t, cfg, nil), base)
		}},
		{name: "a messaging service", since: now, found: true, send: func(t *testing.T, _ *twilio.SMS, cfg twilio.Config, _ *testkit.Clock) {
			cfg.From, cfg.MessagingServiceSID = "", serviceSID
			mustSend(t, newSMS(t, cfg, nil), base)
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, cfg, clk := startAt(t)
			s := newSMS(t, cfg, nil)
			if tt.send == nil {
				mustSend(t, s, base)
			} else {
				tt.send(t, s, cfg, clk)
			}
			if _, found := find(t, s, replyOut("+821012345678", "ko", "KP47"), tt.since); found != tt.found {
				t.Errorf("found %v, want %v", found, tt.found)
			}
		})
	}
}

func TestSMSFindWithoutSince(t *testing.T) {
	_, cfg, clk := startAt(t)
	s := newSMS(t, cfg, nil)
	out := replyOut("+821012345678", "ko", "KP47")
	clk.Set(now.AddDate(0, -1, 0))
	sid := mustSend(t, s, out)
	if r, found := find(t, s, out, time.Time{}); !found || r.ProviderID != sid {
		t.Errorf("found %v %s, want %s", found, r.ProviderID, sid)
	}
}

func TestSMSFindOldestOfSeveral(t *testing.T) {
	_, cfg, clk := startAt(t)
	s := newSMS(t, cfg, nil)
	out := replyOut("+821012345678", "ko", "KP47")
	first := mustSend(t, s, out)
	clk.Set(now.Add(time.Second))
	mustSend(t, s, out)
	if r, found := find(t, s, out, now); !found || r.ProviderID != first {
		t.Errorf("found %v %s, want the first, %s", found, r.ProviderID, first)
	}
}

func TestSMSFindThroughMessagingService(t *testing.T) {
	em, cfg, _ := startAt(t)
	cfg.From, cfg.MessagingServiceSID = "", serviceSID
	s := newSMS(t, cfg, nil)
	out := replyOut("+821012345678", "ko", "KP47")
	out.Message.Text = "서버실 화재. 대피하세요."
	sid := mustSend(t, s, out)
	// A later copy sent from a number of the account matches too; the
	// oldest match is the one reported.
	direct := cfg
	direct.From, direct.MessagingServiceSID = "+15005550006", ""
	mustSend(t, newSMS(t, direct, nil), out)

	r, found := find(t, s, out, now)
	if !found || r.ProviderID != sid {
		t.Errorf("found %v %s, want %s", found, r.ProviderID, sid)
	}
	// Twilio's segment count once the service picked a sender, when it
	// differs from relay's.
	em.UpdateMessage(sid, func(m *emulator.Message) { m.Segments = 3 })
	if r, _ := find(t, s, out, now); r.Segments != 1 || r.ProviderSegments != 3 {
		t.Errorf("segments %d, provider's %d; want 1 and 3", r.Segments, r.ProviderSegments)
	}
}

func TestSMSFindReadsPages(t *testing.T) {
	em, cfg, clk := startAt(t)
	s := newSMS(t, cfg, nil)
	out := replyOut("+821012345678", "ko", "KP47")
	sid := mustSend(t, s, out)
	clk.Set(now.Add(time.Second))
	fill(t, s, 150) // newer, so the message is on the second page
	before := em.Requests()
	if r, found := find(t, s, out, now); !found || r.ProviderID != sid {
		t.Errorf("found %v %s, want %s", found, r.ProviderID, sid)
	}
	if n := em.Requests() - before; n != 2 {
		t.Errorf("%d requests, want 2 pages", n)
	}
	// A fault on the second page is the search's error.
	em.SlowNext(1, time.Millisecond)
	em.FailNext(1, 503)
	_, found, err := s.Find(sendCtx(t), out, now)
	assertSendError(t, err, relay.ReasonProvider, true, "20503")
	if found {
		t.Error("found despite the error")
	}
}

func TestSMSFindStopsBeforeSince(t *testing.T) {
	em, cfg, clk := startAt(t)
	s := newSMS(t, cfg, nil)
	fill(t, s, 120)
	clk.Set(now.Add(time.Hour))
	before := em.Requests()
	if _, found := find(t, s, replyOut("+821012345678", "ko", "KP47"), now.Add(time.Hour)); found {
		t.Error("found a message never sent")
	}
	if n := em.Requests() - before; n != 1 {
		t.Errorf("%d requests, want 1: the first page already reaches back before since", n)
	}
}

func TestSMSFindIsBounded(t *testing.T) {
	em, cfg, clk := startAt(t)
	s := newSMS(t, cfg, nil)
	out := replyOut("+821012345678", "ko", "KP47")
	mustSend(t, s, out)
	clk.Set(now.Add(time.Second))
	fill(t, s, 500)
	before := em.Requests()
	if _, found := find(t, s, out, now); found {
		t.Error("found a message beyond 5 pages of 100")
	}
	if n := em.Requests() - before; n != 5 {
		t.Errorf("%d requests, want 5 pages", n)
	}
}

func TestSMSFindErrors(t *testing.T) {
	em, cfg, _ := startAt(t)
	s := newSMS(t, cfg, nil)
	out := replyOut("+821012345678", "ko", "KP47")
	mustSend(t, s, out)

	em.FailNext(1, 503)
	_, found, err := s.Find(sendCtx(t), out, now)
	assertSendError(t, err, relay.ReasonProvider, true, "20503")
	if found {
		t.Error("found despite the error")
	}

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, _, err = s.Find(ctx, out, now)
	assertSendError(t, err, relay.ReasonTimeout, true, "")

	em.HangNext(1)
	ctx, cancel = context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	began := time.Now()
	_, _, err = s.Find(ctx, out, now)
	assertSendError(t, err, relay.ReasonTimeout, true, "")
	if d := time.Since(began); d > 2*time.Second {
		t.Errorf("Find returned %v after its context ended", d)
	}

	// What Send refuses without a request was never sent.
	before := em.Requests()
	for _, phone := range []string{"", "010-1234-5678"} {
		if _, found := find(t, s, replyOut(phone, "ko", "KP47"), now); found {
			t.Errorf("%q: found", phone)
		}
	}
	if n := em.Requests() - before; n != 0 {
		t.Errorf("%d requests without a valid phone", n)
	}
	if _, _, err := s.Find(sendCtx(t), nil, now); err == nil {
		t.Error("Find(nil) gave no error")
	}
}

// TestFindQueuedMessage: a message Twilio accepted but has not sent yet
// (date_sent still empty) is found: a node that died right after the
// create must not have it sent twice.
func TestFindQueuedMessage(t *testing.T) {
	clock := func() time.Time { return now }
	em := emulatortest.Start(t, emulator.Options{CallbackDelay: time.Hour, Now: clock})
	s, err := twilio.New(twilio.Config{AccountSID: emulatortest.AccountSID, AuthToken: secret.New(emulatortest.AuthToken),
		From: "+15005550006", APIURL: em.URL()}, twilio.Options{Now: clock})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	out := replyOut("+821012345678", "ko", "KP47")
	since := now.Add(-time.Second)
	sid := mustSend(t, s, out)
	if ms := em.Messages(); len(ms) != 1 || ms[0].Status != "queued" || !ms[0].Sent.IsZero() {
		t.Fatalf("emulator holds %+v, want one message still queued", ms)
	}
	r, found, err := s.Find(sendCtx(t), out, since)
	if err != nil || !found || r.ProviderID != sid || r.Status != "" {
		t.Fatalf("Find = %+v, %v, %v; want the queued message %s, still on its way", r, found, err, sid)
	}
}
