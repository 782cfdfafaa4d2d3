// Package twilio carries incident messages over Twilio: it sends SMS and
// voice calls through Twilio's REST API with twilio-go, looks up what
// became of them, and serves the webhooks Twilio calls on a node.
//
// SMS and Voice are relay.Senders: each Send makes exactly one create
// request (a Message or a Call), bounded by the caller's context and
// Config.Timeout, and classifies a failure into a relay.SendError (HTTP
// 429 and 5xx temporary, other 4xx permanent, with Twilio's error codes
// for invalid and unsubscribed recipients and refused credentials).
// Requests go to Config.APIURL, so a proxy or the emulator (below) can
// stand in for Twilio. A call speaks the message in the person's language
// (RenderCall, TwiML sent inline) and, when the node takes webhooks, asks
// them to press 1; a call needs a From number, as a messaging service
// cannot place calls.
//
// # Lookups
//
// SMS and Voice are also relay.Trackers. Track fetches a message or call
// by its SID and reads its status exactly as a status callback is read
// (ParseStatus); the engine uses it when a receipt is late. SMS.Find looks
// for the message an interrupted attempt may have sent after all, by its
// exact body, so that a takeover does not send it twice; Voice.Find is
// unsupported, as nothing in a call ties it to one delivery.
//
// # Webhooks
//
// Hooks (NewHooks, HookOptions) serves Twilio's webhooks under
// relay.WebhookPrefix:
//
//   - <prefix><delivery id>/status, a message's or call's status callback:
//     a final one is recorded as the delivery's receipt (Node.RecordReceipt);
//   - <prefix><delivery id>/gather, the keys pressed during a call: 1
//     acknowledges (Node.Acknowledge), and the answer is the TwiML to say
//     next (RenderGatherReply);
//   - InboundSMSPath, an SMS a person sent to one of relay's numbers: the
//     node takes it as a reply or a command (Node.Receive), and the
//     answer is TwiML with the node's automatic answer, if any
//     (RenderMessageReply). A text from one of relay's own numbers is
//     ignored.
//
// Every request must carry an X-Twilio-Signature (ValidSignature) over
// HookOptions.PublicURL, or the CallbackURL every node of the cluster
// answers, keyed by one of the accounts' auth tokens. A forged or unsigned
// request is refused with 403 and changes nothing. A request that changes
// state is taken once by the cluster, on whichever node and however often
// it comes, restarts included: again, it is a duplicate answered as the
// first that changes nothing; a callback too late for its delivery is
// refused with 403 (replay.go says which keys and windows, and why). A
// malformed form gets 400 (ParseStatus, ParseGather and
// ParseIncoming name the field at fault), an unknown delivery 404, and a
// failure to record 503, so that Twilio retries. Hooks reaches the node
// only through the small Node interface, so this package never imports it.
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
// 1=ACK" in English. Korean is the default language; a reader whose
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
// message, 67 per part beyond that. The English severity tag and footer,
// the incident id and the "..." of a cut text keep to the GSM alphabet,
// so an English body stays GSM-7 unless its own text leaves it.
//
// A receipt's Segments is always relay's count of the body sent. Its
// ProviderSegments is Twilio's num_segments when Twilio gave a non-zero
// figure that differs (Twilio answers 0 while a messaging service has not
// picked a sender), and zero otherwise; SMS.Find reports both alike.
//
// # Emulator
//
// Package emulator (channels/twilio/emulator) is an HTTP server that
// answers like Twilio's REST API for the messages and calls relay makes,
// checks each request against Twilio's OpenAPI description when given it,
// posts signed status callbacks, presses scripted keys in calls, sends
// incoming SMS to a messaging webhook, and fails on demand. The tests of
// this package and relay dev send to it; package emulatortest starts one
// for a test.
package twilio
