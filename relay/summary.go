package relay

import (
	"fmt"
	"strings"
	"time"
	"unicode/utf8"
)

// Bounds of a summary's text: it goes out by SMS too, where Twilio takes
// 1,600 characters; the timeline keeps every held reply whole.
const (
	summaryQuoteRunes = 160
	summaryRunes      = 1000
)

// SummaryText is the text of the summary that sends on a person's held
// replies: who sent how many more in the last window, then each reply in
// the order received, cut short when long, in lang (ko or en; any other
// language gets Korean). name is the person's name as the roster gives
// it.
func SummaryText(lang, name string, window time.Duration, texts []string) string {
	var b strings.Builder
	if lang == "en" {
		what := "replies"
		if len(texts) == 1 {
			what = "reply"
		}
		fmt.Fprintf(&b, "%s sent %d more %s in the last %s:", name, len(texts), what, windowEn(window))
	} else {
		fmt.Fprintf(&b, "%s 님이 지난 %s 동안 답장 %d건을 더 보냈습니다:", name, windowKo(window), len(texts))
	}
	for i, t := range texts {
		line := fmt.Sprintf("\n%d) %s", i+1, cut(strings.Join(strings.Fields(t), " "), summaryQuoteRunes))
		if utf8.RuneCountInString(b.String())+utf8.RuneCountInString(line) > summaryRunes {
			if lang == "en" {
				fmt.Fprintf(&b, "\n… and %d more", len(texts)-i)
			} else {
				fmt.Fprintf(&b, "\n… 외 %d건", len(texts)-i)
			}
			break
		}
		b.WriteString(line)
	}
	return b.String()
}

func windowEn(d time.Duration) string {
	switch {
	case d == time.Minute:
		return "minute"
	case d%time.Minute == 0:
		return fmt.Sprintf("%d minutes", d/time.Minute)
	}
	return fmt.Sprintf("%d seconds", d/time.Second)
}

func windowKo(d time.Duration) string {
	if d%time.Minute == 0 {
		return fmt.Sprintf("%d분", d/time.Minute)
	}
	return fmt.Sprintf("%d초", d/time.Second)
}

// cut shortens s to at most n runes, ending it with "…" when cut.
func cut(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	r := []rune(s)
	return string(r[:n-1]) + "…"
}
