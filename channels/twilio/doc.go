// Package twilio sends incident messages as SMS through Twilio's REST API
// with twilio-go.
//
// SMS is a relay.Sender: each Send makes exactly one Messages create
// request, bounded by the caller's context and Config.Timeout, and
// classifies a failure into a relay.SendError (HTTP 429 and 5xx temporary,
// other 4xx permanent, with Twilio's error codes for invalid and
// unsubscribed recipients and refused credentials). Requests go to
// Config.APIURL, so a proxy or the Twilio emulator in package emulator can
// stand in for Twilio.
//
// The text is rendered by RenderBody, a pure function: a severity tag in
// the reader's language and the incident id, then the message. Korean is
// the default language; Hangul is sent as UCS-2 and counted in segments
// by package segment.
package twilio
