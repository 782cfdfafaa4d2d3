package twilio

import (
	"fmt"
	"net/url"
	"strings"
	"unicode/utf8"

	"github.com/oob-relay/relay/relay"
)

// MaxBodyChars is the longest body Twilio accepts, in characters.
const MaxBodyChars = 1600

// truncated ends a body cut to MaxBodyChars. It is GSM-7, so it never
// turns a GSM-7 body into a UCS-2 one.
const truncated = "..."

// severityTags name each severity in each language relay speaks.
var severityTags = map[string]map[relay.Severity]string{
	"ko": {relay.SeverityCritical: "긴급", relay.SeverityWarning: "주의", relay.SeverityInfo: "알림"},
	"en": {relay.SeverityCritical: "CRITICAL", relay.SeverityWarning: "WARNING", relay.SeverityInfo: "INFO"},
}

// Lang returns the language an SMS to someone whose language tag is lang
// is written in: the tag's primary language when relay speaks it, else
// relay.DefaultLang.
func Lang(lang string) string {
	primary, _, _ := strings.Cut(strings.ToLower(lang), "-")
	if _, ok := severityTags[primary]; ok {
		return primary
	}
	return relay.DefaultLang
}

// RenderBody returns the SMS text of m for a reader of language lang:
//
//	[긴급] db-fire
//	서버실 화재. 3층 계단으로 대피하세요.
//
// The first line is the severity in the reader's language (for a drill,
// relay.DrillMarker: "[훈련] drill-20261202-1400") and the incident id; the message text follows as written, with Windows line
// ends made plain, surrounding space trimmed and invalid UTF-8 replaced. A body longer than
// MaxBodyChars is cut, at a character boundary, and ends in "...".
func RenderBody(m *relay.Message, lang string) string {
	var b strings.Builder
	tag, ok := severityTags[Lang(lang)][m.Severity]
	if !ok && m.Severity != "" {
		tag = strings.ToUpper(string(m.Severity))
	}
	switch {
	case m.Drill != "":
		// A drill is marked as one instead of a severity: nobody may
		// take it for the real thing.
		b.WriteString(relay.DrillMarker(lang))
	case tag != "":
		b.WriteString("[" + tag + "]")
	}
	if m.Incident != "" {
		if b.Len() > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(m.Incident)
	}
	text := strings.ToValidUTF8(m.Text, "\uFFFD")
	text = strings.TrimSpace(strings.ReplaceAll(text, "\r\n", "\n"))
	if text != "" {
		if b.Len() > 0 {
			b.WriteByte('\n')
		}
		b.WriteString(text)
	}
	return truncate(b.String(), MaxBodyChars)
}

// replyHints tell a reader how to answer, in each language relay speaks.
var replyHints = map[string]string{
	"ko": "\n답장 코드 %s · 1=확인",
	"en": "\nReply code %s - 1=ACK", // GSM-7 only: an English SMS stays 160 characters a part
}

// WithReplyCode ends an SMS body with the reader's reply code for its
// incident and how to acknowledge, keeping the whole within MaxBodyChars:
//
//	[긴급] db-fire
//	서버실 화재. 3층 계단으로 대피하세요.
//	답장 코드 KP47 · 1=확인
//
// An empty code leaves the body as it is.
func WithReplyCode(body, code, lang string) string {
	if code == "" {
		return body
	}
	hint := fmt.Sprintf(replyHints[Lang(lang)], code)
	return truncate(body, MaxBodyChars-utf8.RuneCountInString(hint)) + hint
}

// smsBody returns the text an SMS for out carries: RenderBody in the
// person's language, then, on a line of its own, the person's link to
// the incident room (WithLink), and last the person's reply code
// (WithReplyCode), all within MaxBodyChars (the text is cut, never the
// link or the code). A one-time code is relay.CodeText alone. Send sends
// it and Find looks for it.
func smsBody(out *relay.Outgoing) string {
	lang := out.Person.LangOrDefault()
	if out.Code != nil {
		return relay.CodeText(out.Code, lang)
	}
	body := RenderBody(out.Message, lang)
	if out.Link != "" {
		hint := 0
		if out.ReplyCode != "" {
			hint = utf8.RuneCountInString(fmt.Sprintf(replyHints[Lang(lang)], out.ReplyCode))
		}
		body = truncate(body, MaxBodyChars-hint-utf8.RuneCountInString(out.Link)-1)
	}
	return WithReplyCode(WithLink(body, out.Link), out.ReplyCode, lang)
}

// WithLink ends an SMS body with link on a line of its own, keeping the
// whole within MaxBodyChars (the body is cut, never the link). An empty
// link leaves the body as it is.
func WithLink(body, link string) string {
	if link == "" {
		return body
	}
	return truncate(body, MaxBodyChars-utf8.RuneCountInString(link)-1) + "\n" + link
}

// sameBody reports whether an SMS body Twilio holds is the one smsBody
// made for out, but for the link to the room, which each node signs with
// its own key at its own time under its own public URL: a node that
// takes over an attempt finds it all the same. A link of another length
// cuts a long text at another place, so two cut texts match when one is
// the start of the other.
func sameBody(got string, out *relay.Outgoing) bool {
	want := smsBody(out)
	if got == want || out.Link == "" {
		return got == want
	}
	i := strings.LastIndex(want, "\n"+out.Link)
	if i < 0 {
		return false
	}
	wantText, tail := want[:i], want[i+1+len(out.Link):]
	rest, ok := strings.CutSuffix(got, tail)
	if !ok {
		return false
	}
	j := strings.LastIndex(rest, "\n")
	if j < 0 || !isLink(rest[j+1:]) {
		return false
	}
	gotText := rest[:j]
	if gotText == wantText {
		return true
	}
	a, aCut := strings.CutSuffix(gotText, truncated)
	b, bCut := strings.CutSuffix(wantText, truncated)
	switch {
	case aCut && bCut:
		return strings.HasPrefix(a, b) || strings.HasPrefix(b, a)
	case aCut:
		return strings.HasPrefix(wantText, a)
	case bCut:
		return strings.HasPrefix(gotText, b)
	}
	return false
}

// isLink reports whether s has the shape of a personal link: an http or
// https URL whose path is /l/ and a token, with no space in it.
func isLink(s string) bool {
	u, err := url.Parse(s)
	return err == nil && (u.Scheme == "http" || u.Scheme == "https") && u.Host != "" &&
		strings.HasPrefix(u.Path, "/l/") && len(u.Path) > len("/l/") && !strings.ContainsAny(s, " \t\n")
}

// truncate cuts s to at most n characters, ending it in truncated when cut.
func truncate(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	keep := n - utf8.RuneCountInString(truncated)
	i := 0
	for pos := range s {
		if i == keep {
			return strings.TrimRight(s[:pos], " \n") + truncated
		}
		i++
	}
	return s
}
