package store

import "encoding/binary"

// Buckets. Each holds JSON values unless noted.
var (
	bucketMeta      = []byte("meta")       // "origin" → this store's origin id
	bucketLog       = []byte("log")        // origin → nested bucket: seq (8 bytes) → relay.Event
	bucketMarks     = []byte("marks")      // origin → contiguous high mark (8 bytes)
	bucketFloors    = []byte("floors")     // origin → the log holds nothing at or below it (8 bytes)
	bucketOrigins   = []byte("origins")    // origin → the name of the node that writes under it
	bucketMessages  = []byte("messages")   // message id → relay.Message
	bucketDeliv     = []byte("deliveries") // delivery id → relay.Delivery
	bucketOpen      = []byte("open")       // delivery id → nothing: not yet settled
	bucketAwaiting  = []byte("awaiting")   // delivery id → nothing: sent, its receipt not yet in
	bucketCounts    = []byte("counts")     // message id → statusCounts
	bucketIncidents = []byte("incidents")  // incident id → relay.Incident
	bucketTimeline  = []byte("timeline")   // incident id 0x00 clock(8) message id → nothing
	bucketRoster    = []byte("roster")     // "current" → rosterRecord
	bucketAcks      = []byte("acks")       // message id 0x00 person → ackRecord
	bucketConsent   = []byte("consent")    // person 0x00 channel → consentRecord
	bucketPacked    = []byte("packed")     // message id → its settled deliveries, packed (binary)
	bucketPruned    = []byte("pruned")     // message id, or "rollcall/" + roll-call id → when it was removed, Unix seconds (8 bytes)
	bucketSeen      = []byte("seen")       // relay.Seen key → until, Unix nanoseconds (8 bytes)
	bucketOverrides = []byte("overrides")  // override id → overrideRecord
	// roll-call id → rollCallRecord; roll-call id 0x00 person → answerRecord
	bucketRollCalls       = []byte("rollcalls")
	bucketRollCallAnswers = []byte("rollcall_answers")
	// message id 0x00 round(4) step(4) origin → escalatedRecord
	bucketEscalated = []byte("escalated")
	// message id → nothing: its escalation is neither acknowledged nor run out
	bucketEscalating = []byte("escalating")
	// console login (see login.go): challenge id → CodeRecord; code steps
	// by person and by client address → nothing; revoked sessions and
	// people → until (8 bytes) or revokeRecord; the audit trail by time →
	// relay.AuditEntry
	bucketCodes     = []byte("codes")
	bucketCodeSteps = []byte("code_steps")
	bucketRevoked   = []byte("revoked")
	bucketAudit     = []byte("audit")
	// node name → siteRecord
	bucketSites = []byte("sites")
	// subject 0x00 node → watchReportRecord
	bucketWatchReports = []byte("watch_reports")
	// heartbeat → its latest beat, Unix nanoseconds (8 bytes)
	bucketBeats = []byte("beats")
	// subject → verdictRecord
	bucketVerdicts = []byte("watch_verdicts")
	// person 0x00 kind → relay.SelfContact: a person's own phone or email
	bucketContacts = []byte("contacts")
	// drill id → drillRecord; canary id → canaryRecord; provider → demotionRecord
	bucketDrills, bucketCanaries, bucketDemotions = []byte("drills"), []byte("canaries"), []byte("demotions")

	allBuckets = [][]byte{bucketMeta, bucketLog, bucketMarks, bucketMessages, bucketDeliv,
		bucketOpen, bucketAwaiting, bucketCounts, bucketIncidents, bucketTimeline, bucketRoster, bucketAcks, bucketConsent, bucketPacked, bucketPruned, bucketFloors, bucketOrigins, bucketSeen, bucketOverrides,
		bucketRollCalls, bucketRollCallAnswers, bucketEscalated, bucketEscalating,
		bucketCodes, bucketCodeSteps, bucketRevoked, bucketAudit,
		bucketSites, bucketWatchReports, bucketBeats, bucketVerdicts, bucketContacts,
		bucketDrills, bucketCanaries, bucketDemotions}

	keyOrigin  = []byte("origin")
	keyCurrent = []byte("current")
)

func u64(v uint64) []byte {
	b := make([]byte, 8)
	binary.BigEndian.PutUint64(b, v)
	return b
}

func getU64(b []byte) uint64 {
	if len(b) != 8 {
		return 0
	}
	return binary.BigEndian.Uint64(b)
}

func timelineKey(incident string, clock uint64, msgID string) []byte {
	k := make([]byte, 0, len(incident)+1+8+len(msgID))
	k = append(k, incident...)
	k = append(k, 0)
	k = binary.BigEndian.AppendUint64(k, clock)
	return append(k, msgID...)
}

func ackKey(msgID, person string) []byte {
	k := make([]byte, 0, len(msgID)+1+len(person))
	k = append(k, msgID...)
	k = append(k, 0)
	return append(k, person...)
}
