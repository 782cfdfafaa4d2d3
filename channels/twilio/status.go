package twilio

import (
	"strconv"

	"github.com/oob-relay/relay/relay"
)

// verdict is what a Twilio status of a message or call, with Twilio's
// error code, means for a delivery. A status callback (ParseStatus) and a
// lookup (Track, Find) both read Twilio's statuses through it, so they
// never disagree.
type verdict struct {
	status    relay.Status
	reason    relay.Reason
	code      string
	temporary bool
	err       string // for people, on a failure
}

// judge maps status, a MessageStatus (kind KindMessage) or CallStatus
// (KindCall), and Twilio's error code (digits, or empty) onto relay, by
// messageOutcomes, callOutcomes and the codes' meanings (codeMeaning). ok
// is false for a status relay does not know.
func judge(kind, status, code string) (v verdict, ok bool) {
	outcomes := messageOutcomes
	if kind == KindCall {
		outcomes = callOutcomes
	}
	oc, ok := outcomes[status]
	if !ok {
		return verdict{}, false
	}
	return oc.judge(kind, status, code), true
}

// judge applies the outcome of status to Twilio's error code: a failure
// takes its reason and temporariness from the code when Twilio gave one
// relay knows, and its text from the status and the code.
func (oc outcome) judge(kind, status, code string) verdict {
	v := verdict{status: oc.status}
	if oc.status != relay.StatusFailed {
		return v
	}
	v.reason, v.temporary, v.code = oc.reason, oc.temporary, code
	v.err = kind + " " + status
	if n, _ := strconv.Atoi(code); n != 0 {
		rc, known := codeMeaning(n)
		if known {
			v.reason, v.temporary = rc.reason, rc.temporary
		}
		if rc.text != "" {
			v.err += ": " + rc.text
		}
		v.err += " (Twilio error " + code + ")"
	}
	return v
}

// report is v as a relay.Report of the attempt Twilio knows as sid.
func (v verdict) report(sid string) relay.Report {
	return relay.Report{ProviderID: sid, Status: v.status, Reason: v.reason, Code: v.code, Error: v.err, Temporary: v.temporary}
}
