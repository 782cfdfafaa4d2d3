package inbound

import (
	"strings"
	"unicode"
)

// cleanText makes text safe to store and show: valid UTF-8, "\n" line
// endings, and no control characters other than newline and tab (no
// terminal escapes, no NUL).
func cleanText(s string) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	s = strings.NewReplacer("\r\n", "\n", "\r", "\n").Replace(s)
	return strings.Map(func(r rune) rune {
		switch {
		case r == '\n' || r == '\t':
			return r
		case r == '\u00a0':
			return ' '
		case unicode.IsControl(r), r == '\ufeff', unicode.Is(unicode.Bidi_Control, r):
			return -1
		}
		return r
	}, s)
}

// cleanLine is cleanText for one line: line breaks and tabs become spaces.
func cleanLine(s string) string {
	s = cleanText(s)
	s = strings.Map(func(r rune) rune {
		if r == '\n' || r == '\t' {
			return ' '
		}
		return r
	}, s)
	return strings.TrimSpace(s)
}

// unflow joins the soft line breaks of RFC 3676 format=flowed text: a line
// ending in a space continues on the next line of the same quote depth.
func unflow(s string, delsp bool) string {
	var out []string
	var cur strings.Builder
	depth, open := 0, false
	end := func() {
		prefix := ""
		if depth > 0 {
			prefix = strings.Repeat(">", depth) + " "
		}
		out = append(out, prefix+cur.String())
		cur.Reset()
		open = false
	}
	for _, line := range strings.Split(strings.ReplaceAll(s, "\r\n", "\n"), "\n") {
		d := 0
		for d < len(line) && line[d] == '>' {
			d++
		}
		text := strings.TrimPrefix(line[d:], " ") // space stuffing
		if open && d != depth {
			end()
		}
		depth = d
		flowed := strings.HasSuffix(text, " ") && text != "-- "
		if flowed && delsp {
			text = text[:len(text)-1]
		}
		cur.WriteString(text)
		if flowed {
			open = true
			continue
		}
		end()
	}
	if open {
		end()
	}
	return strings.Join(out, "\n")
}
