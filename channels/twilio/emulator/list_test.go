package emulator_test

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/twilio/twilio-go/client"
	openapi "github.com/twilio/twilio-go/rest/api/v2010"

	"github.com/oob-relay/relay/channels/twilio/emulator"
	"github.com/oob-relay/relay/channels/twilio/emulator/emulatortest"
	"github.com/oob-relay/relay/internal/testkit"
)

// A second account, beside the test account.
const (
	otherAccount = "ACfedcba9876543210fedcba9876543210"
	otherToken   = "fedcba9876543210fedcba9876543210"
)

// startClocked starts an emulator that knows the test account and
// otherAccount, whose dates come from the returned clock.
func startClocked(t *testing.T, at time.Time) (*emulator.Emulator, *testkit.Clock) {
	c := testkit.NewClock(at)
	opts := fastOptions()
	opts.Now = c.Now
	opts.Accounts = map[string]string{emulatortest.AccountSID: emulatortest.AuthToken, otherAccount: otherToken}
	return emulatortest.Start(t, opts), c
}

// send creates a message through twilio-go and returns its SID.
func send(t *testing.T, svc *openapi.ApiService, to, from, body string) string {
	t.Helper()
	m, err := svc.CreateMessage((&openapi.CreateMessageParams{}).SetTo(to).SetFrom(from).SetBody(body))
	if err != nil {
		t.Fatal(err)
	}
	return *m.Sid
}

// get reads a resource of the test account with a raw request and
// decodes its JSON answer into v (when not nil).
func get(t *testing.T, em *emulator.Emulator, resource string, v any) (*http.Response, string) {
	t.Helper()
	target := em.URL() + "/2010-04-01/Accounts/" + emulatortest.AccountSID + "/" + resource
	if strings.HasPrefix(resource, "/") {
		target = em.URL() + resource
	}
	req, err := http.NewRequestWithContext(ctx(t), http.MethodGet, target, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.SetBasicAuth(emulatortest.AccountSID, emulatortest.AuthToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if v != nil && resp.StatusCode == http.StatusOK {
		if err := json.Unmarshal(body, v); err != nil {
			t.Fatalf("%v in %s", err, body)
		}
	}
	return resp, string(body)
}

func messageSIDs(ms []openapi.ApiV2010Message) []string {
	out := []string{}
	for _, m := range ms {
		out = append(out, *m.Sid)
	}
	return out
}

func TestListMessagesFilters(t *testing.T) {
	day1 := time.Date(2026, 11, 2, 23, 30, 0, 0, time.UTC)
	em, clk := startClocked(t, day1)
	svc := testAPI(t, em)
	const kim, lee, ours, theirs = "+821012345678", "+821087654321", "+15005550006", "+15005550007"
	a := send(t, svc, kim, ours, "a")
	clk.Set(day1.Add(time.Hour)) // 3 November, 00:30 UTC
	b := send(t, svc, kim, ours, "b")
	c := send(t, svc, lee, ours, "c")
	d := send(t, svc, kim, theirs, "d")
	clk.Set(day1.Add(48 * time.Hour)) // 4 November
	e := send(t, svc, kim, ours, "e")
	// Another account's messages are never listed.
	otherSvc := api(t, em, otherAccount, otherToken)
	f := send(t, otherSvc, kim, ours, "f")
	// Date filters list only messages already sent (date_sent is empty
	// before, as on Twilio).
	for _, sid := range []string{a, b, c, d, e, f} {
		if _, err := em.WaitMessage(t.Context(), sid, func(m emulator.Message) bool { return !m.Sent.IsZero() }); err != nil {
			t.Fatal(err)
		}
	}

	nov3 := time.Date(2026, 11, 3, 0, 0, 0, 0, time.UTC)
	nov3Noon := nov3.Add(12 * time.Hour) // twilio-go sends a time; its date counts
	tests := []struct {
		name   string
		params *openapi.ListMessageParams
		want   []string
	}{
		{"all, newest first", &openapi.ListMessageParams{}, []string{e, d, c, b, a}},
		{"to", (&openapi.ListMessageParams{}).SetTo(kim), []string{e, d, b, a}},
		{"to and from", (&openapi.ListMessageParams{}).SetTo(kim).SetFrom(ours), []string{e, b, a}},
		{"sent on a day", (&openapi.ListMessageParams{}).SetTo(kim).SetDateSent(nov3Noon), []string{d, b}},
		{"sent on or after a day", (&openapi.ListMessageParams{}).SetFrom(ours).SetDateSentAfter(nov3), []string{e, c, b}},
		{"sent on or before a day", (&openapi.ListMessageParams{}).SetFrom(ours).SetDateSentBefore(nov3Noon), []string{c, b, a}},
		{"between", (&openapi.ListMessageParams{}).SetDateSentAfter(nov3).SetDateSentBefore(nov3), []string{d, c, b}},
		{"none", (&openapi.ListMessageParams{}).SetTo("+821000000000"), []string{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := svc.ListMessage(tt.params)
			if err != nil {
				t.Fatal(err)
			}
			if sids := messageSIDs(got); !slices.Equal(sids, tt.want) {
				t.Errorf("listed %v, want %v", sids, tt.want)
			}
		})
	}

	// Dates as Twilio documents them: YYYY-MM-DD.
	for query, want := range map[string][]string{
		"DateSent=2026-11-03":                    {d, c, b},
		"DateSent%3E=2026-11-03":                 {e, d, c, b},
		"DateSent%3C=2026-11-02":                 {a},
		"DateSent%3E=2026-11-05":                 {},
		"To=%2B821012345678&DateSent=2026-11-04": {e},
	} {
		var page struct {
			Messages []struct {
				SID string `json:"sid"`
			} `json:"messages"`
		}
		resp, body := get(t, em, "Messages.json?"+query, &page)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("%s: answered %d %s", query, resp.StatusCode, body)
		}
		got := []string{}
		for _, m := range page.Messages {
			got = append(got, m.SID)
		}
		if !slices.Equal(got, want) {
			t.Errorf("%s: listed %v, want %v", query, got, want)
		}
	}

	// The other account lists only its own.
	got, err := otherSvc.ListMessage((&openapi.ListMessageParams{}).SetTo(kim))
	if err != nil {
		t.Fatal(err)
	}
	if sids := messageSIDs(got); !slices.Equal(sids, []string{f}) {
		t.Errorf("other account listed %v, want %v", sids, []string{f})
	}
}

// page is the paging part of a list page's JSON.
type page struct {
	Start, End, Page int
	PageSize         int     `json:"page_size"`
	URI              string  `json:"uri"`
	FirstPageURI     string  `json:"first_page_uri"`
	NextPageURI      *string `json:"next_page_uri"`
	PreviousPageURI  *string `json:"previous_page_uri"`
	Messages         []struct {
		SID string `json:"sid"`
	} `json:"messages"`
}

func (p page) sids() []string {
	out := []string{}
	for _, m := range p.Messages {
		out = append(out, m.SID)
	}
	return out
}

func TestListMessagesPages(t *testing.T) {
	em, clk := startClocked(t, time.Date(2026, 11, 3, 9, 0, 0, 0, time.UTC))
	svc := testAPI(t, em)
	var sids []string // newest first
	for i := range 7 {
		clk.Set(time.Date(2026, 11, 3, 9, i, 0, 0, time.UTC))
		sids = append([]string{send(t, svc, "+821012345678", "+15005550006", "m")}, sids...)
	}
	// The DateSent filter lists only messages already sent: until then
	// date_sent is empty, as on Twilio.
	for _, sid := range sids {
		if _, err := em.WaitMessage(t.Context(), sid, func(m emulator.Message) bool { return !m.Sent.IsZero() }); err != nil {
			t.Fatal(err)
		}
	}
	base := "/2010-04-01/Accounts/" + emulatortest.AccountSID + "/Messages.json?To=%2B821012345678&DateSent%3E=2026-11-03&PageSize=3&Page="

	var p0 page
	get(t, em, "Messages.json?To=%2B821012345678&DateSent%3E=2026-11-03&PageSize=3", &p0)
	if !slices.Equal(p0.sids(), sids[:3]) || p0.Page != 0 || p0.PageSize != 3 || p0.Start != 0 || p0.End != 2 ||
		p0.URI != base+"0" || p0.FirstPageURI != base+"0" || p0.PreviousPageURI != nil ||
		p0.NextPageURI == nil || *p0.NextPageURI != base+"1&PageToken=PA"+sids[2] {
		t.Fatalf("first page %+v, want %v", p0, sids[:3])
	}

	// A message created meanwhile does not shift the pages that follow.
	clk.Set(time.Date(2026, 11, 3, 10, 0, 0, 0, time.UTC))
	newest := send(t, svc, "+821012345678", "+15005550006", "m")

	var p1 page
	get(t, em, *p0.NextPageURI, &p1)
	if !slices.Equal(p1.sids(), sids[3:6]) || p1.Page != 1 || p1.Start != 3 || p1.End != 5 ||
		p1.PreviousPageURI == nil || *p1.PreviousPageURI != base+"0&PageToken=PB"+sids[3] || p1.NextPageURI == nil {
		t.Fatalf("second page %+v, want %v", p1, sids[3:6])
	}
	var p2 page
	get(t, em, *p1.NextPageURI, &p2)
	if !slices.Equal(p2.sids(), sids[6:]) || p2.NextPageURI != nil || p2.Start != 6 || p2.End != 6 {
		t.Fatalf("last page %+v, want %v", p2, sids[6:])
	}
	var back page
	get(t, em, *p1.PreviousPageURI, &back)
	if !slices.Equal(back.sids(), sids[:3]) {
		t.Errorf("previous page holds %v, want %v", back.sids(), sids[:3])
	}
	// Page numbers alone count from the newest.
	var byNumber page
	get(t, em, "Messages.json?PageSize=3&Page=1", &byNumber)
	if want := append([]string{newest}, sids...)[3:6]; !slices.Equal(byNumber.sids(), want) {
		t.Errorf("page 1 holds %v, want %v", byNumber.sids(), want)
	}
	var empty page
	if resp, body := get(t, em, "Messages.json?To=%2B821000000000", &empty); resp.StatusCode != http.StatusOK ||
		!strings.Contains(body, `"messages":[]`) || empty.NextPageURI != nil || empty.PageSize != 50 {
		t.Errorf("empty list answered %d %s", resp.StatusCode, body)
	}

	// twilio-go follows next_page_uri across every page.
	all, err := svc.ListMessage((&openapi.ListMessageParams{}).SetTo("+821012345678").SetPageSize(2))
	if err != nil {
		t.Fatal(err)
	}
	if want := append([]string{newest}, sids...); !slices.Equal(messageSIDs(all), want) {
		t.Errorf("twilio-go listed %v, want %v", messageSIDs(all), want)
	}
	// ... and stops at its limit.
	some, err := svc.ListMessage((&openapi.ListMessageParams{}).SetPageSize(2).SetLimit(3))
	if err != nil {
		t.Fatal(err)
	}
	if len(some) != 3 {
		t.Errorf("limit 3 listed %d", len(some))
	}

	// A token the emulator never gave is refused.
	if resp, body := get(t, em, "Messages.json?PageToken=PAnope", nil); resp.StatusCode != http.StatusBadRequest ||
		!strings.Contains(body, "PageToken") {
		t.Errorf("unknown token answered %d %s", resp.StatusCode, body)
	}
}

func TestListFaults(t *testing.T) {
	em, _ := startClocked(t, time.Date(2026, 11, 3, 9, 0, 0, 0, time.UTC))
	svc := testAPI(t, em)
	for range 5 {
		send(t, svc, "+821012345678", "+15005550006", "m")
	}
	params := func() *openapi.ListMessageParams { return (&openapi.ListMessageParams{}).SetPageSize(2) }

	em.FailNext(1, http.StatusServiceUnavailable)
	if _, err := svc.ListMessage(params()); !isStatus(err, http.StatusServiceUnavailable) {
		t.Errorf("first page: %v, want a 503", err)
	}
	// A fault on a later page ends the listing with its error: faults
	// apply in order, the first page answers (late), the second fails.
	em.SlowNext(1, time.Millisecond)
	em.FailNext(1, http.StatusInternalServerError)
	before := em.Requests()
	if _, err := svc.ListMessage(params()); !isStatus(err, http.StatusInternalServerError) {
		t.Errorf("second page: %v, want a 500", err)
	}
	if n := em.Requests() - before; n != 2 {
		t.Errorf("%d requests, want 2 pages", n)
	}
	em.RateLimitNext(1, time.Second)
	if _, err := svc.ListCall(nil); !isStatus(err, http.StatusTooManyRequests) {
		t.Errorf("calls: %v, want a 429", err)
	}
	if _, err := svc.ListMessage(params()); err != nil {
		t.Errorf("after the faults: %v", err)
	}
}

func isStatus(err error, status int) bool {
	var rest *client.TwilioRestError
	return errors.As(err, &rest) && rest.Status == status
}

func TestListCalls(t *testing.T) {
	day := time.Date(2026, 11, 3, 9, 0, 0, 0, time.UTC)
	em, clk := startClocked(t, day.Add(-24*time.Hour))
	svc := testAPI(t, em)
	const kim, lee, ours, theirs = "+821012345678", "+821087654321", "+15005550006", "+15005550007"
	em.SetCallOutcome(lee, emulator.CallBusy)
	em.SetCallOutcome("+821000000004", emulator.CallFailed)
	call := func(to, from string) string {
		t.Helper()
		c, err := svc.CreateCall((&openapi.CreateCallParams{}).SetTo(to).SetFrom(from).SetTwiml(sayTwiml))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := em.WaitCall(ctx(t), *c.Sid, func(c emulator.Call) bool { return emulator.Final(c.Status) }); err != nil {
			t.Fatal(err)
		}
		return *c.Sid
	}
	a := call(kim, ours) // 2 November
	clk.Set(day)
	b := call(kim, ours)
	c := call(lee, ours)
	d := call(kim, theirs)
	failed := call("+821000000004", ours) // never dialed: no start time
	clk.Set(day.Add(24 * time.Hour))
	e := call(kim, ours)

	nov3 := time.Date(2026, 11, 3, 0, 0, 0, 0, time.UTC)
	tests := []struct {
		name   string
		params *openapi.ListCallParams
		want   []string
	}{
		{"all, newest first", &openapi.ListCallParams{}, []string{e, failed, d, c, b, a}},
		{"to", (&openapi.ListCallParams{}).SetTo(kim), []string{e, d, b, a}},
		{"to and from", (&openapi.ListCallParams{}).SetTo(kim).SetFrom(ours), []string{e, b, a}},
		{"started on a day", (&openapi.ListCallParams{}).SetStartTime(nov3.Add(time.Hour)), []string{d, c, b}},
		{"started on or after", (&openapi.ListCallParams{}).SetFrom(ours).SetStartTimeAfter(nov3), []string{e, c, b}},
		{"started before", (&openapi.ListCallParams{}).SetStartTimeBefore(nov3), []string{a}},
		{"ended on a day", (&openapi.ListCallParams{}).SetEndTime(nov3), []string{failed, d, c, b}},
		{"status", (&openapi.ListCallParams{}).SetStatus("busy"), []string{c}},
		{"child calls", (&openapi.ListCallParams{}).SetParentCallSid(a), []string{}},
		{"pages", (&openapi.ListCallParams{}).SetPageSize(4), []string{e, failed, d, c, b, a}},
		{"limit", (&openapi.ListCallParams{}).SetPageSize(2).SetLimit(3), []string{e, failed, d}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := svc.ListCall(tt.params)
			if err != nil {
				t.Fatal(err)
			}
			sids := []string{}
			for _, c := range got {
				sids = append(sids, *c.Sid)
			}
			if !slices.Equal(sids, tt.want) {
				t.Errorf("listed %v, want %v", sids, tt.want)
			}
		})
	}

	// Dates as Twilio documents them, and the call JSON in a page.
	var p struct {
		NextPageURI *string `json:"next_page_uri"`
		Calls       []struct {
			SID       string  `json:"sid"`
			Status    string  `json:"status"`
			StartTime *string `json:"start_time"`
		} `json:"calls"`
	}
	resp, body := get(t, em, "Calls.json?StartTime%3E=2026-11-03&To=%2B821012345678&PageSize=1", &p)
	if resp.StatusCode != http.StatusOK || len(p.Calls) != 1 || p.Calls[0].SID != e || p.NextPageURI == nil ||
		p.Calls[0].StartTime == nil || *p.Calls[0].StartTime != "Wed, 04 Nov 2026 09:00:00 +0000" {
		t.Fatalf("answered %d %s", resp.StatusCode, body)
	}
	if !strings.Contains(*p.NextPageURI, "To=%2B821012345678&StartTime%3E=2026-11-03&PageSize=1&Page=1&PageToken=PA"+e) {
		t.Errorf("next page %s", *p.NextPageURI)
	}
	get(t, em, *p.NextPageURI, &p)
	if len(p.Calls) != 1 || p.Calls[0].SID != d {
		t.Errorf("second page %+v, want %s", p.Calls, d)
	}
}
