package console

import (
	"strings"
	"testing"
)

// FuzzParseOptions: the roll-call form's options either parse into
// options whose labels hold no line break, or are refused; never a
// panic.
func FuzzParseOptions(f *testing.F) {
	f.Add("1 안전 / Safe\n2 도움 필요 / Need help!")
	f.Add("x")
	f.Add("\n\n9 \r\n")
	f.Fuzz(func(t *testing.T, s string) {
		opts, err := parseOptions(s)
		if err != nil {
			return
		}
		for _, o := range opts {
			if strings.ContainsAny(o.Label, "\n") {
				t.Fatalf("label %q holds a line break", o.Label)
			}
		}
	})
}

// FuzzLocalPath: a redirect target from a form or a query never leaves
// the console: it is a path on this site, or the fallback.
func FuzzLocalPath(f *testing.F) {
	for _, s := range []string{"/incidents/a", "//evil.example", "/\\evil.example", "https://evil.example", "/a\r\nSet-Cookie: x", "/\t/evil.example", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, p string) {
		got := localPath(p, "/")
		if !strings.HasPrefix(got, "/") || strings.HasPrefix(got, "//") || strings.HasPrefix(got, "/\\") || strings.IndexFunc(got, func(r rune) bool { return r < 0x20 || r == 0x7f }) >= 0 {
			t.Fatalf("localPath(%q) = %q", p, got)
		}
	})
}
