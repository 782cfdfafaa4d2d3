package emulator_test

import (
	"encoding/json"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	openapi "github.com/twilio/twilio-go/rest/api/v2010"

	"github.com/oob-relay/relay/channels/twilio/emulator"
	"github.com/oob-relay/relay/channels/twilio/emulator/emulatortest"
	"github.com/oob-relay/relay/channels/twilio/segment"
)

func TestMessageAnswerAndRecord(t *testing.T) {
	fixed := time.Date(2026, 11, 3, 9, 30, 0, 0, time.FixedZone("KST", 9*3600))
	opts := fastOptions()
	opts.Now = func() time.Time { return fixed }
	em := emulatortest.Start(t, opts)
	body := "[긴급] db-fire\n서버실 화재. 3층 계단으로 대피하세요. 🔥"

	params := (&openapi.CreateMessageParams{}).SetTo("+821012345678").SetFrom("+15005550006").
		SetBody(body).SetValidityPeriod(600)
	msg, err := testAPI(t, em).CreateMessage(params)
	if err != nil {
		t.Fatal(err)
	}
	if len(*msg.Sid) != 34 || !strings.HasPrefix(*msg.Sid, "SM") {
		t.Errorf("sid = %q, want SM and 32 hex digits", *msg.Sid)
	}
	want := map[string]string{
		"account_sid": emulatortest.AccountSID, "to": "+821012345678", "from": "+15005550006",
		"body": body, "status": "queued", "num_segments": "1", "num_media": "0",
		"direction": "outbound-api", "api_version": "2010-04-01",
		"date_created": "Tue, 03 Nov 2026 00:30:00 +0000",
		"uri":          "/2010-04-01/Accounts/" + emulatortest.AccountSID + "/Messages/" + *msg.Sid + ".json",
	}
	got := map[string]string{
		"account_sid": *msg.AccountSid, "to": *msg.To, "from": *msg.From, "body": *msg.Body,
		"status": *msg.Status, "num_segments": *msg.NumSegments, "num_media": *msg.NumMedia,
		"direction": *msg.Direction, "api_version": *msg.ApiVersion, "date_created": *msg.DateCreated,
		"uri": *msg.Uri,
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s = %q, want %q", k, got[k], v)
		}
	}
	if msg.Price != nil || msg.ErrorCode != nil || msg.ErrorMessage != nil {
		t.Errorf("price, error_code and error_message must be null, got %v %v %v", msg.Price, msg.ErrorCode, msg.ErrorMessage)
	}

	recs := em.Messages()
	if len(recs) != 1 {
		t.Fatalf("recorded %d messages, want 1", len(recs))
	}
	r := recs[0]
	if r.SID != *msg.Sid || r.ValidityPeriod != 600 || r.Encoding != segment.UCS2 || r.Segments != 1 {
		t.Errorf("record = %+v", r)
	}
	if string([]byte(r.Body)) != body {
		t.Errorf("body arrived as %q, want %q", r.Body, body)
	}
	if em.Requests() != 1 {
		t.Errorf("requests = %d, want 1", em.Requests())
	}

	fetched, err := testAPI(t, em).FetchMessage(*msg.Sid, nil)
	if err != nil {
		t.Fatal(err)
	}
	if *fetched.Sid != *msg.Sid || *fetched.Body != body {
		t.Errorf("fetched %+v", fetched)
	}
}

func TestMessageNullsInRawJSON(t *testing.T) {
	em := emulatortest.Start(t, fastOptions())
	resp, body := post(t, ctx(t), em, "Messages.json", url.Values{
		"To": {"+821012345678"}, "MessagingServiceSid": {"MG0123456789abcdef0123456789abcdef"}, "Body": {"hi"},
	})
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("status %d: %s", resp.StatusCode, body)
	}
	var raw map[string]any
	if err := json.Unmarshal([]byte(body), &raw); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"price", "error_code", "error_message", "from"} {
		if v, ok := raw[k]; !ok || v != nil {
			t.Errorf("%s = %v (present %v), want null", k, v, ok)
		}
	}
	// A messaging service answers accepted and counts segments later.
	if raw["status"] != "accepted" || raw["num_segments"] != "0" || raw["messaging_service_sid"] != "MG0123456789abcdef0123456789abcdef" {
		t.Errorf("answer %s", body)
	}
	if !strings.Contains(resp.Header.Get("Content-Type"), "application/json") {
		t.Errorf("content type %q", resp.Header.Get("Content-Type"))
	}
}

func TestMessageSegments(t *testing.T) {
	em := emulatortest.Start(t, fastOptions())
	for _, tt := range []struct {
		body string
		want string
	}{
		{strings.Repeat("a", 160), "1"},
		{strings.Repeat("a", 161), "2"},
		{strings.Repeat("가", 70), "1"},
		{strings.Repeat("가", 71), "2"},
		{strings.Repeat("€", 81), "2"},
	} {
		params := (&openapi.CreateMessageParams{}).SetTo("+821012345678").SetFrom("+15005550006").SetBody(tt.body)
		msg, err := testAPI(t, em).CreateMessage(params)
		if err != nil {
			t.Fatal(err)
		}
		if *msg.NumSegments != tt.want {
			t.Errorf("%d characters of %q: num_segments %s, want %s", len([]rune(tt.body)), tt.body[:3], *msg.NumSegments, tt.want)
		}
	}
}

func TestMessageStatusCallbacks(t *testing.T) {
	h := newHook(t, "")
	em := emulatortest.Start(t, fastOptions())
	em.FailDelivery("+821000000003", emulator.Undelivered, 30003)
	em.FailDelivery("+821000000005", emulator.Failed, 30005)

	sids := map[string]string{}
	for _, to := range []string{"+821000000001", "+821000000003", "+821000000005"} {
		params := (&openapi.CreateMessageParams{}).SetTo(to).SetFrom("+15005550006").
			SetBody("안녕").SetStatusCallback(h.url("/status?to=" + url.QueryEscape(to)))
		msg, err := testAPI(t, em).CreateMessage(params)
		if err != nil {
			t.Fatal(err)
		}
		sids[to] = *msg.Sid
	}
	got := h.wait(2 + 2 + 1)
	byTo := map[string][]received{}
	for _, r := range got {
		if !r.Signed {
			t.Errorf("callback %v: X-Twilio-Signature does not validate", r.Form)
		}
		byTo[r.Form.Get("To")] = append(byTo[r.Form.Get("To")], r)
	}
	wantSeq := map[string][]string{
		"+821000000001": {"sent", "delivered"},
		"+821000000003": {"sent", "undelivered"},
		"+821000000005": {"failed"},
	}
	wantCode := map[string]string{"+821000000001": "", "+821000000003": "30003", "+821000000005": "30005"}
	for to, seq := range wantSeq {
		rs := byTo[to]
		if s := statuses(rs, "MessageStatus"); !slices.Equal(s, seq) {
			t.Errorf("%s: statuses %v, want %v", to, s, seq)
			continue
		}
		last := rs[len(rs)-1].Form
		if last.Get("ErrorCode") != wantCode[to] {
			t.Errorf("%s: ErrorCode %q, want %q", to, last.Get("ErrorCode"), wantCode[to])
		}
		for _, k := range []string{"MessageSid", "SmsSid"} {
			if last.Get(k) != sids[to] {
				t.Errorf("%s: %s = %q, want %q", to, k, last.Get(k), sids[to])
			}
		}
		for k, v := range map[string]string{"AccountSid": emulatortest.AccountSID, "ApiVersion": "2010-04-01",
			"From": "+15005550006", "SmsStatus": seq[len(seq)-1]} {
			if last.Get(k) != v {
				t.Errorf("%s: %s = %q, want %q", to, k, last.Get(k), v)
			}
		}
	}
	m, err := em.WaitMessage(ctx(t), sids["+821000000003"], func(m emulator.Message) bool { return m.Callbacks == 2 })
	if err != nil {
		t.Fatal(err)
	}
	if m.Status != "undelivered" || m.ErrorCode != 30003 {
		t.Errorf("record %+v", m)
	}
	fetched, err := testAPI(t, em).FetchMessage(sids["+821000000005"], nil)
	if err != nil {
		t.Fatal(err)
	}
	if *fetched.Status != "failed" || fetched.ErrorCode == nil || *fetched.ErrorCode != 30005 {
		t.Errorf("fetched failed message: status %s error %v", *fetched.Status, fetched.ErrorCode)
	}
}

func TestLostCallbacks(t *testing.T) {
	h := newHook(t, "")
	em := emulatortest.Start(t, fastOptions())
	em.LoseCallbacks("+821000000009")
	params := (&openapi.CreateMessageParams{}).SetTo("+821000000009").SetFrom("+15005550006").
		SetBody("hi").SetStatusCallback(h.url("/status"))
	msg, err := testAPI(t, em).CreateMessage(params)
	if err != nil {
		t.Fatal(err)
	}
	m, err := em.WaitMessage(ctx(t), *msg.Sid, func(m emulator.Message) bool { return m.Status == "delivered" })
	if err != nil {
		t.Fatal(err)
	}
	// Close waits for every goroutine, so nothing can still be on its way.
	if err := em.Close(); err != nil {
		t.Fatal(err)
	}
	if m.Callbacks != 0 || len(h.received()) != 0 {
		t.Errorf("lost callbacks were posted: record %d, received %d", m.Callbacks, len(h.received()))
	}
}

func TestMessagingServiceSender(t *testing.T) {
	em := emulatortest.Start(t, fastOptions())
	params := (&openapi.CreateMessageParams{}).SetTo("+821012345678").
		SetMessagingServiceSid("MG0123456789abcdef0123456789abcdef").SetBody(strings.Repeat("가", 71))
	msg, err := testAPI(t, em).CreateMessage(params)
	if err != nil {
		t.Fatal(err)
	}
	m, err := em.WaitMessage(ctx(t), *msg.Sid, func(m emulator.Message) bool { return m.Status == "delivered" })
	if err != nil {
		t.Fatal(err)
	}
	if m.From != emulator.DefaultServiceFrom || m.Segments != 2 {
		t.Errorf("after sending, from %q segments %d; want %s and 2", m.From, m.Segments, emulator.DefaultServiceFrom)
	}
}

func TestOnMessage(t *testing.T) {
	got := make(chan emulator.Message, 1)
	opts := fastOptions()
	opts.OnMessage = func(m emulator.Message) { got <- m }
	em := emulatortest.Start(t, opts)
	params := (&openapi.CreateMessageParams{}).SetTo("+821012345678").SetFrom("+15005550006").SetBody("대피")
	if _, err := testAPI(t, em).CreateMessage(params); err != nil {
		t.Fatal(err)
	}
	select {
	case m := <-got:
		if m.Body != "대피" || m.To != "+821012345678" {
			t.Errorf("hook got %+v", m)
		}
	case <-ctx(t).Done():
		t.Fatal("OnMessage was not called")
	}
}

func TestWaitMessages(t *testing.T) {
	em := emulatortest.Start(t, fastOptions())
	done := make(chan []emulator.Message)
	wctx := ctx(t)
	go func() {
		msgs, _ := em.WaitMessages(wctx, 3)
		done <- msgs
	}()
	for range 3 {
		params := (&openapi.CreateMessageParams{}).SetTo("+821012345678").SetFrom("+15005550006").SetBody("x")
		if _, err := testAPI(t, em).CreateMessage(params); err != nil {
			t.Fatal(err)
		}
	}
	if msgs := <-done; len(msgs) != 3 {
		t.Errorf("WaitMessages returned %d messages, want 3", len(msgs))
	}
}
