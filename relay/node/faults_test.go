package node_test

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/oob-relay/relay/channels/twilio/emulator"
	"github.com/oob-relay/relay/internal/testkit"
	"github.com/oob-relay/relay/relay"
	"github.com/oob-relay/relay/relay/delivery"
)

// faultText is the message every fault row sends: Korean, so that each
// row also shows Hangul reaching the provider intact.
const faultText = "서울 IDC 화재: 판교 센터로 전환 중입니다. 사내 메신저 대신 이 번호로 회신하세요."

// faultBackoff and faultAttemptTimeout keep the table fast: retries
// within tens of milliseconds, a hung request given up after half a
// second.
var faultBackoff = delivery.Backoff{Initial: 50 * time.Millisecond, Max: 200 * time.Millisecond, Multiplier: 2, Jitter: 0.1}

const faultAttemptTimeout = 500 * time.Millisecond

// faultRow is one fault scripted on the emulators and where the node must
// take each delivery because of it.
type faultRow struct {
	name    string
	channel string // sms unless set
	people  int    // one unless set
	// deadline is the messages' deadline; three seconds unless set.
	deadline time.Duration
	// tokenA is provider A's configured auth token, when it must differ
	// from the one its account has.
	tokenA string
	// script scripts the fault, given the phones of the row's people.
	script func(r *rig, phones []string)

	// Where each delivery must end: its status, the provider that took
	// its last attempt (any when empty), and the reason and carrier code
	// of a failure.
	status   relay.Status
	provider string
	reason   relay.Reason
	code     string
	// attempts is the exact number of attempts of each delivery; when
	// zero, only the bound the backoff sets is checked.
	attempts int
	// requests is the exact number of API requests each emulator (A, B)
	// received; nil means one per attempt in all.
	requests []int
	// first and firstCode are the reason and code the first attempt
	// failed with, or empty when it did not fail.
	first     relay.Reason
	firstCode string
	// settle waits for what follows a delivery that ends sent (a call's
	// progress, an acknowledgement); nil means waiting for every delivery
	// to reach a final status.
	settle func(ctx context.Context, t *testing.T, r *rig, ids []string)
	// check makes the row's own assertions.
	check func(t *testing.T, r *rig, ds []*relay.Delivery)
}

// rejected is a row for a number Twilio refuses at creation.
func rejected(code int, reason relay.Reason) faultRow {
	return faultRow{
		name:   fmt.Sprintf("number rejected %d", code),
		script: func(r *rig, p []string) { r.a().em.RejectNumber(p[0], code) },
		status: relay.StatusFailed, provider: "twilio-a", reason: reason, code: fmt.Sprint(code),
		attempts: 1, requests: []int{1, 0},
	}
}

// undelivered is a row for a message Twilio accepted that the carrier
// could not deliver.
func undelivered(how emulator.DeliveryFailure, code int, reason relay.Reason) faultRow {
	return faultRow{
		name:   fmt.Sprintf("%s %d", how, code),
		script: func(r *rig, p []string) { r.a().em.FailDelivery(p[0], how, code) },
		status: relay.StatusFailed, provider: "twilio-a", reason: reason, code: fmt.Sprint(code),
		attempts: 1, requests: []int{1, 0},
	}
}

// provider5xx is a row for one 5xx answer from A.
func provider5xx(status int, code string) faultRow {
	return faultRow{
		name:   fmt.Sprintf("A answers %d once", status),
		script: func(r *rig, _ []string) { r.a().em.FailNext(1, status) },
		status: relay.StatusDelivered, provider: "twilio-b", attempts: 2, requests: []int{1, 1},
		first: relay.ReasonProvider, firstCode: code,
	}
}

// callEnds is a row for a call that ends without being answered.
func callEnds(outcome emulator.CallOutcome) faultRow {
	return faultRow{
		name: "call " + string(outcome), channel: relay.ChannelVoice,
		script: func(r *rig, p []string) { r.a().em.SetCallOutcome(p[0], outcome) },
		status: relay.StatusFailed, provider: "twilio-voice-a", reason: relay.ReasonRecipient,
		attempts: 1, requests: []int{1, 0},
	}
}

func faultRows() []faultRow {
	return []faultRow{
		{name: "no fault", status: relay.StatusDelivered, provider: "twilio-a", attempts: 1, requests: []int{1, 0}},

		provider5xx(500, "20500"),
		provider5xx(502, "20500"),
		provider5xx(503, "20503"),
		provider5xx(504, "20500"),
		{
			name:   "A rate limits once with Retry-After 1s",
			script: func(r *rig, _ []string) { r.a().em.RateLimitNext(1, time.Second) },
			status: relay.StatusDelivered, provider: "twilio-b", attempts: 2, requests: []int{1, 1},
			first: relay.ReasonRateLimited, firstCode: "20429",
		},
		{
			// Retry-After 1s with a 2.7 s deadline leaves room for three
			// attempts, whatever the backoff would allow.
			name: "both rate limit with Retry-After 1s until the deadline", deadline: 2700 * time.Millisecond,
			script: func(r *rig, _ []string) {
				r.a().em.RateLimitNext(10, time.Second)
				r.b().em.RateLimitNext(10, time.Second)
			},
			status: relay.StatusFailed, provider: "twilio-a", reason: relay.ReasonRateLimited, code: "20429",
			attempts: 3, requests: []int{2, 1}, first: relay.ReasonRateLimited, firstCode: "20429",
		},
		{
			name:   "A answers slowly within the attempt timeout",
			script: func(r *rig, _ []string) { r.a().em.SlowNext(1, 150*time.Millisecond) },
			status: relay.StatusDelivered, provider: "twilio-a", attempts: 1, requests: []int{1, 0},
		},
		{
			name:   "A answers after the attempt timeout",
			script: func(r *rig, _ []string) { r.a().em.SlowNext(1, 5*time.Second) },
			status: relay.StatusDelivered, provider: "twilio-b", attempts: 2, requests: []int{1, 1},
			first: relay.ReasonTimeout,
		},
		{
			name:   "A hangs",
			script: func(r *rig, _ []string) { r.a().em.HangNext(1) },
			status: relay.StatusDelivered, provider: "twilio-b", attempts: 2, requests: []int{1, 1},
			first: relay.ReasonTimeout,
		},
		{
			name:   "A is down",
			script: func(r *rig, _ []string) { r.a().down() },
			status: relay.StatusDelivered, provider: "twilio-b", attempts: 2, requests: []int{0, 1},
			first: relay.ReasonNetwork,
		},
		{
			name: "A refuses the credentials", tokenA: "wrongTokenForA0123456789abcdef99",
			status: relay.StatusDelivered, provider: "twilio-b", attempts: 2, requests: []int{1, 1},
			first: relay.ReasonAuth, firstCode: "20003",
		},
		{
			name: "random failures on both", people: 6,
			script: func(r *rig, _ []string) {
				r.a().em.RandomFailures(0.4)
				r.b().em.RandomFailures(0.4)
			},
			status: relay.StatusDelivered,
		},
		{
			name:   "A fails every request at random",
			script: func(r *rig, _ []string) { r.a().em.RandomFailures(1) },
			status: relay.StatusDelivered, provider: "twilio-b", attempts: 2, requests: []int{1, 1},
			first: relay.ReasonProvider, firstCode: "20503",
		},

		rejected(21211, relay.ReasonRecipient),
		rejected(21214, relay.ReasonRecipient),
		rejected(21217, relay.ReasonRecipient),
		rejected(21401, relay.ReasonRecipient),
		rejected(21407, relay.ReasonRecipient),
		rejected(21610, relay.ReasonUnsubscribe),
		rejected(21612, relay.ReasonRecipient),
		rejected(21614, relay.ReasonRecipient),
		{
			// The account, not the number, may not send there: the
			// other account may.
			name:   "number rejected 21408 moves to B",
			script: func(r *rig, p []string) { r.a().em.RejectNumber(p[0], 21408) },
			status: relay.StatusDelivered, provider: "twilio-b", attempts: 2, requests: []int{1, 1},
			first: relay.ReasonPermission, firstCode: "21408",
		},

		undelivered(emulator.Undelivered, 30003, relay.ReasonRecipient),
		undelivered(emulator.Undelivered, 30004, relay.ReasonUnsubscribe),
		undelivered(emulator.Undelivered, 30005, relay.ReasonRecipient),
		undelivered(emulator.Undelivered, 30006, relay.ReasonRecipient),
		undelivered(emulator.Undelivered, 30007, relay.ReasonRejected),
		undelivered(emulator.Failed, 30008, relay.ReasonProvider),
		{
			name:   "callbacks lost",
			script: func(r *rig, p []string) { r.a().em.LoseCallbacks(p[0]) },
			status: relay.StatusSent, provider: "twilio-a", attempts: 1, requests: []int{1, 0},
			settle: settleMessage,
			check: func(t *testing.T, r *rig, ds []*relay.Delivery) {
				m, ok := findMessage(r.a().em, ds[0].ProviderID)
				if !ok || m.Callbacks != 0 || m.Status != "delivered" {
					t.Errorf("emulator message %+v: want delivered at Twilio with no callback posted", m)
				}
			},
		},

		callEnds(emulator.CallBusy),
		callEnds(emulator.CallNoAnswer),
		callEnds(emulator.CallFailed),
		{
			name: "call answered", channel: relay.ChannelVoice,
			status: relay.StatusSent, provider: "twilio-voice-a", attempts: 1, requests: []int{1, 0},
			settle: settleCall,
			check: func(t *testing.T, r *rig, ds []*relay.Delivery) {
				if n := r.hist.ackCount(); n != 0 {
					t.Errorf("%d acknowledgements recorded for a call nobody pressed a key in", n)
				}
			},
		},
		{
			name: "call answered and 1 pressed", channel: relay.ChannelVoice,
			script: func(r *rig, p []string) { r.a().em.PressDigits(p[0], "1") },
			status: relay.StatusSent, provider: "twilio-voice-a", attempts: 1, requests: []int{1, 0},
			settle: settleAck,
			check: func(t *testing.T, r *rig, ds []*relay.Delivery) {
				acks, err := r.node.Store().Acks(ds[0].MessageID)
				if err != nil || len(acks) != 1 || acks[0].Channel != relay.ChannelVoice || acks[0].Delivery != ds[0].ID {
					t.Errorf("acknowledgements %+v (%v), want one by voice for %s", acks, err, ds[0].ID)
				}
			},
		},
		{
			name: "call: A answers 503", channel: relay.ChannelVoice,
			script: func(r *rig, _ []string) { r.a().em.FailNext(1, 503) },
			status: relay.StatusSent, provider: "twilio-voice-b", attempts: 2, requests: []int{1, 1},
			first: relay.ReasonProvider, firstCode: "20503",
			settle: settleCall,
		},
	}
}

// TestFaults drives every fault the Twilio emulator can script through a
// real node with two Twilio accounts for sms and for voice, receipts on,
// and checks where each delivery ends, that it ends before its deadline,
// that its retries keep to the backoff and Retry-After, that nothing was
// sent twice, and that no auth token reaches the node's log.
func TestFaults(t *testing.T) {
	testkit.NoLeaks(t)
	for _, row := range faultRows() {
		t.Run(row.name, func(t *testing.T) {
			t.Parallel()
			runFaultRow(t, row)
		})
	}
}

func runFaultRow(t *testing.T, row faultRow) {
	if row.channel == "" {
		row.channel = relay.ChannelSMS
	}
	if row.people == 0 {
		row.people = 1
	}
	if row.deadline == 0 {
		row.deadline = 3 * time.Second
	}
	var people []relay.Person
	var ids, phones []string
	for i := range row.people {
		p := rigPerson(i, row.channel)
		people = append(people, p)
		ids = append(ids, p.ID)
		phones = append(phones, p.Phone)
	}
	// Receipts come at the emulator's default pace, 50 ms a status step,
	// well after the node records the attempt they are about.
	r := startRig(t, rigOptions{
		People: people, Deadline: row.deadline, Workers: 4,
		AttemptTimeout: faultAttemptTimeout, Backoff: faultBackoff,
		TokenA: row.tokenA, LogLevel: slog.LevelDebug,
	})
	if row.script != nil {
		row.script(r, phones)
	}

	ctx, cancel := context.WithTimeout(t.Context(), row.deadline+3*time.Second)
	defer cancel()
	m := r.post(ctx, faultText, row.channel, ids...)
	for i, p := range ids {
		ids[i] = relay.DeliveryID(m.ID, row.channel, p)
	}
	if row.settle != nil {
		row.settle(ctx, t, r, ids)
	} else {
		err := r.hist.wait(ctx, func() bool {
			return !slices.ContainsFunc(ids, func(id string) bool { return !r.delivery(id).Status.Final() })
		}, func() string {
			return fmt.Sprintf("deliveries not final (%d receipts taken as stale): %s", r.staleReceipts(), describe(deliveries(r, ids)))
		})
		if err != nil {
			t.Fatal(err)
		}
	}

	ds := deliveries(r, ids)
	total := 0
	for _, d := range ds {
		total += d.Attempts
		checkDelivery(t, row, r, m, d)
	}
	got := r.requests()
	if row.requests != nil {
		if !slices.Equal(got, row.requests) {
			t.Errorf("API requests A, B = %v, want %v", got, row.requests)
		}
	} else if got[0]+got[1] != total {
		t.Errorf("API requests A, B = %v for %d attempts; want one request per attempt", got, total)
	}
	checkNothingTwice(t, r, ds)
	if row.check != nil {
		row.check(t, r, ds)
	}
	for i, s := range r.sides {
		for _, v := range s.em.Violations() {
			t.Errorf("emulator %s: Twilio contract violation: %s", rigAccounts[i].sms, v)
		}
	}
	logs := r.checkLogs(t)
	for _, d := range ds {
		if !strings.Contains(logs, d.ID) {
			t.Errorf("the node's log never mentions delivery %s; the secret check looked at too little:\n%s", d.ID, logs)
		}
	}
	if row.first != "" && !strings.Contains(logs, `msg="delivery attempt failed"`) {
		t.Errorf("no failed attempt logged:\n%s", logs)
	}
}

// checkDelivery checks where one delivery ended and the way it took.
func checkDelivery(t *testing.T, row faultRow, r *rig, m *relay.Message, d *relay.Delivery) {
	t.Helper()
	if d.Status != row.status || (row.provider != "" && d.Provider != row.provider) ||
		d.Reason != row.reason || d.Code != row.code {
		t.Errorf("delivery %s ended %s via %s (reason %q, code %q, error %q); want %s via %s (reason %q, code %q)",
			d.ID, d.Status, d.Provider, d.Reason, d.Code, d.Error, row.status, row.provider, row.reason, row.code)
	}
	if !d.UpdatedAt.Before(m.Deadline) {
		t.Errorf("delivery %s settled at %s, after the message deadline %s", d.ID, d.UpdatedAt, m.Deadline)
	}
	bound := attemptBound(faultBackoff, row.deadline)
	switch {
	case row.attempts != 0 && d.Attempts != row.attempts:
		t.Errorf("delivery %s took %d attempts, want %d", d.ID, d.Attempts, row.attempts)
	case d.Attempts < 1 || d.Attempts > bound:
		t.Errorf("delivery %s took %d attempts; the backoff allows at most %d before the deadline", d.ID, d.Attempts, bound)
	}
	if row.status == relay.StatusDelivered && row.channel == relay.ChannelSMS {
		if msg, ok := findMessage(r.side(d.Provider).em, d.ProviderID); !ok || !strings.Contains(msg.Body, faultText) {
			t.Errorf("message %s at %s: body %q does not hold the Korean text intact", d.ProviderID, d.Provider, msg.Body)
		}
	}

	changes := r.hist.of(d.ID)
	var first *relay.DeliveryChange
	for i := range changes {
		c := &changes[i]
		if c.Attempt == 1 && c.Status != relay.StatusSending && first == nil {
			first = c
		}
		if c.Status != relay.StatusPending || c.Attempt == 0 {
			continue
		}
		if c.Code == "20429" && c.NextAt.Sub(c.At) < time.Second {
			t.Errorf("delivery %s: retry after a 429 with Retry-After 1s planned %v later", d.ID, c.NextAt.Sub(c.At))
		}
		for _, n := range changes[i+1:] {
			if n.Status == relay.StatusSending && n.Attempt == c.Attempt+1 && n.At.Before(c.NextAt.Add(-time.Millisecond)) {
				t.Errorf("delivery %s: attempt %d began at %s, before its retry time %s", d.ID, n.Attempt, n.At, c.NextAt)
			}
		}
	}
	switch {
	case first == nil:
		t.Errorf("delivery %s: no outcome of its first attempt recorded: %+v", d.ID, changes)
	case row.first == "" && first.Status == relay.StatusPending && row.people == 1:
		t.Errorf("delivery %s: first attempt failed (%s %s: %s); want it to succeed", d.ID, first.Reason, first.Code, first.Error)
	case row.first != "" && (first.Status != relay.StatusPending || first.Reason != row.first || first.Code != row.firstCode):
		t.Errorf("delivery %s: first attempt ended %s (reason %q, code %q); want a retry after reason %q, code %q",
			d.ID, first.Status, first.Reason, first.Code, row.first, row.firstCode)
	}
}

// attemptBound is the most attempts a delivery can make before deadline
// when every retry waits the least the backoff allows: more would be a
// retry loop that ignores the backoff.
func attemptBound(b delivery.Backoff, deadline time.Duration) int {
	n, spent := 1, time.Duration(0)
	for wait := b.Initial; ; wait = min(time.Duration(float64(wait)*b.Multiplier), b.Max) {
		spent += time.Duration(float64(wait) * (1 - b.Jitter))
		if spent >= deadline {
			return n
		}
		n++
	}
}

// checkNothingTwice checks that each provider id of a delivery is one
// message or call at its emulator, and that the emulators accepted
// nothing else.
func checkNothingTwice(t *testing.T, r *rig, ds []*relay.Delivery) {
	t.Helper()
	want := 0
	for _, d := range ds {
		if d.ProviderID == "" {
			continue
		}
		want++
		em := r.side(d.Provider).em
		_, isMsg := findMessage(em, d.ProviderID)
		_, isCall := findCall(em, d.ProviderID)
		if !isMsg && !isCall {
			t.Errorf("delivery %s: provider id %s is unknown to %s", d.ID, d.ProviderID, d.Provider)
		}
	}
	got := 0
	for _, s := range r.sides {
		got += len(s.em.Messages()) + len(s.em.Calls())
	}
	if got != want {
		t.Errorf("the emulators accepted %d messages and calls for %d deliveries that were sent", got, want)
	}
}
