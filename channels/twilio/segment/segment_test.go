package segment

import (
	"strings"
	"testing"
	"unicode/utf8"
)

func TestAlphabetSizes(t *testing.T) {
	// GSM 03.38: 128 positions, one of them the escape to the extension table.
	if n := utf8.RuneCountInString(gsm7Basic); n != 127 {
		t.Errorf("basic alphabet has %d characters, want 127", n)
	}
	if n := utf8.RuneCountInString(gsm7Extension); n != 10 {
		t.Errorf("extension table has %d characters, want 10", n)
	}
}

func TestCount(t *testing.T) {
	tests := []struct {
		name     string
		body     string
		encoding Encoding
		units    int
		segments int
	}{
		{"empty", "", GSM7, 0, 1},
		{"ascii", "Server room fire, evacuate.", GSM7, 27, 1},
		{"gsm7 full single", strings.Repeat("a", 160), GSM7, 160, 1},
		{"gsm7 one over", strings.Repeat("a", 161), GSM7, 161, 2},
		{"gsm7 two full parts", strings.Repeat("a", 306), GSM7, 306, 2},
		{"gsm7 three parts", strings.Repeat("a", 307), GSM7, 307, 3},
		{"gsm7 accents", "Ça déjà été à Øster", GSM7, 19, 1},
		{"euro is two septets", "€", GSM7, 2, 1},
		{"brace is two septets", "{x}", GSM7, 5, 1},
		{"extension fills single", strings.Repeat("€", 80), GSM7, 160, 1},
		{"extension one over", strings.Repeat("€", 80) + "a", GSM7, 161, 2},
		// 152 septets then "€": the escape pair does not fit in part one.
		{"extension not split", strings.Repeat("a", 152) + "€" + strings.Repeat("a", 10), GSM7, 164, 2},
		{"extension pushes a part", strings.Repeat("a", 152) + "€" + strings.Repeat("a", 152), GSM7, 306, 3},
		{"backtick is not gsm7", "`", UCS2, 1, 1},
		{"hangul", "서버실 화재", UCS2, 6, 1},
		{"hangul full single", strings.Repeat("가", 70), UCS2, 70, 1},
		{"hangul one over", strings.Repeat("가", 71), UCS2, 71, 2},
		{"hangul two parts", strings.Repeat("가", 134), UCS2, 134, 2},
		{"hangul three parts", strings.Repeat("가", 135), UCS2, 135, 3},
		{"hangul forces ascii into ucs2", "[긴급] db-fire", UCS2, 12, 1},
		{"emoji is a surrogate pair", "🔥", UCS2, 2, 1},
		{"emoji fill single", strings.Repeat("🔥", 35), UCS2, 70, 1},
		{"emoji one over", strings.Repeat("🔥", 35) + "a", UCS2, 71, 2},
		// 66 units then an emoji: the pair does not fit in part one.
		{"surrogate pair not split", strings.Repeat("가", 66) + "🔥" + strings.Repeat("가", 10), UCS2, 78, 2},
		{"surrogate pair pushes a part", strings.Repeat("가", 66) + "🔥" + strings.Repeat("가", 66), UCS2, 134, 3},
		{"invalid utf8 is ucs2", "\xff", UCS2, 1, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Count(tt.body)
			want := Info{Encoding: tt.encoding, Units: tt.units, Segments: tt.segments}
			if got != want {
				t.Errorf("Count(%q) = %+v, want %+v", tt.body, got, want)
			}
		})
	}
}

func TestGSM7Cost(t *testing.T) {
	for r, want := range map[rune]int{'a': 1, '@': 1, '\n': 1, 'ß': 1, '€': 2, '^': 2, '\\': 2, '|': 2, '가': 0, '\x1b': 0, 'é': 1, 'á': 0} {
		if got := GSM7Cost(r); got != want {
			t.Errorf("GSM7Cost(%q) = %d, want %d", r, got, want)
		}
	}
}

func FuzzCount(f *testing.F) {
	for _, s := range []string{"", "hello", "€{}", "서버실", "🔥🔥", "\xff"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, body string) {
		info := Count(body)
		if info.Segments < 1 {
			t.Fatalf("Count(%q) has %d segments", body, info.Segments)
		}
		single, part := GSM7Single, GSM7Part
		if info.Encoding == UCS2 {
			single, part = UCS2Single, UCS2Part
		}
		if info.Units <= single && info.Segments != 1 {
			t.Fatalf("Count(%q) = %+v: fits one message", body, info)
		}
		if info.Units > single && (info.Segments < (info.Units+part-1)/part || info.Segments > info.Units/(part-1)+1) {
			t.Fatalf("Count(%q) = %+v: implausible part count", body, info)
		}
	})
}
