package twilio

import (
	"encoding/xml"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/oob-relay/relay/relay"
)

// Bounds of a call's TwiML.
const (
	// MaxSpokenChars bounds the message text a call speaks, in
	// characters. A thousand characters take three to four minutes to
	// speak, and the call speaks the text twice; longer texts are cut and
	// end in a pointer to the SMS and email copies.
	MaxSpokenChars = 1000
	// MaxTwimlChars is the longest TwiML document Twilio takes inline
	// (the Twiml parameter of a call create request), in characters.
	MaxTwimlChars = 4000
	// GatherSeconds is how long a call waits for a key after its last
	// prompt.
	GatherSeconds = 8
)

// maxSpokenEscaped bounds the escaped form of the spoken text, so that
// two copies of a text full of '&' and '<' still fit in MaxTwimlChars.
const maxSpokenEscaped = 1300

// maxSpokenIncident bounds the incident id a call speaks, in characters.
const maxSpokenIncident = 64

// speech is what a call says in one language.
type speech struct {
	language string // the Say language attribute
	voice    string // the Say voice attribute
	// severity names each severity as spoken.
	severity  map[relay.Severity]string
	intro     string // opens every call
	incident  string // "인시던트 %s"
	level     string // "심각도 %s"
	again     string // before the message is repeated
	prompt    string // asks for the acknowledgement key
	answer    string // asks for the key of a roll-call's answer
	noAck     string // ends a call where no key was pressed
	closing   string // ends a call that asks for no key
	cut       string // ends a text cut to MaxSpokenChars
	drill     string // opens a drill's call instead of intro
	thanks    string // answers the acknowledgement key
	notOne    string // answers any other key
	code      string // before the digits of a one-time code
	check     string // before the digits of a contact check code
	codeAgain string // before the digits are said again
}

// speeches are the languages a call speaks, by primary language tag.
var speeches = map[string]speech{
	"ko": {
		language:  "ko-KR",
		voice:     "Polly.Seoyeon",
		severity:  severityTags["ko"],
		intro:     "relay 비상 연락입니다.",
		drill:     "relay 비상 연락 훈련입니다. 실제 상황이 아닙니다.",
		incident:  "인시던트 %s",
		level:     "심각도 %s",
		again:     "다시 알려드립니다.",
		prompt:    "확인하셨으면 1번을 누르세요.",
		answer:    "답의 번호 키를 누르세요.",
		noAck:     "확인 입력이 없어 통화를 마칩니다. 문자와 메일도 확인하세요.",
		closing:   "relay 비상 연락을 마칩니다.",
		cut:       "… 전체 내용은 문자와 메일로 확인하세요.",
		thanks:    "확인되었습니다. 감사합니다.",
		notOne:    "1번을 누르지 않으셨습니다.",
		code:      "relay 로그인 코드를 알려드립니다.",
		check:     "relay 연락처 확인 코드를 알려드립니다.",
		codeAgain: "다시 한 번 알려드립니다.",
	},
	"en": {
		language: "en-US",
		voice:    "Polly.Joanna",
		severity: map[relay.Severity]string{
			relay.SeverityCritical: "critical", relay.SeverityWarning: "warning", relay.SeverityInfo: "info",
		},
		intro:     "This is a relay emergency call.",
		drill:     "This is a relay drill, not a real emergency.",
		incident:  "Incident %s",
		level:     "severity %s",
		again:     "Once more.",
		prompt:    "Press 1 to acknowledge.",
		answer:    "Press the key of your answer.",
		noAck:     "No acknowledgement was received. Please also check your text messages and email. Goodbye.",
		closing:   "End of the relay emergency call. Goodbye.",
		cut:       "… Read the full message in your text messages and email.",
		thanks:    "Your acknowledgement was recorded. Thank you.",
		notOne:    "You did not press 1.",
		code:      "Your relay login code is:",
		check:     "Your relay contact check code is:",
		codeAgain: "Once more, your code is:",
	},
}

// speechFor returns what a call to someone whose language tag is lang
// says: the tag's primary language when relay speaks it, else Korean.
func speechFor(lang string) speech {
	if sp, ok := speeches[Lang(lang)]; ok {
		return sp
	}
	return speeches[relay.DefaultLang]
}

// RenderCall returns the TwiML document of a call delivering out's
// message to out's person, in the person's language (Korean when the
// language is unknown):
//
//   - an intro naming relay, the incident and the severity;
//   - the message text;
//   - with a CallbackBase, a <Gather> of one key, posted to
//     out.CallbackURL(relay.CallbackGather), that asks for 1 (for a
//     roll-call's question, for the key of an answer), repeats the text
//     and asks again; if no key is pressed, a closing line and a hang-up
//     follow;
//   - without one, the text repeated and a closing line.
//
// The text is spoken as one paragraph: runs of white space, line breaks
// included, become one space, and control characters and invalid UTF-8
// are dropped. A text over MaxSpokenChars is cut and ends by pointing to
// the SMS and email copies. Everything is XML-escaped. RenderCall is pure;
// it fails only without a message or when the document would exceed
// MaxTwimlChars (a callback URL of thousands of characters).
func RenderCall(out *relay.Outgoing) (string, error) {
	if out == nil || out.Message == nil {
		return "", errors.New("twiml: no message to speak")
	}
	m := out.Message
	sp := speechFor(out.Person.LangOrDefault())
	text := cutSpoken(spoken(m.Text), sp.cut)
	prompt := sp.prompt
	if m.RollCall != "" {
		prompt = sp.answer // the text ends with the options and their keys
	}

	var d doc
	d.open()
	d.say(sp, intro(sp, m))
	d.say(sp, text)
	if action := out.CallbackURL(relay.CallbackGather); action != "" {
		d.line(`  <Gather input="dtmf" numDigits="1" action="` + escape(action) +
			`" method="POST" timeout="` + strconv.Itoa(GatherSeconds) + `">`)
		d.indent = "    "
		d.say(sp, prompt)
		if text != "" {
			d.line(`    <Pause length="1"/>`)
			d.say(sp, sp.again+" "+text)
			d.say(sp, prompt)
		}
		d.indent = "  "
		d.line("  </Gather>")
		d.say(sp, sp.noAck)
	} else {
		if text != "" {
			d.line(`  <Pause length="1"/>`)
			d.say(sp, sp.again+" "+text)
		}
		d.say(sp, sp.closing)
	}
	d.close()
	if n := utf8.RuneCountInString(d.String()); n > MaxTwimlChars {
		return "", fmt.Errorf("twiml: the call document has %d characters, more than Twilio's %d", n, MaxTwimlChars)
	}
	return d.String(), nil
}

// RenderCodeCall returns the TwiML document of a call that speaks a
// one-time code (out.Code) in the person's language: what the code is
// for, then its digits one at a time with a pause between them, then,
// after a pause, the digits again. It asks for no key.
func RenderCodeCall(out *relay.Outgoing) (string, error) {
	if out == nil || out.Code == nil {
		return "", errors.New("twiml: no code to speak")
	}
	for _, r := range out.Code.Digits {
		if r < '0' || r > '9' {
			return "", errors.New("twiml: a code is digits only")
		}
	}
	sp := speechFor(out.Person.LangOrDefault())
	lead := sp.code
	if out.Code.Purpose == relay.PurposeContact {
		lead = sp.check
	}
	var d doc
	d.open()
	d.say(sp, lead)
	for i, say := range []string{"", sp.codeAgain} {
		if i > 0 {
			d.line(`  <Pause length="2"/>`)
			d.say(sp, say)
		}
		for _, r := range out.Code.Digits {
			d.say(sp, string(r))
			d.line(`  <Pause length="1"/>`)
		}
	}
	d.say(sp, sp.closing)
	d.close()
	return d.String(), nil
}

// RenderGatherReply returns the TwiML answered to a call's Gather webhook
// for a person whose language tag is lang. When the person pressed 1
// (acknowledged) it thanks them and hangs up. Otherwise it says 1 was not
// pressed and asks once more with a <Gather> that has no action, so Twilio
// posts the next key to the same Gather webhook; with no key the call ends
// with a closing line.
func RenderGatherReply(lang string, acknowledged bool) string {
	sp := speechFor(lang)
	var d doc
	d.open()
	if acknowledged {
		d.say(sp, sp.thanks)
	} else {
		d.line(`  <Gather input="dtmf" numDigits="1" method="POST" timeout="` + strconv.Itoa(GatherSeconds) + `">`)
		d.indent = "    "
		d.say(sp, sp.notOne+" "+sp.prompt)
		d.indent = "  "
		d.line("  </Gather>")
		d.say(sp, sp.noAck)
	}
	d.close()
	return d.String()
}

// intro names relay, the incident and the severity:
// "relay 비상 연락입니다. 인시던트 db-outage, 심각도 긴급."
func intro(sp speech, m *relay.Message) string {
	if m.Drill != "" {
		// A drill says so first, and names no severity.
		if inc := cutRunes(spoken(m.Incident), maxSpokenIncident); inc != "" {
			return sp.drill + " " + fmt.Sprintf(sp.incident, inc) + "."
		}
		return sp.drill
	}
	var parts []string
	if inc := cutRunes(spoken(m.Incident), maxSpokenIncident); inc != "" {
		parts = append(parts, fmt.Sprintf(sp.incident, inc))
	}
	if m.Severity != "" {
		name, ok := sp.severity[m.Severity]
		if !ok {
			name = spoken(strings.ToLower(string(m.Severity)))
		}
		if name != "" {
			parts = append(parts, fmt.Sprintf(sp.level, name))
		}
	}
	if len(parts) == 0 {
		return sp.intro
	}
	return sp.intro + " " + strings.Join(parts, ", ") + "."
}

// doc builds a TwiML document, one element a line.
type doc struct {
	strings.Builder
	indent string
}

func (d *doc) open() {
	d.WriteString(`<?xml version="1.0" encoding="UTF-8"?>` + "\n<Response>\n")
	d.indent = "  "
}

func (d *doc) close() { d.WriteString("  <Hangup/>\n</Response>\n") }

func (d *doc) line(s string) { d.WriteString(s + "\n") }

// say adds a <Say> of text in sp's language and voice; empty text adds
// nothing, as Twilio refuses an empty Say.
func (d *doc) say(sp speech, text string) {
	if text == "" {
		return
	}
	d.line(d.indent + `<Say language="` + sp.language + `" voice="` + sp.voice + `">` + escape(text) + `</Say>`)
}

// escape returns s escaped for XML text and attribute values.
func escape(s string) string {
	var b strings.Builder
	_ = xml.EscapeText(&b, []byte(s)) // a strings.Builder never fails
	return b.String()
}

// spoken makes s one paragraph of speech: invalid UTF-8 and control
// characters dropped, runs of white space made one space, trimmed.
func spoken(s string) string {
	s = strings.ToValidUTF8(s, " ")
	s = strings.Map(func(r rune) rune {
		switch {
		case unicode.IsSpace(r):
			return ' '
		case unicode.IsControl(r), r == 0xFFFE, r == 0xFFFF:
			return -1
		}
		return r
	}, s)
	return strings.Join(strings.Fields(s), " ")
}

// cutSpoken returns text unchanged when it has at most MaxSpokenChars
// characters and at most maxSpokenEscaped once escaped; else it cuts the
// text, at a character boundary, so that it and suffix fit both bounds,
// and appends suffix.
func cutSpoken(text, suffix string) string {
	if utf8.RuneCountInString(text) <= MaxSpokenChars && escapedLen(text) <= maxSpokenEscaped {
		return text
	}
	chars := MaxSpokenChars - utf8.RuneCountInString(suffix)
	room := maxSpokenEscaped - escapedLen(suffix)
	n, size := 0, 0
	for i, r := range text {
		cost := escapedLen(string(r))
		if n+1 > chars || size+cost > room {
			return strings.TrimRight(text[:i], " ") + suffix
		}
		n, size = n+1, size+cost
	}
	return text + suffix
}

// escapedLen returns the length in characters of s once XML-escaped.
func escapedLen(s string) int {
	n := 0
	for _, r := range s {
		switch r {
		case '&', '\'', '"':
			n += 5 // &amp; &#39; &#34;
		case '<', '>':
			n += 4 // &lt; &gt;
		default:
			n++
		}
	}
	return n
}

// cutRunes cuts s to at most n characters.
func cutRunes(s string, n int) string {
	i := 0
	for pos := range s {
		if i == n {
			return s[:pos]
		}
		i++
	}
	return s
}
