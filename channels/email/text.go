package email

import (
	"html"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/oob-relay/relay/relay"
)

// maxSummaryRunes bounds the part of the subject taken from the text, so
// the whole subject stays readable on a phone's lock screen.
const maxSummaryRunes = 60

// words is the fixed text of a message in one language.
type words struct {
	tag      string
	severity map[relay.Severity]string
	incident string
	level    string
	author   string
	accepted string
	message  string
	sentBy   string
	room     string // before the personal link to the incident room
	drill    string // names a drill's message where the severity would be
	zone     *time.Location
}

// Korea has kept standard time without daylight saving since 1988, so a
// fixed zone is exact and needs no time zone database.
var kst = time.FixedZone("KST", 9*60*60)

var korean = words{
	tag: "ko",
	severity: map[relay.Severity]string{
		relay.SeverityCritical: "긴급",
		relay.SeverityWarning:  "경고",
		relay.SeverityInfo:     "정보",
	},
	incident: "인시던트",
	level:    "심각도",
	author:   "작성자",
	accepted: "접수 시각",
	message:  "메시지 ID",
	sentBy:   "relay 비상 연락 시스템이 보낸 메시지입니다.",
	room:     "인시던트 화면 열기",
	drill:    "훈련",
	zone:     kst,
}

var english = words{
	tag: "en",
	severity: map[relay.Severity]string{
		relay.SeverityCritical: "CRITICAL",
		relay.SeverityWarning:  "WARNING",
		relay.SeverityInfo:     "INFO",
	},
	incident: "Incident",
	level:    "Severity",
	author:   "Posted by",
	accepted: "Accepted",
	message:  "Message ID",
	sentBy:   "Sent by relay, the out-of-band emergency relay.",
	room:     "Open the incident room",
	drill:    "DRILL",
	zone:     time.UTC,
}

// wordsFor picks the text for a language tag by its primary language:
// English for "en", otherwise relay.DefaultLang (Korean), as the other
// channels do.
func wordsFor(lang string) *words {
	base, _, _ := strings.Cut(strings.ToLower(lang), "-")
	if base == english.tag {
		return &english
	}
	return &korean
}

func (w *words) severityName(s relay.Severity) string {
	if n, ok := w.severity[s]; ok {
		return n
	}
	return strings.ToUpper(string(s))
}

// label names the message where its severity goes: the severity, or
// for a drill the drill's mark ("훈련", "DRILL"), never a severity.
func (w *words) label(m *relay.Message) string {
	if m.Drill != "" {
		return w.drill
	}
	return w.severityName(m.Severity)
}

// subject is "[긴급] db-outage: first line of the text", with the line
// shortened to maxSummaryRunes.
func subject(m *relay.Message, w *words) string {
	s := "[" + w.label(m) + "] " + m.Incident
	if line := summary(m.Text); line != "" {
		s += ": " + line
	}
	return s
}

// summary returns the first non-blank line of text with runs of white
// space and control characters collapsed to one space, shortened to
// maxSummaryRunes with an ellipsis.
func summary(text string) string {
	for _, line := range strings.Split(normalizeNewlines(text), "\n") {
		line = oneLine(line)
		if line == "" {
			continue
		}
		if utf8.RuneCountInString(line) <= maxSummaryRunes {
			return line
		}
		r := []rune(line)[:maxSummaryRunes-1]
		return strings.TrimRightFunc(string(r), unicode.IsSpace) + "…"
	}
	return ""
}

// oneLine collapses runs of white space, control characters and invalid
// UTF-8 in s to single spaces.
func oneLine(s string) string {
	return strings.Join(strings.FieldsFunc(s, func(r rune) bool {
		return unicode.IsSpace(r) || unicode.IsControl(r) || r == utf8.RuneError
	}), " ")
}

func normalizeNewlines(s string) string {
	return strings.NewReplacer("\r\n", "\n", "\r", "\n").Replace(s)
}

// footerLines are the facts below the text, as "label: value".
func footerLines(m *relay.Message, w *words) []string {
	return []string{
		w.incident + ": " + m.Incident,
		w.level + ": " + w.label(m),
		w.author + ": " + oneLine(m.Author),
		w.accepted + ": " + m.AcceptedAt.In(w.zone).Format("2006-01-02 15:04:05 MST"),
		w.message + ": " + m.ID,
	}
}

// plainBody is the text/plain part: the text, the personal link to the
// incident room when there is one, then a signature block ("-- " line)
// with the footer.
func plainBody(m *relay.Message, w *words, link string) string {
	var b strings.Builder
	b.WriteString(strings.TrimRight(normalizeNewlines(m.Text), "\n"))
	if link != "" {
		b.WriteString("\n\n" + w.room + ":\n" + link)
	}
	b.WriteString("\n\n-- \n")
	for _, l := range footerLines(m, w) {
		b.WriteString(l)
		b.WriteByte('\n')
	}
	b.WriteString(w.sentBy)
	b.WriteByte('\n')
	return b.String()
}

// htmlBody is the text/html part: the same content, escaped, with no
// external resources.
func htmlBody(m *relay.Message, w *words, subj, link string) string {
	var b strings.Builder
	b.WriteString("<!DOCTYPE html>\n<html lang=\"" + w.tag + "\">\n<head>\n<meta charset=\"utf-8\">\n")
	b.WriteString("<meta name=\"viewport\" content=\"width=device-width\">\n")
	b.WriteString("<title>" + html.EscapeString(subj) + "</title>\n</head>\n")
	b.WriteString("<body style=\"font-family:sans-serif;line-height:1.5\">\n")
	color := "#333"
	if m.Severity == relay.SeverityCritical && m.Drill == "" {
		color = "#b00020"
	}
	b.WriteString("<p style=\"font-weight:bold;color:" + color + "\">[" + html.EscapeString(w.label(m)) +
		"] " + html.EscapeString(m.Incident) + "</p>\n")
	b.WriteString("<p>")
	lines := strings.Split(strings.TrimRight(normalizeNewlines(m.Text), "\n"), "\n")
	for i, l := range lines {
		if i > 0 {
			b.WriteString("<br>\n")
		}
		b.WriteString(html.EscapeString(l))
	}
	b.WriteString("</p>\n")
	if link != "" {
		b.WriteString("<p><a href=\"" + html.EscapeString(link) + "\">" + html.EscapeString(w.room) + "</a></p>\n")
	}
	b.WriteString("<hr>\n<p style=\"color:#666;font-size:small\">")
	for _, l := range footerLines(m, w) {
		b.WriteString(html.EscapeString(l) + "<br>\n")
	}
	b.WriteString(html.EscapeString(w.sentBy) + "</p>\n</body>\n</html>\n")
	return b.String()
}
