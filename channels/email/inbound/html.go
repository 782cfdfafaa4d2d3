package inbound

import (
	"strings"
	"unicode/utf8"

	"golang.org/x/net/html"
	"golang.org/x/net/html/atom"
)

// htmlText renders an HTML body as plain text a person can read: block
// elements start new lines, paragraphs are separated by a blank line, list
// items start with "- ", white space collapses as a browser would (except
// in <pre>), entities are decoded, and scripts, styles and the title are
// left out. Blockquotes become "> " quoted lines, so that StripQuoted
// removes the quoted original of an HTML reply as it does of a plain one.
func htmlText(src string) string {
	z := html.NewTokenizer(strings.NewReader(src))
	var w textWriter
	skip := 0 // inside script, style, title and the like
	for {
		tt := z.Next()
		switch tt {
		case html.ErrorToken:
			// io.EOF or a tokenizer error: both end the text.
			return w.String()
		case html.TextToken:
			if skip == 0 {
				w.text(string(z.Text()))
			}
		case html.StartTagToken, html.SelfClosingTagToken, html.EndTagToken:
			name, _ := z.TagName()
			a := atom.Lookup(name)
			start := tt != html.EndTagToken
			switch a {
			case atom.Script, atom.Style, atom.Title, atom.Template, atom.Noscript, atom.Svg, atom.Math:
				if tt == html.StartTagToken {
					skip++
				} else if tt == html.EndTagToken && skip > 0 {
					skip--
				}
			case atom.Br:
				if start {
					w.newline()
				}
			case atom.P, atom.H1, atom.H2, atom.H3, atom.H4, atom.H5, atom.H6,
				atom.Table, atom.Ul, atom.Ol, atom.Dl, atom.Hr:
				w.paragraph()
			case atom.Div, atom.Tr, atom.Section, atom.Article, atom.Header, atom.Footer,
				atom.Dt, atom.Dd, atom.Center, atom.Address, atom.Caption:
				w.lineBreak()
			case atom.Li:
				w.lineBreak()
				if start {
					w.text("- ")
				}
			case atom.Td, atom.Th:
				if start {
					w.text(" ")
				}
			case atom.Blockquote:
				w.lineBreak()
				if start {
					w.depth++
				} else if w.depth > 0 {
					w.depth--
				}
			case atom.Pre:
				w.paragraph()
				if start {
					w.pre++
				} else if w.pre > 0 {
					w.pre--
				}
			}
		}
	}
}

// textWriter accumulates rendered text line by line, prefixing each line
// with "> " for every blockquote it is in.
type textWriter struct {
	b        strings.Builder
	depth    int  // blockquote depth
	pre      int  // <pre> depth
	lineOpen bool // the current line has text
	space    bool // a collapsed space is pending
	newlines int  // line ends written since the last text
	started  bool // any text was written
}

func (w *textWriter) text(s string) {
	if w.pre > 0 {
		for i, line := range strings.Split(s, "\n") {
			if i > 0 {
				w.newline()
			}
			if line != "" {
				w.put(line)
			}
		}
		return
	}
	isSpace := func(r rune) bool {
		return r == ' ' || r == '\t' || r == '\n' || r == '\r' || r == '\f' || r == '\u00a0'
	}
	if s == "" {
		return
	}
	if r, _ := utf8.DecodeRuneInString(s); isSpace(r) {
		w.space = true
	}
	for i, f := range strings.FieldsFunc(s, isSpace) {
		if (i > 0 || w.space) && w.lineOpen {
			w.b.WriteByte(' ')
		}
		w.put(f)
		w.space = false
	}
	if r, _ := utf8.DecodeLastRuneInString(s); isSpace(r) {
		w.space = true
	}
}

// put writes s on the current line, starting the line with its quote
// prefix when it is new.
func (w *textWriter) put(s string) {
	if !w.lineOpen {
		if w.depth > 0 {
			w.b.WriteString(strings.Repeat(">", w.depth) + " ")
		}
		w.lineOpen = true
	}
	w.b.WriteString(s)
	w.newlines = 0
	w.started = true
}

// newline ends the current line, even an empty one (a <br>).
func (w *textWriter) newline() {
	if !w.started {
		return
	}
	w.b.WriteByte('\n')
	w.lineOpen, w.space = false, false
	w.newlines++
}

// lineBreak ends the current line if it has text.
func (w *textWriter) lineBreak() {
	if w.lineOpen {
		w.newline()
	}
	w.space = false
}

// paragraph leaves one blank line after the text so far.
func (w *textWriter) paragraph() {
	w.lineBreak()
	if w.started && w.newlines < 2 {
		w.newline()
	}
}

func (w *textWriter) String() string {
	lines := strings.Split(w.b.String(), "\n")
	for i, l := range lines {
		lines[i] = strings.TrimRight(l, " ")
	}
	return strings.Trim(strings.Join(lines, "\n"), "\n")
}
