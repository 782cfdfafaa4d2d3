package twilio_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/oob-relay/relay/channels/twilio"
	"github.com/oob-relay/relay/channels/twilio/emulator"
	"github.com/oob-relay/relay/channels/twilio/emulator/emulatortest"
	"github.com/oob-relay/relay/channels/twilio/segment"
	"github.com/oob-relay/relay/relay"
	"github.com/oob-relay/relay/relay/secret"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

const serviceSID = "MG0123456789abcdef0123456789abcdef"

var now = time.Date(2026, 11, 3, 9, 0, 0, 0, time.UTC)

// start returns an emulator (contract check on when the description is
// present) and the config of a sender pointed at it.
func start(t *testing.T) (*emulator.Emulator, twilio.Config) {
	t.Helper()
	em := emulatortest.Start(t, emulator.Options{CallbackDelay: 5 * time.Millisecond})
	return em, twilio.Config{
		AccountSID: emulatortest.AccountSID,
		AuthToken:  secret.New(emulatortest.AuthToken),
		From:       "+15005550006",
		APIURL:     em.URL(),
	}
}

func newSMS(t *testing.T, cfg twilio.Config, log *slog.Logger) *twilio.SMS {
	t.Helper()
	s, err := twilio.New(cfg, twilio.Options{Logger: log, Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// outgoing is a delivery of a critical message to a Korean reader, due in
// an hour.
func outgoing(phone, lang string) *relay.Outgoing {
	msg := &relay.Message{
		ID: "m1", Incident: "db-fire", Severity: relay.SeverityCritical,
		Text:     "서버실 화재. 3층 계단으로 대피하세요. 🔥",
		Deadline: now.Add(time.Hour),
	}
	p := &relay.Person{ID: "kim", Phone: phone, Lang: lang}
	return &relay.Outgoing{DeliveryID: relay.DeliveryID(msg.ID, relay.ChannelSMS, p.ID), Channel: relay.ChannelSMS,
		Attempt: 1, Message: msg, Person: p}
}

func sendCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func TestSendKoreanArrivesIntact(t *testing.T) {
	em, cfg := start(t)
	s := newSMS(t, cfg, nil)
	out := outgoing("+821012345678", "")
	rc, err := s.Send(sendCtx(t), out)
	if err != nil {
		t.Fatal(err)
	}
	msgs := em.Messages()
	if len(msgs) != 1 {
		t.Fatalf("emulator got %d messages, want 1", len(msgs))
	}
	m := msgs[0]
	want := twilio.RenderBody(out.Message, "ko")
	if !bytes.Equal([]byte(m.Body), []byte(want)) {
		t.Errorf("body arrived as %q, want the bytes of %q", m.Body, want)
	}
	if !bytes.HasPrefix([]byte(m.Body), []byte("[긴급] db-fire\n")) {
		t.Errorf("body %q does not start with the Korean tag", m.Body)
	}
	if m.To != "+821012345678" || m.From != "+15005550006" || m.MessagingServiceSID != "" {
		t.Errorf("to %q from %q service %q", m.To, m.From, m.MessagingServiceSID)
	}
	if rc.ProviderID != m.SID || rc.Segments != m.Segments || rc.Segments != 1 || rc.Delivered {
		t.Errorf("receipt %+v, record sid %s segments %d", rc, m.SID, m.Segments)
	}
}

func TestSendEnglishReader(t *testing.T) {
	em, cfg := start(t)
	s := newSMS(t, cfg, nil)
	if _, err := s.Send(sendCtx(t), outgoing("+14155550100", "en")); err != nil {
		t.Fatal(err)
	}
	if m := em.Messages()[0]; !bytes.HasPrefix([]byte(m.Body), []byte("[CRITICAL] db-fire\n")) {
		t.Errorf("body %q", m.Body)
	}
}

func TestSendThroughMessagingService(t *testing.T) {
	em, cfg := start(t)
	cfg.From, cfg.MessagingServiceSID = "", serviceSID
	s := newSMS(t, cfg, nil)
	out := outgoing("+821012345678", "ko")
	out.Message.Text = string(bytes.Repeat([]byte("가"), 80)) // two UCS-2 parts
	rc, err := s.Send(sendCtx(t), out)
	if err != nil {
		t.Fatal(err)
	}
	m := em.Messages()[0]
	if m.Form.Get("MessagingServiceSid") != serviceSID || m.Form.Has("From") {
		t.Errorf("form %v: want MessagingServiceSid and no From", m.Form)
	}
	// Twilio answers num_segments 0 until the service picks a sender; the
	// receipt counts them as Twilio will.
	if m.Status != "accepted" && m.Status != "sent" && m.Status != "delivered" {
		t.Errorf("status %q", m.Status)
	}
	if rc.Segments != 2 {
		t.Errorf("receipt segments %d, want 2", rc.Segments)
	}
}

func TestSendSetsCallbackValidityAndAttempt(t *testing.T) {
	em, cfg := start(t)
	s := newSMS(t, cfg, nil)
	for _, tt := range []struct {
		deadline time.Time
		want     string
	}{
		{now.Add(90 * time.Second), "90"},
		{now.Add(500 * time.Millisecond), "1"},
		{now.Add(48 * time.Hour), "36000"},
		{time.Time{}, ""},
	} {
		out := outgoing("+821012345678", "ko")
		out.Message.Deadline = tt.deadline
		out.Attempt = 3
		out.StatusCallback = "https://relay.example.com/twilio/status?d=" + out.DeliveryID
		rc, err := s.Send(sendCtx(t), out)
		if err != nil {
			t.Fatal(err)
		}
		var m emulator.Message
		for _, x := range em.Messages() {
			if x.SID == rc.ProviderID {
				m = x
			}
		}
		if got := m.Form.Get("ValidityPeriod"); got != tt.want {
			t.Errorf("deadline %v: ValidityPeriod %q, want %q", tt.deadline, got, tt.want)
		}
		if m.StatusCallback != out.StatusCallback || m.Form.Get("Attempt") != "3" {
			t.Errorf("StatusCallback %q Attempt %q", m.StatusCallback, m.Form.Get("Attempt"))
		}
	}
	// Without a callback URL none is sent.
	rc, err := s.Send(sendCtx(t), outgoing("+821012345678", "ko"))
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range em.Messages() {
		if m.SID == rc.ProviderID && m.Form.Has("StatusCallback") {
			t.Errorf("StatusCallback sent without one: %v", m.Form)
		}
	}
}

func TestSendRefusesExpiredMessage(t *testing.T) {
	em, cfg := start(t)
	s := newSMS(t, cfg, nil)
	out := outgoing("+821012345678", "ko")
	out.Message.Deadline = now.Add(-time.Second)
	_, err := s.Send(sendCtx(t), out)
	assertSendError(t, err, relay.ReasonExpired, false, "")
	if n := em.Requests(); n != 0 {
		t.Errorf("%d requests for an expired message", n)
	}
}

func TestSendNeedsPhone(t *testing.T) {
	em, cfg := start(t)
	s := newSMS(t, cfg, nil)
	for _, phone := range []string{"", "010-1234-5678"} {
		_, err := s.Send(sendCtx(t), outgoing(phone, "ko"))
		assertSendError(t, err, relay.ReasonRecipient, false, "")
	}
	if n := em.Requests(); n != 0 {
		t.Errorf("%d requests without a valid phone", n)
	}
}

func TestSendIsSafeForConcurrentUse(t *testing.T) {
	em, cfg := start(t)
	s := newSMS(t, cfg, nil)
	const n = 16
	var wg sync.WaitGroup
	sids := make(chan string, n)
	for range n {
		wg.Go(func() {
			rc, err := s.Send(sendCtx(t), outgoing("+821012345678", "ko"))
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
	if len(seen) != n || len(em.Messages()) != n {
		t.Errorf("%d distinct SIDs and %d messages, want %d", len(seen), len(em.Messages()), n)
	}
}

func assertSendError(t *testing.T, err error, reason relay.Reason, temporary bool, code string) *relay.SendError {
	t.Helper()
	var se *relay.SendError
	if !errors.As(err, &se) {
		t.Fatalf("error %v (%T) is not a *relay.SendError", err, err)
	}
	if se.Reason != reason || se.Temporary != temporary || se.Code != code {
		t.Errorf("error %v: reason %s temporary %v code %q, want %s %v %q", err, se.Reason, se.Temporary, se.Code, reason, temporary, code)
	}
	return se
}

// deadServer returns an address nothing listens on.
func deadServer(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return "http://" + addr
}

// proxyAnswer is a server that answers every request like a proxy in
// front of Twilio would, without Twilio's JSON.
func proxyAnswer(t *testing.T, status int, retryAfter string) string {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if retryAfter != "" {
			w.Header().Set("Retry-After", retryAfter)
		}
		w.Header().Set("Content-Type", "text/html")
		w.WriteHeader(status)
		_, _ = w.Write([]byte("<html><body>Bad Gateway</body></html>"))
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}

func TestSendCountsSegments(t *testing.T) {
	em, cfg := start(t)
	s := newSMS(t, cfg, nil)
	service := cfg
	service.From, service.MessagingServiceSID = "", serviceSID
	viaService := newSMS(t, service, nil)
	tests := []struct {
		name     string
		sender   *twilio.SMS
		lang     string
		text     string
		encoding segment.Encoding
		want     int
	}{
		// "[긴급] db-fire\n" and 57 Hangul: 70 UTF-16 units, one part.
		{"korean, one part", s, "ko", strings.Repeat("가", 57), segment.UCS2, 1},
		// One more: 71 units, two parts of at most 67.
		{"korean, two parts", s, "ko", strings.Repeat("가", 58), segment.UCS2, 2},
		// "[CRITICAL] db-fire\n" (21 septets: brackets take two) and 139
		// letters: 160 septets, one part.
		{"english, one part", s, "en", strings.Repeat("a", 139), segment.GSM7, 1},
		{"english, two parts", s, "en", strings.Repeat("a", 140), segment.GSM7, 2},
		// Twilio answers 0 until the service picks a sender: relay's count.
		{"service", viaService, "ko", strings.Repeat("가", 80), segment.UCS2, 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out := outgoing("+821012345678", tt.lang)
			out.Message.Text = tt.text
			rc, err := tt.sender.Send(sendCtx(t), out)
			if err != nil {
				t.Fatal(err)
			}
			info := segment.Count(twilio.RenderBody(out.Message, tt.lang))
			if info.Encoding != tt.encoding || info.Segments != tt.want {
				t.Fatalf("body is %s in %d parts, want %s in %d", info.Encoding, info.Segments, tt.encoding, tt.want)
			}
			if rc.Segments != tt.want || rc.ProviderSegments != 0 {
				t.Errorf("receipt segments %d, provider's %d; want %d and 0", rc.Segments, rc.ProviderSegments, tt.want)
			}
			m, _ := em.WaitMessage(sendCtx(t), rc.ProviderID, func(emulator.Message) bool { return true })
			if m.Encoding != tt.encoding {
				t.Errorf("Twilio sends it as %s, want %s", m.Encoding, tt.encoding)
			}
		})
	}
}
