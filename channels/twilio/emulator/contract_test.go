package emulator_test

import (
	"encoding/json"
	"net/http"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	openapi "github.com/twilio/twilio-go/rest/api/v2010"

	"github.com/oob-relay/relay/channels/twilio/emulator"
	"github.com/oob-relay/relay/channels/twilio/emulator/emulatortest"
)

// TestContractTwilioSpec checks the emulator against Twilio's OpenAPI
// description: what twilio-go sends is valid, what the emulator answers is
// valid, and an invalid request is refused and recorded. Every other test
// runs with the same check when the description is present.
func TestContractTwilioSpec(t *testing.T) {
	if missing, msg := emulatortest.Missing(); missing && os.Getenv(emulatortest.RequireEnv) != "1" {
		t.Skip(msg)
	}
	spec := emulatortest.Spec(t) // fails the test when required and missing
	em, err := emulator.New(emulator.Options{
		Spec:          spec,
		Accounts:      map[string]string{emulatortest.AccountSID: emulatortest.AuthToken},
		CallbackDelay: 5 * time.Millisecond,
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := em.Start("127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { em.Close() })
	svc := testAPI(t, em)

	// Valid traffic, through twilio-go, answers included.
	msg, err := svc.CreateMessage((&openapi.CreateMessageParams{}).SetTo("+821012345678").SetFrom("+15005550006").
		SetBody("서버실 화재").SetValidityPeriod(300).SetStatusCallback("http://127.0.0.1:9/status").SetAttempt(2))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := svc.FetchMessage(*msg.Sid, nil); err != nil {
		t.Fatal(err)
	}
	call, err := svc.CreateCall((&openapi.CreateCallParams{}).SetTo("+821012345678").SetFrom("+15005550006").
		SetTwiml(sayTwiml).SetStatusCallbackEvent([]string{"initiated", "completed"}).SetTimeout(30))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := em.WaitCall(ctx(t), *call.Sid, func(c emulator.Call) bool { return emulator.Final(c.Status) }); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.FetchCall(*call.Sid, nil); err != nil {
		t.Fatal(err)
	}
	day := time.Now().UTC().Truncate(24 * time.Hour)
	if _, err := svc.ListMessage((&openapi.ListMessageParams{}).SetTo("+821012345678").SetFrom("+15005550006").
		SetDateSent(day).SetDateSentBefore(day.Add(24 * time.Hour)).SetDateSentAfter(day.Add(-24 * time.Hour)).
		SetPageSize(1)); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.ListCall((&openapi.ListCallParams{}).SetTo("+821012345678").SetFrom("+15005550006").
		SetStatus("completed").SetStartTime(day).SetStartTimeBefore(day.Add(24 * time.Hour)).SetStartTimeAfter(day).
		SetEndTime(day).SetEndTimeBefore(day.Add(24 * time.Hour)).SetEndTimeAfter(day).SetPageSize(1)); err != nil {
		t.Fatal(err)
	}
	// Dates as Twilio documents them (YYYY-MM-DD), empty pages, paging
	// links followed as given.
	for _, resource := range []string{
		"Messages.json?DateSent=2026-11-03",
		"Messages.json?DateSent%3C=2026-11-03&DateSent%3E=2026-11-02&PageSize=1000&Page=0",
		"Messages.json?To=%2B821000000000",
		"Calls.json?StartTime%3C=2026-11-03&StartTime%3E=2026-11-02&EndTime=2026-11-03",
		"Calls.json?PageSize=1&Page=3",
	} {
		if resp, body := get(t, em, resource, nil); resp.StatusCode != http.StatusOK {
			t.Errorf("%s: answered %d %s", resource, resp.StatusCode, body)
		}
	}
	if v := em.Violations(); len(v) != 0 {
		t.Fatalf("valid traffic gave violations: %q", v)
	}

	// Invalid requests: refused with a Twilio-shaped 400 and recorded.
	for name, form := range map[string]url.Values{
		"missing To":          {"From": {"+15005550006"}, "Body": {"hi"}},
		"validity not number": {"To": {"+821012345678"}, "From": {"+15005550006"}, "Body": {"hi"}, "ValidityPeriod": {"soon"}},
		"callback not a URL":  {"To": {"+821012345678"}, "From": {"+15005550006"}, "Body": {"hi"}, "StatusCallback": {"status"}},
		"bad service SID":     {"To": {"+821012345678"}, "MessagingServiceSid": {"MG123"}, "Body": {"hi"}},
	} {
		before := len(em.Violations())
		resp, body := post(t, ctx(t), em, "Messages.json", form)
		var e emulator.Error
		if err := json.Unmarshal([]byte(body), &e); err != nil {
			t.Fatalf("%s: %v in %s", name, err, body)
		}
		if resp.StatusCode != http.StatusBadRequest || e.Status != 400 || e.Code == 0 || !strings.HasPrefix(e.MoreInfo, "https://www.twilio.com/docs/errors/") {
			t.Errorf("%s: answered %d %s", name, resp.StatusCode, body)
		}
		if after := em.Violations(); len(after) != before+1 {
			t.Errorf("%s: violations %d -> %d, want one more", name, before, len(after))
		}
	}
	if n := len(em.Messages()); n != 1 {
		t.Errorf("%d messages recorded, want only the valid one", n)
	}
	for _, resource := range []string{
		"Messages.json?PageSize=0",
		"Messages.json?PageSize=1001",
		"Messages.json?Page=-1",
		"Messages.json?DateSent%3E=soon",
		"Calls.json?StartTime=yesterday",
		"Calls.json?Status=ringing-ish",
	} {
		before := len(em.Violations())
		resp, body := get(t, em, resource, nil)
		if resp.StatusCode != http.StatusBadRequest || !strings.Contains(body, `"status":400`) {
			t.Errorf("%s: answered %d %s", resource, resp.StatusCode, body)
		}
		if after := em.Violations(); len(after) != before+1 {
			t.Errorf("%s: violations %d -> %d, want one more", resource, before, len(after))
		}
	}

	// An operation Twilio does not have: 404, and recorded.
	before := len(em.Violations())
	if resp, body := post(t, ctx(t), em, "Mesages.json", hello); resp.StatusCode != http.StatusNotFound || !strings.Contains(body, "20404") {
		t.Errorf("misspelt resource: answered %d %s", resp.StatusCode, body)
	}
	if after := em.Violations(); len(after) != before+1 || !strings.Contains(after[before], "Mesages.json") {
		t.Errorf("misspelt resource not recorded: %q", after)
	}
}
