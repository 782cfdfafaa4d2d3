package twilio

import (
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"strconv"
	"unicode/utf8"

	"github.com/twilio/twilio-go/client"

	"github.com/oob-relay/relay/relay"
)

// Kinds of status callback.
const (
	KindMessage = "message"
	KindCall    = "call"
)

var (
	messageSIDPattern = regexp.MustCompile(`^(SM|MM)[0-9a-fA-F]{32}$`)
	callSIDPattern    = regexp.MustCompile(`^CA[0-9a-fA-F]{32}$`)
	digitsPattern     = regexp.MustCompile(`^[0-9*#]{0,32}$`)
	errorCodePattern  = regexp.MustCompile(`^[0-9]{1,6}$`)
)

// ValidSignature reports whether signature is the X-Twilio-Signature that
// Twilio computes, keyed by authToken, for a POST webhook to fullURL (as
// Twilio called it, scheme, host, path and query) with the form
// parameters of its body. It checks with twilio-go's RequestValidator,
// which accepts the signature of the URL with or without its port (":443"
// for https, ":80" for http), as Twilio signs either way.
//
// An empty signature or token never validates. Twilio's status and Gather
// webhooks never repeat a parameter, and twilio-go's validator signs one
// value per name, so a form that repeats a name is refused rather than
// checked on its first value.
func ValidSignature(authToken, fullURL string, form url.Values, signature string) bool {
	if authToken == "" || signature == "" {
		return false
	}
	params := make(map[string]string, len(form))
	for k, vs := range form {
		switch len(vs) {
		case 0:
			// A name without a value adds nothing to what Twilio signs.
		case 1:
			params[k] = vs[0]
		default:
			return false
		}
	}
	v := client.NewRequestValidator(authToken)
	return v.Validate(fullURL, params, signature)
}

// Report is what one Twilio status callback says of a message or a call,
// in relay's terms.
type Report struct {
	// SID is the message's or call's SID: the Receipt's ProviderID.
	SID string
	// Kind is KindMessage or KindCall.
	Kind string
	// TwilioStatus is the MessageStatus or CallStatus as Twilio sent it.
	TwilioStatus string
	// Status is the delivery status the report moves the delivery to, or
	// empty when it moves it nowhere: a message or call still on its way
	// (queued, accepted, scheduled, sending; initiated, ringing,
	// in-progress) is already "sent" as far as relay is concerned.
	//
	// A message Twilio handed to the carrier reports StatusSent; one
	// delivered (or read) StatusDelivered; one undelivered, failed or
	// canceled StatusFailed.
	//
	// A completed call reports StatusSent, not delivered: the phone was
	// answered (perhaps by voicemail, as calls do not use answering
	// machine detection), but only the person pressing 1 in the call's
	// Gather confirms it, and that arrives at the Gather webhook as an
	// acknowledgement. A completed call without one was answered, not
	// acknowledged. A busy, no-answer, failed or canceled call reports
	// StatusFailed.
	Status relay.Status
	// Reason and Code say why a failed report failed: the relay reason and
	// Twilio's error code (ErrorCode), which may be empty.
	Reason relay.Reason
	Code   string
	// Temporary is set on a failed report when a new attempt may well
	// succeed: a busy or unanswered call, a handset that was switched off,
	// a Twilio queue overflow. The engine may retry; the attempt itself
	// has ended.
	Temporary bool
	// Digits are the keys pressed, when the callback carries them.
	Digits string
	// Final reports whether Status is final (Status.Final()): delivered or
	// failed. A report with Final set ends this attempt.
	Final bool
	// Error describes a failure for people, such as "call busy" or
	// "message undelivered: unreachable handset (Twilio error 30003)".
	Error string
}

// outcome is how a Twilio status maps onto relay.
type outcome struct {
	status    relay.Status
	reason    relay.Reason
	temporary bool
}

// messageOutcomes maps every MessageStatus of an outbound message.
var messageOutcomes = map[string]outcome{
	"accepted":  {},
	"scheduled": {},
	"queued":    {},
	"sending":   {},
	"sent":      {status: relay.StatusSent},
	"delivered": {status: relay.StatusDelivered},
	"read":      {status: relay.StatusDelivered},
	// Some parts of a long message reached the phone: the person has
	// it, if not whole.
	"partially_delivered": {status: relay.StatusDelivered},
	"undelivered":         {status: relay.StatusFailed, reason: relay.ReasonUnknown},
	"failed":              {status: relay.StatusFailed, reason: relay.ReasonUnknown},
	"canceled":            {status: relay.StatusFailed, reason: relay.ReasonUnknown},
}

// callOutcomes maps every CallStatus of an outbound call.
var callOutcomes = map[string]outcome{
	"queued":      {},
	"initiated":   {},
	"ringing":     {},
	"in-progress": {},
	"completed":   {status: relay.StatusSent},
	"busy":        {status: relay.StatusFailed, reason: relay.ReasonRecipient, temporary: true},
	"no-answer":   {status: relay.StatusFailed, reason: relay.ReasonRecipient, temporary: true},
	"failed":      {status: relay.StatusFailed, reason: relay.ReasonRecipient},
	"canceled":    {status: relay.StatusFailed, reason: relay.ReasonUnknown},
}

// receiptCode is what a Twilio error code in a status callback means.
type receiptCode struct {
	reason    relay.Reason
	temporary bool
	text      string
}

// receiptCodes are the error codes of status callbacks. Codes of create
// requests (codeReasons, callCodeReasons) are understood as well.
var receiptCodes = map[int]receiptCode{
	30001: {relay.ReasonRateLimited, true, "queue overflow"},
	30002: {relay.ReasonAuth, false, "account suspended"},
	30003: {relay.ReasonRecipient, true, "unreachable handset"}, // switched off or out of coverage
	30004: {relay.ReasonUnsubscribe, false, "message blocked"},
	30005: {relay.ReasonRecipient, false, "unknown handset"},
	30006: {relay.ReasonRecipient, false, "landline or unreachable carrier"},
	30007: {relay.ReasonRejected, false, "filtered by the carrier"},
	30008: {relay.ReasonProvider, true, "unknown error"},
	30009: {relay.ReasonProvider, true, "missing segment"},
	30010: {relay.ReasonRejected, false, "price exceeds the maximum"},
	21610: {relay.ReasonUnsubscribe, false, "unsubscribed recipient"},
}

// ParseStatus reads a Twilio status callback's form: a message's
// (MessageSid, MessageStatus, ErrorCode) or a call's (CallSid,
// CallStatus, ErrorCode), told apart by CallSid. See Report for how each
// status maps onto relay. A missing, repeated or malformed field, or a
// status relay does not know, is an error that names the field; the
// signature must be checked first (ValidSignature).
func ParseStatus(form url.Values) (Report, error) {
	kind, sidKey, statusKey, sids, outcomes := KindMessage, "MessageSid", "MessageStatus", messageSIDPattern, messageOutcomes
	if form.Has("CallSid") {
		kind, sidKey, statusKey, sids, outcomes = KindCall, "CallSid", "CallStatus", callSIDPattern, callOutcomes
	}
	sid, err := field(form, sidKey, true)
	if err != nil {
		return Report{}, err
	}
	if !sids.MatchString(sid) {
		return Report{}, fmt.Errorf("%s: %s is not a %s SID", sidKey, quote(sid), kind)
	}
	status, err := field(form, statusKey, true)
	if err != nil {
		return Report{}, err
	}
	oc, ok := outcomes[status]
	if !ok {
		return Report{}, fmt.Errorf("%s: %s is not a status of an outbound %s", statusKey, quote(status), kind)
	}
	code, err := field(form, "ErrorCode", false)
	if err != nil {
		return Report{}, err
	}
	if code != "" && !errorCodePattern.MatchString(code) {
		return Report{}, fmt.Errorf("ErrorCode: %s is not a Twilio error code", quote(code))
	}
	digits, err := field(form, "Digits", false)
	if err != nil {
		return Report{}, err
	}
	if !digitsPattern.MatchString(digits) {
		return Report{}, fmt.Errorf("Digits: %s are not phone keys", quote(digits))
	}

	v := oc.judge(kind, status, code)
	return Report{SID: sid, Kind: kind, TwilioStatus: status, Status: v.status, Reason: v.reason, Code: v.code,
		Temporary: v.temporary, Digits: digits, Final: v.status.Final(), Error: v.err}, nil
}

// codeMeaning returns what a Twilio error code in a status callback
// means.
func codeMeaning(code int) (receiptCode, bool) {
	if rc, ok := receiptCodes[code]; ok {
		return rc, true
	}
	if reason, ok := callCodeReasons[code]; ok {
		return receiptCode{reason: reason}, true
	}
	if reason, ok := codeReasons[code]; ok {
		return receiptCode{reason: reason, temporary: reason == relay.ReasonRateLimited}, true
	}
	return receiptCode{}, false
}

// ParseGather reads the form of a call's Gather webhook: the call's SID
// and the keys pressed. Digits may be empty (a Gather that ended without
// a key and posts anyway) but must be present. A missing, repeated or
// malformed field is an error that names it; the signature must be
// checked first (ValidSignature).
func ParseGather(form url.Values) (callSID, digits string, err error) {
	callSID, err = field(form, "CallSid", true)
	if err != nil {
		return "", "", err
	}
	if !callSIDPattern.MatchString(callSID) {
		return "", "", fmt.Errorf("CallSid: %s is not a call SID", quote(callSID))
	}
	if !form.Has("Digits") {
		return "", "", errors.New("Digits: missing")
	}
	digits, err = field(form, "Digits", false)
	if err != nil {
		return "", "", err
	}
	if !digitsPattern.MatchString(digits) {
		return "", "", fmt.Errorf("Digits: %s are not phone keys", quote(digits))
	}
	return callSID, digits, nil
}

// field returns the one value of form's key; a repeated key is an error,
// and so is a missing or empty one when required.
func field(form url.Values, key string, required bool) (string, error) {
	vs := form[key]
	switch {
	case len(vs) > 1:
		return "", fmt.Errorf("%s: given %d times", key, len(vs))
	case len(vs) == 0 || vs[0] == "":
		if required {
			return "", fmt.Errorf("%s: missing", key)
		}
		return "", nil
	}
	return vs[0], nil
}

// quote quotes a value from outside for an error message, cut to a
// readable length.
func quote(s string) string {
	const limit = 40
	if utf8.RuneCountInString(s) > limit {
		return strconv.Quote(cutRunes(s, limit)) + "…"
	}
	return strconv.Quote(s)
}
