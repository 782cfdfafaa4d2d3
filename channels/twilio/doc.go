// Package twilio sends incident messages as SMS and voice calls through
// Twilio's REST API with twilio-go.
//
// SMS and Voice are relay.Senders: each Send makes exactly one create
// request (a Message or a Call), bounded by the caller's context and
// Config.Timeout, and classifies a failure into a relay.SendError (HTTP
// 429 and 5xx temporary, other 4xx permanent, with Twilio's error codes
// for invalid and unsubscribed recipients and refused credentials).
// Requests go to Config.APIURL, so a proxy or the Twilio emulator in
// package emulator can stand in for Twilio.
//
// Both are also relay.Trackers. Track fetches a message or call by its SID
// and reads its status exactly as a status callback is read (ParseStatus).
// SMS.Find looks for the message an interrupted attempt may have sent
// after all, by its exact body, so that a takeover does not send it
// twice; Voice.Find is unsupported, as nothing in a call ties it to one
// delivery.
//
// # SMS body
//
// The text of an SMS is a pure function of the delivery (RenderBody, then
// WithReplyCode):
//
//	[긴급] db-fire
//	서버실 화재. 3층 계단으로 대피하세요.
//	답장 코드 KP47 · 1=확인
//
// The first line is the severity tag in the reader's language (긴급, 주의,
// 알림; CRITICAL, WARNING, INFO in English) and the incident id. The
// message text follows as written, with Windows line ends made plain,
// surrounding space trimmed and invalid UTF-8 replaced. When the node
// takes replies, a footer gives the reader's reply code for the incident
// and how to acknowledge: "답장 코드 KP47 · 1=확인", or "Reply code KP47 -
// 1=ACK" in English (all GSM-7, so an English body stays GSM-7). Korean is the default language; a reader whose
// language relay does not speak reads Korean. The whole is at most
// MaxBodyChars (1600) characters, Twilio's limit: a longer text is cut at
// a character boundary and ends in "...", and the footer is kept whole.
// Since the body names the incident, the text and the reader's code, it
// marks the delivery, and SMS.Find matches on it.
//
// # Segments
//
// Carriers send a long SMS in parts, counted by package segment as Twilio
// counts them. A body whose every character is in the GSM 03.38 alphabet
// is GSM-7: 160 septets in a single message, 153 per part when split, with
// "[", "]", "€" and a few others taking two. Any other body is UCS-2: 70
// UTF-16 units in a single message, 67 per part when split. Hangul is
// outside GSM-7, so a Korean body is UCS-2: up to 70 characters in one
// message, 67 per part beyond that. The middle dot of the reply-code
// footer is outside GSM-7 too, so a body with a reply code is UCS-2 in
// English as well.
//
// A receipt's Segments is always relay's count of the body sent. Its
// ProviderSegments is Twilio's num_segments when Twilio gave a non-zero
// figure that differs (Twilio answers 0 while a messaging service has not
// picked a sender), and zero otherwise; SMS.Find reports both alike.
package twilio
