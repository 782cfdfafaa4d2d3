package emulator

import (
	"fmt"
	"net/http"
	"strconv"
	"time"
)

// DeliveryFailure is how a message that Twilio accepted ends when it does
// not reach the phone.
type DeliveryFailure string

// Delivery failures. Undelivered messages were sent to the carrier, which
// could not deliver them; failed messages never left Twilio.
const (
	Undelivered DeliveryFailure = "undelivered"
	Failed      DeliveryFailure = "failed"
)

// CallOutcome is how a call ends.
type CallOutcome string

// Call outcomes.
const (
	CallCompleted CallOutcome = "completed"
	CallBusy      CallOutcome = "busy"
	CallNoAnswer  CallOutcome = "no-answer"
	CallFailed    CallOutcome = "failed"
)

// requestFault is a scripted answer to one API request.
type requestFault struct {
	status     int           // an HTTP error status, or 0
	retryAfter time.Duration // with 429
	delay      time.Duration // answer normally after this long
	hang       bool          // never answer
}

// deliveryFault scripts how messages to a number end.
type deliveryFault struct {
	status DeliveryFailure
	code   int
}

// faults is what has been scripted; guarded by Emulator.mu.
type faults struct {
	next       []requestFault
	randomRate float64
	reject     map[string]int // number -> Twilio error code at creation
	delivery   map[string]deliveryFault
	lost       map[string]bool
	calls      map[string]CallOutcome
	digits     map[string]string
}

func newFaults() faults {
	return faults{
		reject:   map[string]int{},
		delivery: map[string]deliveryFault{},
		lost:     map[string]bool{},
		calls:    map[string]CallOutcome{},
		digits:   map[string]string{},
	}
}

// rejections are the create-time errors RejectNumber knows, with Twilio's
// messages.
var rejections = map[int]string{
	21211: "Invalid 'To' Phone Number",
	21214: "'To' phone number cannot be reached",
	21217: "Phone number does not appear to be valid",
	21401: "Invalid Phone Number",
	21407: "This Phone Number type does not support SMS or MMS",
	21408: "Permission to send an SMS has not been enabled for the region indicated by the 'To' number",
	21610: "Attempt to send to unsubscribed recipient",
	21612: "The 'To' phone number is not currently reachable via SMS",
	21614: "'To' number is not a valid mobile number",
}

// deliveryErrors are the codes FailDelivery knows, with Twilio's messages.
var deliveryErrors = map[int]string{
	30003: "Unreachable destination handset",
	30004: "Message blocked",
	30005: "Unknown destination handset",
	30006: "Landline or unreachable carrier",
	30007: "Message filtered",
	30008: "Unknown error",
}

// FailNext makes the next n API requests answer the HTTP status (500,
// 502, 503 or 504) with Twilio's error body. Scripted request faults are
// used up in the order they were added.
func (e *Emulator) FailNext(n, status int) {
	if status < 500 || status > 599 {
		panic(fmt.Sprintf("emulator: FailNext status %d is not a 5xx status", status))
	}
	e.addRequestFaults(n, requestFault{status: status})
}

// RateLimitNext makes the next n API requests answer 429 Too Many Requests
// (Twilio error 20429) with a Retry-After header of retryAfter, rounded up
// to whole seconds.
func (e *Emulator) RateLimitNext(n int, retryAfter time.Duration) {
	e.addRequestFaults(n, requestFault{status: http.StatusTooManyRequests, retryAfter: retryAfter})
}

// SlowNext makes the next n API requests answer normally after d.
func (e *Emulator) SlowNext(n int, d time.Duration) {
	e.addRequestFaults(n, requestFault{delay: d})
}

// HangNext makes the next n API requests never answer: each waits until
// the client gives up or the emulator closes.
func (e *Emulator) HangNext(n int) {
	e.addRequestFaults(n, requestFault{hang: true})
}

// RandomFailures makes each API request that no other fault answers fail
// with 503 Service Unavailable with probability rate (0 turns it off).
// The draws come from Options.Seed, so a run is reproducible when its
// requests arrive in the same order.
func (e *Emulator) RandomFailures(rate float64) {
	if rate < 0 || rate > 1 {
		panic(fmt.Sprintf("emulator: failure rate %v is not between 0 and 1", rate))
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	e.faults.randomRate = rate
}

// RejectNumber makes creating a message or call to number fail with the
// Twilio error code (HTTP 400): 21211 invalid number, 21610 unsubscribed,
// 21614 not a mobile number, and the other codes in the 212xx-216xx range
// listed in rejections.
func (e *Emulator) RejectNumber(number string, code int) {
	if _, ok := rejections[code]; !ok {
		panic(fmt.Sprintf("emulator: RejectNumber does not know Twilio error %d", code))
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	e.faults.reject[number] = code
}

// FailDelivery makes messages to number end undelivered (after sent) or
// failed with the Twilio error code, such as 30003 unreachable, 30005
// unknown handset or 30006 landline.
func (e *Emulator) FailDelivery(number string, status DeliveryFailure, code int) {
	if status != Undelivered && status != Failed {
		panic(fmt.Sprintf("emulator: FailDelivery status %q is neither undelivered nor failed", status))
	}
	if _, ok := deliveryErrors[code]; !ok {
		panic(fmt.Sprintf("emulator: FailDelivery does not know Twilio error %d", code))
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	e.faults.delivery[number] = deliveryFault{status: status, code: code}
}

// LoseCallbacks makes messages and calls to number progress as usual
// without any status callback being posted.
func (e *Emulator) LoseCallbacks(number string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.faults.lost[number] = true
}

// SetCallOutcome makes calls to number end busy, no-answer, failed or
// completed (the default).
func (e *Emulator) SetCallOutcome(number string, outcome CallOutcome) {
	switch outcome {
	case CallCompleted, CallBusy, CallNoAnswer, CallFailed:
	default:
		panic(fmt.Sprintf("emulator: unknown call outcome %q", outcome))
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	e.faults.calls[number] = outcome
}

// PressDigits makes the person at number, once a call is answered, press
// digits into the call's first <Gather>: the emulator posts the signed
// Gather callback with Digits to the Gather's action URL.
func (e *Emulator) PressDigits(number, digits string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.faults.digits[number] = digits
}

// ClearFaults forgets every scripted fault and behaviour.
func (e *Emulator) ClearFaults() {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.faults = newFaults()
}

func (e *Emulator) addRequestFaults(n int, f requestFault) {
	e.mu.Lock()
	defer e.mu.Unlock()
	for range n {
		e.faults.next = append(e.faults.next, f)
	}
}

// applyRequestFault uses up the next scripted request fault. It reports
// true with the answer to give when the fault decides the answer, and
// false when the request should be handled (possibly after a delay).
func (e *Emulator) applyRequestFault(r *http.Request) (answer, bool) {
	e.mu.Lock()
	var f requestFault
	if len(e.faults.next) > 0 {
		f = e.faults.next[0]
		e.faults.next = e.faults.next[1:]
	} else if e.faults.randomRate > 0 && e.rng.Float64() < e.faults.randomRate {
		f = requestFault{status: http.StatusServiceUnavailable}
	}
	e.mu.Unlock()

	switch {
	case f.hang:
		e.log.Debug("twilio emulator hangs a request", "path", r.URL.Path)
		select {
		case <-r.Context().Done():
		case <-e.ctx.Done():
		}
		return twilioError(http.StatusServiceUnavailable, 20503, "Service Unavailable"), true
	case f.delay > 0:
		if !e.sleep(r.Context(), f.delay) {
			return twilioError(http.StatusServiceUnavailable, 20503, "Service Unavailable"), true
		}
		return answer{}, false
	case f.status == http.StatusTooManyRequests:
		a := twilioError(f.status, 20429, "Too Many Requests")
		secs := int((f.retryAfter + time.Second - 1) / time.Second)
		a.header = http.Header{"Retry-After": {strconv.Itoa(secs)}}
		return a, true
	case f.status == http.StatusServiceUnavailable:
		return twilioError(f.status, 20503, "Service Unavailable"), true
	case f.status != 0:
		return twilioError(f.status, 20500, "%s", http.StatusText(f.status)), true
	}
	return answer{}, false
}
