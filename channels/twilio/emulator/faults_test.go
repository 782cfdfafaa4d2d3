package emulator_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/twilio/twilio-go/client"
	openapi "github.com/twilio/twilio-go/rest/api/v2010"

	"github.com/oob-relay/relay/channels/twilio/emulator"
	"github.com/oob-relay/relay/channels/twilio/emulator/emulatortest"
)

// restCode returns the Twilio error code of a twilio-go error, or 0.
func restCode(err error) int {
	var rest *client.TwilioRestError
	if errors.As(err, &rest) {
		return rest.Code
	}
	return 0
}

var hello = url.Values{"To": {"+821012345678"}, "From": {"+15005550006"}, "Body": {"hi"}}

func TestRequestFaultsInOrder(t *testing.T) {
	em := emulatortest.Start(t, fastOptions())
	em.FailNext(1, 500)
	em.FailNext(1, 503)
	em.RateLimitNext(1, 1500*time.Millisecond)

	want := []struct {
		status, code int
		retryAfter   string
	}{
		{500, 20500, ""},
		{503, 20503, ""},
		{429, 20429, "2"},
		{201, 0, ""},
	}
	for i, w := range want {
		resp, body := post(t, ctx(t), em, "Messages.json", hello)
		if resp.StatusCode != w.status {
			t.Fatalf("request %d: status %d, want %d: %s", i, resp.StatusCode, w.status, body)
		}
		if got := resp.Header.Get("Retry-After"); got != w.retryAfter {
			t.Errorf("request %d: Retry-After %q, want %q", i, got, w.retryAfter)
		}
		if w.code == 0 {
			continue
		}
		var e emulator.Error
		if err := json.Unmarshal([]byte(body), &e); err != nil {
			t.Fatal(err)
		}
		if e.Code != w.code || e.Status != w.status || e.MoreInfo == "" || e.Message == "" {
			t.Errorf("request %d: error body %s", i, body)
		}
	}
	if n := len(em.Messages()); n != 1 {
		t.Errorf("%d messages recorded, want 1", n)
	}
}

func TestRejectNumber(t *testing.T) {
	em := emulatortest.Start(t, fastOptions())
	em.RejectNumber("+821000000001", 21610)
	em.RejectNumber("+821000000002", 21614)
	for to, code := range map[string]int{"+821000000001": 21610, "+821000000002": 21614} {
		_, err := testAPI(t, em).CreateMessage((&openapi.CreateMessageParams{}).SetTo(to).SetFrom("+15005550006").SetBody("x"))
		var rest *client.TwilioRestError
		if !errors.As(err, &rest) || rest.Code != code || rest.Status != 400 {
			t.Errorf("%s: %v, want Twilio error %d with status 400", to, err, code)
		}
	}
}

func TestInvalidNumberWithoutScript(t *testing.T) {
	em := emulatortest.Start(t, fastOptions())
	_, err := testAPI(t, em).CreateMessage((&openapi.CreateMessageParams{}).SetTo("010-1234-5678").SetFrom("+15005550006").SetBody("x"))
	if code := restCode(err); code != 21211 {
		t.Errorf("got %v, want Twilio error 21211", err)
	}
}

func TestAuthentication(t *testing.T) {
	em := emulatortest.Start(t, fastOptions())
	other := "AC" + "ffffffffffffffffffffffffffffffff"
	for name, svc := range map[string]*openapi.ApiService{
		"wrong token":   api(t, em, emulatortest.AccountSID, "wrongtoken"),
		"wrong account": api(t, em, other, emulatortest.AuthToken),
	} {
		_, err := svc.CreateMessage((&openapi.CreateMessageParams{}).SetTo("+821012345678").SetFrom("+15005550006").SetBody("x"))
		var rest *client.TwilioRestError
		if !errors.As(err, &rest) || rest.Code != 20003 || rest.Status != 401 {
			t.Errorf("%s: %v, want 401 with Twilio error 20003", name, err)
		}
	}
	// Authenticated, but for another account's path.
	_, err := testAPI(t, em).CreateMessage((&openapi.CreateMessageParams{}).SetPathAccountSid(other).
		SetTo("+821012345678").SetFrom("+15005550006").SetBody("x"))
	if restCode(err) != 20003 {
		t.Errorf("other account's path: %v, want Twilio error 20003", err)
	}
}

func TestSlowNext(t *testing.T) {
	em := emulatortest.Start(t, fastOptions())
	em.SlowNext(1, 150*time.Millisecond)
	start := time.Now()
	resp, _ := post(t, ctx(t), em, "Messages.json", hello)
	if took := time.Since(start); resp.StatusCode != 201 || took < 150*time.Millisecond {
		t.Errorf("slow answer: status %d after %v", resp.StatusCode, took)
	}
	start = time.Now()
	post(t, ctx(t), em, "Messages.json", hello)
	if took := time.Since(start); took >= 150*time.Millisecond {
		t.Errorf("second answer was slow too: %v", took)
	}
}

func TestHangUntilClientGivesUp(t *testing.T) {
	em := emulatortest.Start(t, fastOptions())
	em.HangNext(1)
	c, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	req, _ := http.NewRequestWithContext(c, http.MethodPost,
		em.URL()+"/2010-04-01/Accounts/"+emulatortest.AccountSID+"/Messages.json", strings.NewReader(hello.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(emulatortest.AccountSID, emulatortest.AuthToken)
	_, err := http.DefaultClient.Do(req)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("hanging request: %v, want deadline exceeded", err)
	}
	// The next request is answered normally.
	if resp, body := post(t, ctx(t), em, "Messages.json", hello); resp.StatusCode != 201 {
		t.Errorf("after the hang: %d %s", resp.StatusCode, body)
	}
}

func TestRandomFailuresAreReproducible(t *testing.T) {
	pattern := func(seed uint64) []int {
		opts := fastOptions()
		opts.Seed = seed
		em := emulatortest.Start(t, opts)
		em.RandomFailures(0.3)
		var out []int
		for range 40 {
			resp, _ := post(t, ctx(t), em, "Messages.json", hello)
			out = append(out, resp.StatusCode)
		}
		return out
	}
	a, b := pattern(7), pattern(7)
	failures := 0
	for i := range a {
		if a[i] != b[i] {
			t.Fatalf("same seed, different outcomes at request %d: %v vs %v", i, a, b)
		}
		if a[i] == 503 {
			failures++
		} else if a[i] != 201 {
			t.Fatalf("request %d answered %d", i, a[i])
		}
	}
	// 40 draws at 30%: 3 to 22 failures except with negligible probability,
	// and the seed fixes the draw anyway.
	if failures < 3 || failures > 22 {
		t.Errorf("%d failures in 40 at rate 0.3", failures)
	}
}

func TestClearFaults(t *testing.T) {
	em := emulatortest.Start(t, fastOptions())
	em.FailNext(3, 500)
	em.RejectNumber("+821012345678", 21211)
	em.ClearFaults()
	if resp, body := post(t, ctx(t), em, "Messages.json", hello); resp.StatusCode != 201 {
		t.Errorf("after ClearFaults: %d %s", resp.StatusCode, body)
	}
}
