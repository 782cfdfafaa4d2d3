package inbound

import (
	"regexp"
	"strings"
	"unicode"
)

// StripQuoted returns what the person wrote in a reply: text without the
// quoted original and without a signature. It is a pure function of text.
//
// It cuts the text at the first line that starts
//
//   - a signature: a "-- " separator line, or a phone or mail app's
//     signature line such as "Sent from my iPhone", "iPhone에서 보냄",
//     "Galaxy에서 보냄" or "Get Outlook for iOS";
//   - an unmarked original: "-----Original Message-----",
//     "-----원본 메시지-----", an Outlook header block ("From: ... Sent:
//     ..." or "보낸 사람: ... 보낸 날짜: ...", with or without the
//     underscore line above it), or an attribution line followed by
//     unquoted text.
//
// Above that cut, it drops lines quoted with ">" and the attribution lines
// that introduce them ("On Tue, Nov 24, 2026 at 3:00 PM Kim <a@b> wrote:",
// "2026년 11월 24일 (화) 오후 3:00, 홍길동 <a@b>님이 작성:", also when wrapped
// over two lines), so text written between quoted passages is kept.
// Trailing spaces, blank lines at either end and runs of blank lines are
// trimmed. Nothing below a forward marker ("---------- Forwarded message
// ---------", "Begin forwarded message:") is cut, since a forward is what
// the person means to post.
func StripQuoted(text string) string {
	lines := strings.Split(strings.NewReplacer("\r\n", "\n", "\r", "\n").Replace(text), "\n")
	for i := range lines {
		if forwardMarker.MatchString(lines[i]) {
			break
		}
		if cutsHere(lines, i) {
			lines = lines[:i]
			break
		}
	}
	var out []string
	for i := 0; i < len(lines); i++ {
		if quoted(lines[i]) {
			continue
		}
		if n := attribution(lines, i); n > 0 {
			i += n - 1
			continue
		}
		out = append(out, strings.TrimRightFunc(lines[i], unicode.IsSpace))
	}
	return squeezeBlank(out)
}

var (
	// originalMarker matches the separator lines mail clients put above an
	// original they quote without ">".
	originalMarker = regexp.MustCompile(`(?i)^\s*-{3,}\s*(original message|원본 메시지|원본 메일|원래 메시지)\s*-{3,}\s*$`)
	// forwardMarker matches the line above a forwarded message; nothing
	// below it is cut.
	forwardMarker = regexp.MustCompile(`(?i)^\s*(-{3,}\s*(forwarded message|전달된 메시지|전달 메시지)\s*-{3,}|begin forwarded message:|전달된 메일:)\s*$`)
	// outlookFrom and outlookSent match the first lines of an Outlook
	// header block, in English and Korean, bold markers allowed.
	outlookFrom = regexp.MustCompile(`(?i)^\s*\*?(from|보낸\s*사람)\s*:`)
	outlookSent = regexp.MustCompile(`(?i)^\s*\*?(sent|date|보낸\s*날짜|날짜)\s*:`)
	underscores = regexp.MustCompile(`^\s*_{10,}\s*$`)
	// mobileSignature matches the signature line phones and mail apps add.
	mobileSignature = []*regexp.Regexp{
		regexp.MustCompile(`(?i)^\s*sent from my [\pL\pN ._'-]{1,40}$`),
		regexp.MustCompile(`(?i)^\s*sent (from|with|via) (outlook|mail|gmail|yahoo mail|samsung mail|proton ?mail|naver mail|mail for windows)( for [\pL\pN ._-]{1,20})?\.?\s*$`),
		regexp.MustCompile(`(?i)^\s*get outlook for (ios|android)\s*$`),
		regexp.MustCompile(`(?i)^\s*(ios|android)\s*용\s*outlook\s*(받기|에서 보냄)\s*$`),
		regexp.MustCompile(`(?i)^\s*[\pL\pN ._'-]{0,30}(iphone|ipad|ipod|galaxy|갤럭시|samsung|삼성|android|안드로이드|스마트폰|휴대폰|모바일|outlook|메일\s*앱)[\pL\pN ._'-]{0,20}에서\s*보냄\.?\s*$`),
	}
	// attributionEnd matches how an attribution line ends.
	attributionEnd = regexp.MustCompile(`(?i)(\swrote|작성|님이\s*씀|씀)\s*:\s*$`)
	digit          = regexp.MustCompile(`[0-9]`)
)

// cutsHere reports whether line i starts a signature or an unmarked
// original, after which nothing is the person's.
func cutsHere(lines []string, i int) bool {
	l := lines[i]
	if strings.TrimRight(l, " \t") == "--" {
		return true
	}
	for _, re := range mobileSignature {
		if re.MatchString(l) {
			return true
		}
	}
	if originalMarker.MatchString(l) || outlookHeader(lines, i) {
		return true
	}
	if underscores.MatchString(l) {
		if j := nextNonBlank(lines, i+1); j < len(lines) && outlookHeader(lines, j) {
			return true
		}
	}
	// An attribution followed by unquoted text introduces an original
	// quoted without ">". The stricter test (a date or time in it) keeps
	// a sentence that happens to end in "wrote:" from cutting the reply.
	if n := attribution(lines, i); n > 0 {
		j := nextNonBlank(lines, i+n)
		return j < len(lines) && !quoted(lines[j]) && digit.MatchString(strings.Join(lines[i:i+n], " "))
	}
	return false
}

// outlookHeader reports whether line i starts an Outlook header block: a
// From line with a Sent or Date line among the next three.
func outlookHeader(lines []string, i int) bool {
	if !outlookFrom.MatchString(lines[i]) {
		return false
	}
	for j := i + 1; j < len(lines) && j <= i+3; j++ {
		if outlookSent.MatchString(lines[j]) {
			return true
		}
	}
	return false
}

// attribution returns how many lines (one, or two when a client wrapped
// it) starting at i form an attribution line such as "On ... wrote:", or
// zero. An attribution must be followed by a quoted line or by nothing
// but blank lines, unless it carries a date (then cutsHere treats it as
// the start of an unmarked original).
func attribution(lines []string, i int) int {
	if quoted(lines[i]) || strings.TrimSpace(lines[i]) == "" {
		return 0
	}
	for n := 1; n <= 2 && i+n <= len(lines); n++ {
		if quoted(lines[i+n-1]) {
			break
		}
		if n == 2 && startsAttribution(lines[i+1]) {
			// The next line is an attribution of its own; this one is
			// the person's.
			break
		}
		joined := strings.TrimSpace(strings.Join(lines[i:i+n], " "))
		if len(joined) > 300 || !isAttribution(joined) {
			continue
		}
		j := nextNonBlank(lines, i+n)
		if j == len(lines) || quoted(lines[j]) || digit.MatchString(joined) {
			return n
		}
	}
	return 0
}

func isAttribution(s string) bool {
	return attributionEnd.MatchString(s) && attributionStart(s)
}

// startsAttribution reports whether line l is a whole attribution that
// begins the way only attributions do ("On ..." or a date).
func startsAttribution(l string) bool {
	l = strings.TrimSpace(l)
	return isAttribution(l) && (strings.HasPrefix(l, "On ") || datePrefix.MatchString(l))
}

// datePrefix matches the date Korean clients start an attribution with:
// "2026년 11월 24일", "2026. 11. 24.", "2026-11-24" or "2026/11/24".
var datePrefix = regexp.MustCompile(`^(\d{4}\s*년|\d{4}\.\s*\d{1,2}\.|\d{4}-\d{1,2}-\d{1,2}|\d{4}/\d{1,2}/\d{1,2})`)

// attributionStart reports whether s, a whole candidate attribution, begins
// as one does: "On ... wrote:" in English clients, a date in Korean ones,
// or the sender's name before "님이 작성:".
func attributionStart(s string) bool {
	switch {
	case strings.HasPrefix(s, "On "):
		return strings.HasSuffix(s, "wrote:")
	case datePrefix.MatchString(s):
		return true
	}
	return strings.Contains(s, "님이 작성") || strings.Contains(s, "님이 씀")
}

func quoted(l string) bool {
	return strings.HasPrefix(strings.TrimLeft(l, " \t"), ">")
}

func nextNonBlank(lines []string, i int) int {
	for i < len(lines) && strings.TrimSpace(lines[i]) == "" {
		i++
	}
	return i
}

// squeezeBlank joins lines, dropping blank lines at either end and
// keeping at most one blank line in a row.
func squeezeBlank(lines []string) string {
	var b strings.Builder
	blank := false
	for _, l := range lines {
		if l == "" {
			blank = b.Len() > 0
			continue
		}
		if blank {
			b.WriteByte('\n')
		}
		if b.Len() > 0 {
			b.WriteByte('\n')
		}
		b.WriteString(l)
		blank = false
	}
	return b.String()
}
