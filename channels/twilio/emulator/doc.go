// Package emulator is a Twilio stand-in: an HTTP server that answers like
// Twilio's REST API 2010-04-01 for the resources relay uses, for tests and
// for a local demo cluster.
//
// It accepts messages (POST .../Messages.json) and calls (POST
// .../Calls.json), fetches each by SID (GET .../Messages/{Sid}.json,
// .../Calls/{Sid}.json) and lists them (GET .../Messages.json,
// .../Calls.json), with Twilio's JSON, status codes and error bodies,
// after checking HTTP basic auth against its accounts. Lists are newest
// first, filtered as Twilio filters them (messages by To, From and
// DateSent, calls by To, From, Status, StartTime and EndTime; dates as
// YYYY-MM-DD in UTC, or RFC 3339 times as twilio-go sends them, which
// count as their UTC date), and paged with PageSize, Page and the
// PageToken in each page's next_page_uri, so twilio-go's ListMessage and
// ListCall read them across pages. With a Spec, each
// request and answer is also checked against Twilio's own OpenAPI
// description, and every mismatch is recorded as a violation (and the
// request refused), so code that passes against the emulator speaks the
// API Twilio documents.
//
// After accepting, it moves each message and call through its statuses
// and posts status callbacks signed with X-Twilio-Signature the way Twilio
// does (see Sign). It fetches a call's TwiML from its Url, presses
// scripted digits into a <Gather>, and can post inbound messages to an
// application's messaging webhook (SendInbound). A phone can answer every
// message it gets by itself (AutoRespond), as phones with an auto-reply
// do: its answer goes to the messaging webhook of the number that texted
// it (SetMessagingWebhook), and the <Message> of the TwiML answer comes
// back to the phone as an outbound-reply message, which it answers in
// turn; Idle and WaitIdle tell when nothing is under way.
//
// Failures are scripted with methods: RejectNumber, FailDelivery,
// LoseCallbacks, SetCallOutcome, FailNext, RateLimitNext, SlowNext,
// HangNext and RandomFailures; UpdateMessage and UpdateCall move a record
// to where Twilio might take it (read, canceled, another segment count).
// Messages and Calls return snapshots of what was accepted, and the Wait
// methods block until something happened, without sleeping.
package emulator
