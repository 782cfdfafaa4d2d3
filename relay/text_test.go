package relay

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"unicode/utf8"
)

// intact is text every path must keep byte for byte: Hangul (composed
// and as jamo), emoji with skin tones, joiners, variation selectors and
// tag sequences, CJK, accents, newlines and tabs.
var intact = []string{
	"DB 장애: 결제 지연, 확인 중",
	"한글 자모",
	"👍🏽 확인했습니다 👨‍👩‍👧‍👦 ❤️ 🏴󠁧󠁢󠁳󠁣󠁴󠁿 🇰🇷",
	"第1行\n\t第2行 — café",
	"zero\u200dwidth joiner and\ufeffBOM and soft\u00adhyphen",
	"",
}

func TestUnsafeRune(t *testing.T) {
	for _, r := range []rune{0, 7, 8, 0x0b, 0x0c, '\r', 0x1b, 0x1f, 0x7f, 0x80, 0x85, 0x9b, 0x9f,
		0x061c, 0x200e, 0x200f, 0x202a, 0x202b, 0x202c, 0x202d, 0x202e, 0x2066, 0x2067, 0x2068, 0x2069, 0x2028, 0x2029} {
		if !UnsafeRune(r) {
			t.Errorf("%U is taken as safe", r)
		}
	}
	for _, r := range []rune{'\n', '\t', ' ', 'a', '~', 0xa0, 0xad, '가', 0x200b, 0x200c, 0x200d, 0x2060, 0xfe0f, 0xfeff, 0x1f44d, 0xe0067, 0x202f, 0x206a} {
		if UnsafeRune(r) {
			t.Errorf("%U is taken as unsafe", r)
		}
	}
}

func TestCheckText(t *testing.T) {
	for _, s := range intact {
		if err := CheckText("text", s); err != nil {
			t.Errorf("CheckText(%q) = %v", s, err)
		}
	}
	for _, c := range []struct{ in, want string }{
		{"ok\x1b[2J", "text: contains U+001B (a control character) at byte 2; control characters other than newline and tab, and bidirectional formatting characters, are not allowed"},
		{"a\x00", "text: contains U+0000 (a control character) at byte 1"},
		{"line\r\nend", "contains U+000D (a control character) at byte 4"},
		{"결제 \u202egnp.exe", "text: contains U+202E (a bidirectional formatting character) at byte 7"},
		{"\u2066x\u2069", "contains U+2066 (a bidirectional formatting character) at byte 0"},
		{"a\u2028b", "contains U+2028 (a line or paragraph separator) at byte 1"},
		{"\u0085", "contains U+0085 (a control character) at byte 0"},
		{"장애\xff", "text: is not valid UTF-8: byte 6 is 0xff"},
		{"\xed\xa0\x80", "is not valid UTF-8: byte 0 is 0xed"},
	} {
		err := CheckText("text", c.in)
		var fe *FieldError
		if !errors.As(err, &fe) || fe.Field != "text" || !strings.Contains(err.Error(), c.want) {
			t.Errorf("CheckText(%q) = %v, want %q", c.in, err, c.want)
		}
	}
	if err := CheckText("text", "U+FFFD itself is text: \ufffd"); err != nil {
		t.Errorf("a real U+FFFD refused: %v", err)
	}
	if err := CheckLine("people[0] (kim).name", "김\n민준"); err == nil || !strings.Contains(err.Error(), "people[0] (kim).name: contains U+000A (a line break or tab) at byte 3; it must be one line") {
		t.Errorf("CheckLine with a newline: %v", err)
	}
	if err := CheckLine("name", "김민준 👍🏽"); err != nil {
		t.Errorf("CheckLine: %v", err)
	}
}

func TestCleanText(t *testing.T) {
	for _, s := range intact {
		if got := CleanText(s); got != s {
			t.Errorf("CleanText(%q) = %q", s, got)
		}
	}
	for _, c := range []struct{ in, want string }{
		{"ok\x1b[2J\x1b]0;pwned\x07", "ok[2J]0;pwned"},
		{"네\r\n알겠습니다\r끝", "네\n알겠습니다\n끝"},
		{"\r\n\r\n", "\n\n"},
		{"결제 \u202egnp.exe\u202c", "결제 gnp.exe"},
		{"a\u2028b\u2029c\u0085d", "a\nb\nc\nd"},
		{"nul\x00 del\x7f csi\u009b", "nul del csi"},
		{"깨진\xff\xfe글자", "깨진\ufffd\ufffd글자"},
		{"tab\tok\n", "tab\tok\n"},
	} {
		if got := CleanText(c.in); got != c.want {
			t.Errorf("CleanText(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}

func TestPrintable(t *testing.T) {
	for _, s := range intact {
		if got := PrintableText(s); got != s {
			t.Errorf("PrintableText(%q) = %q", s, got)
		}
	}
	for _, c := range []struct{ in, line, text string }{
		{"\x1b[2J\x1b[Hfake", `\x1b[2J\x1b[Hfake`, `\x1b[2J\x1b[Hfake`},
		{"a\nb\tc", `a\nb\tc`, "a\nb\tc"},
		{"\r", `\r`, `\r`},
		{"\u202eexe", `\u202eexe`, `\u202eexe`},
		{"bad\xff", `bad\xff`, `bad\xff`},
		{`C:\x1b and \d`, `C:\x1b and \d`, `C:\x1b and \d`},
		{`{"a":"\n\u001b"}` + "\u0085\u2028", `{"a":"\n\u001b"}\u0085\u2028`, `{"a":"\n\u001b"}\u0085\u2028`},
		{"장애 👍🏽", "장애 👍🏽", "장애 👍🏽"},
	} {
		if got := Printable(c.in); got != c.line {
			t.Errorf("Printable(%q) = %q, want %q", c.in, got, c.line)
		}
		if got := PrintableText(c.in); got != c.text {
			t.Errorf("PrintableText(%q) = %q, want %q", c.in, got, c.text)
		}
	}
}

func TestCheckJSONText(t *testing.T) {
	for _, c := range []struct {
		doc  string
		want []string // "field: message start"
	}{
		{`{"incident":"x","text":"DB 장애 \ud83d\udc4d","to":["everyone"]}`, nil},
		{`{"text":"\u001b is JSON, and refused later"}`, nil},
		{"{\"text\":\"a\xffb\"}", []string{"text: is not valid UTF-8"}},
		{"{\"to\":[\"everyone\",\"person:\xc3\"]}", []string{"to[1]: is not valid UTF-8"}},
		{`{"text":"\ud800 alone"}`, []string{"text: is not valid UTF-8 (or has a \\u escape of half a surrogate pair)"}},
		{`{"text":"\udc00"}`, []string{"text: is not valid"}},
		{`{"text":"\ud800\u0041"}`, []string{"text: is not valid"}},
		{"{\"alerts\":[{\"labels\":{\"team\":\"db\"}},{\"labels\":{\"team\":\"\xfe\"}}]}", []string{"alerts[1].labels.team: is not valid"}},
		{"{\"a\":{\"k\xff\":1}}", []string{"a: has a key \"k\ufffd\" that is not valid UTF-8"}},
		{"\"\xff\"", []string{"(the request): is not valid"}},
		{"{\"a\":\"\xff\",\"b\":[1,{\"c\":\"\xff\"}],\"d\":\"ok\"}", []string{"a: is not valid", "b[1].c: is not valid"}},
		{"{\"text\":\"\xff\" trailing garbage", []string{"text: is not valid"}},
		{"{\"text\": [\"\xff\"", []string{"text[0]: is not valid"}},
		{"{\"text\" 1 \"\xff\"}", nil},
	} {
		err := CheckJSONText([]byte(c.doc))
		var got []string
		for _, e := range flatten(err) {
			got = append(got, e.Error())
		}
		if len(got) != len(c.want) {
			t.Errorf("CheckJSONText(%q) = %q, want %q", c.doc, got, c.want)
			continue
		}
		for i := range got {
			if !strings.HasPrefix(got[i], c.want[i]) {
				t.Errorf("CheckJSONText(%q)[%d] = %q, want %q…", c.doc, i, got[i], c.want[i])
			}
		}
	}
	many := `{"to":[` + strings.Repeat("\"\xff\",", 50) + `"x"]}`
	if n := len(flatten(CheckJSONText([]byte(many)))); n != maxTextProblems {
		t.Errorf("50 bad strings gave %d problems, want %d", n, maxTextProblems)
	}
}

func flatten(err error) []error {
	if err == nil {
		return nil
	}
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		var out []error
		for _, e := range j.Unwrap() {
			out = append(out, flatten(e)...)
		}
		return out
	}
	return []error{err}
}

// FuzzCleanText checks the removing side of the text policy: what
// CleanText returns is valid UTF-8 that CheckText accepts, cleaning it
// again changes nothing, and text CheckText accepts comes back as it is.
func FuzzCleanText(f *testing.F) {
	for _, s := range intact {
		f.Add(s)
	}
	for _, s := range []string{"ok\x1b[2J", "a\r\n\rb", "\u202e\u2066x", "\xff\xfe", "\xed\xa0\x80", "\u0085\u2028", "\r"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		out := CleanText(s)
		if !utf8.ValidString(out) {
			t.Fatalf("CleanText(%q) = %q, not valid UTF-8", s, out)
		}
		if err := CheckText("text", out); err != nil {
			t.Fatalf("CleanText(%q) = %q, which CheckText refuses: %v", s, out, err)
		}
		if again := CleanText(out); again != out {
			t.Fatalf("CleanText is not idempotent: %q, then %q", out, again)
		}
		if CheckText("text", s) == nil && out != s {
			t.Fatalf("CleanText changed accepted text %q into %q", s, out)
		}
	})
}

// FuzzPrintable checks the printing side: Printable's output holds no
// character that moves a cursor or reorders a line, not even a newline,
// and is valid UTF-8; PrintableText keeps newlines and tabs only.
func FuzzPrintable(f *testing.F) {
	for _, s := range intact {
		f.Add(s)
	}
	for _, s := range []string{"\x1b[2J", "a\\x1b", "\\", "\u202e", "\xff", "\r\n"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		for _, out := range []string{Printable(s), PrintableText(s)} {
			if !utf8.ValidString(out) {
				t.Fatalf("escaped %q to %q, not valid UTF-8", s, out)
			}
			if strings.ContainsFunc(out, UnsafeRune) {
				t.Fatalf("escaped %q to %q, which keeps an unsafe character", s, out)
			}
		}
		if strings.ContainsAny(Printable(s), "\n\t") {
			t.Fatalf("Printable(%q) = %q keeps a line break or tab", s, Printable(s))
		}
		if CheckText("text", s) == nil && PrintableText(s) != s {
			t.Fatalf("PrintableText changed safe text %q into %q", s, PrintableText(s))
		}
	})
}

// FuzzCheckJSONText checks that CheckJSONText never panics, reports
// every well-formed document with invalid UTF-8, names a field in each
// problem, and passes documents that decode without replacement.
func FuzzCheckJSONText(f *testing.F) {
	f.Add([]byte(`{"incident":"x","text":"DB 장애 \ud83d\udc4d","to":["everyone"]}`))
	f.Add([]byte("{\"text\":\"a\xffb\",\"to\":[\"\xc3\"]}"))
	f.Add([]byte(`{"text":"\ud800","k":{"\udfff":[1,"\ud83d\ude00"]}}`))
	f.Add([]byte(`[{"a":[[]]},"\u00e9"]`))
	f.Fuzz(func(t *testing.T, data []byte) {
		err := CheckJSONText(data)
		for _, e := range flatten(err) {
			var fe *FieldError
			if !errors.As(e, &fe) || fe.Field == "" || fe.Message == "" {
				t.Fatalf("problem %v is not a *FieldError naming a field", e)
			}
		}
		if json.Valid(data) && !utf8.Valid(data) && err == nil {
			t.Fatalf("%q is JSON with invalid UTF-8 and passes", data)
		}
		if err == nil && json.Valid(data) {
			var v any
			if json.Unmarshal(data, &v) != nil {
				return
			}
			if replaced(v) > strings.Count(string(data), "\ufffd")+strings.Count(strings.ToLower(string(data)), `\ufffd`) {
				t.Fatalf("%q passes but decodes with replacement characters", data)
			}
		}
	})
}

// replaced counts the U+FFFD in the strings of a decoded value.
func replaced(v any) int {
	switch v := v.(type) {
	case string:
		return strings.Count(v, "\ufffd")
	case []any:
		n := 0
		for _, e := range v {
			n += replaced(e)
		}
		return n
	case map[string]any:
		n := 0
		for k, e := range v {
			n += strings.Count(k, "\ufffd") + replaced(e)
		}
		return n
	}
	return 0
}
