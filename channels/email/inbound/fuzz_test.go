package inbound

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"
)

// FuzzParse feeds Parse arbitrary bytes, starting from every fixture. It
// must never panic, every error must wrap one of Parse's sentinels, and
// every string of a parsed Mail must be valid UTF-8 without control
// characters other than newline and tab.
func FuzzParse(f *testing.F) {
	files, err := filepath.Glob(filepath.Join("testdata", "*.eml"))
	if err != nil || len(files) == 0 {
		f.Fatalf("no fixtures: %v", err)
	}
	for _, file := range files {
		raw, err := os.ReadFile(file)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(raw)
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		m, err := Parse(bytes.NewReader(raw), 1<<20)
		if err != nil {
			n := 0
			for _, s := range []error{ErrTooLarge, ErrNoFrom, ErrNoText, ErrMalformed} {
				if errors.Is(err, s) {
					n++
				}
			}
			if n != 1 {
				t.Fatalf("error %q wraps %d sentinels, want 1", err, n)
			}
			return
		}
		fields := append([]string{m.From, m.FromName, m.MessageID, m.Subject, m.Text, m.FullText}, m.To...)
		for _, s := range append(fields, m.Cc...) {
			if !utf8.ValidString(s) {
				t.Fatalf("invalid UTF-8 in %q", s)
			}
			if i := strings.IndexFunc(s, func(r rune) bool { return unicode.IsControl(r) && r != '\n' && r != '\t' }); i >= 0 {
				t.Fatalf("control character in %q", s)
			}
		}
		if strings.TrimSpace(m.Text) == "" || m.From == "" {
			t.Fatalf("parsed without text or sender: %+v", m)
		}
		if m.Text != StripQuoted(m.FullText) {
			t.Fatalf("Text is not StripQuoted(FullText)")
		}
	})
}

// FuzzStripQuoted checks that StripQuoted never panics, keeps valid UTF-8
// valid, and only removes lines: every line it returns is a line of its
// input, without trailing space.
func FuzzStripQuoted(f *testing.F) {
	f.Add("reply\n\nOn Tue, Nov 24, 2026 at 3:00 PM a <a@b> wrote:\n> quoted\n")
	f.Add("네.\n\n2026년 11월 24일 (화) 오후 3:00, 홍길동 <\na@b>님이 작성:\n> 원문\n")
	f.Add("ok\n-----Original Message-----\nFrom: x\nSent: y\n")
	f.Add("On x\nOn y wrote:\n")
	f.Fuzz(func(t *testing.T, in string) {
		out := StripQuoted(in)
		if utf8.ValidString(in) && !utf8.ValidString(out) {
			t.Fatalf("StripQuoted(%q) = %q, not valid UTF-8", in, out)
		}
		have := map[string]bool{}
		for _, l := range strings.Split(strings.NewReplacer("\r\n", "\n", "\r", "\n").Replace(in), "\n") {
			have[strings.TrimRightFunc(l, unicode.IsSpace)] = true
		}
		for _, l := range strings.Split(out, "\n") {
			if l != "" && !have[l] {
				t.Fatalf("StripQuoted(%q) = %q, which has a line not in its input: %q", in, out, l)
			}
		}
	})
}

// FuzzUpstreamVerdict feeds the reading of a trusted upstream's
// Authentication-Results arbitrary fields. It must never panic, and must
// pass a mail only on a field that begins with the upstream's name and
// says "pass" outside its comments.
func FuzzUpstreamVerdict(f *testing.F) {
	f.Add("gw.example.net; dmarc=pass (p=reject) header.from=example.com")
	f.Add("gw.example.net 1; spf=pass smtp.mailfrom=kim@example.com; dkim=pass header.d=mail.example.com")
	f.Add(`gw.example.net; dmarc=fail (nested (dmarc=pass) \) "q(") header.from="example.com"`)
	f.Add("gw.example.net; dkim=pass header.i=@example.com")
	f.Fuzz(func(t *testing.T, field string) {
		how, ok := upstreamVerdict([]string{field}, "gw.example.net", "example.com", alignment{})
		if !ok {
			return
		}
		if !strings.HasPrefix(strings.ToLower(strings.TrimSpace(field)), "gw.example.net") {
			t.Fatalf("%q passed (%s) without being the upstream's", field, how)
		}
		if !strings.Contains(strings.ToLower(stripComments(field)), "=pass") {
			t.Fatalf("%q passed (%s) without a pass outside comments", field, how)
		}
		raw := []byte("Authentication-Results: " + field + "\r\nFrom: kim@example.com\r\n\r\nx\r\n")
		if vs := headerValues(raw, "Authentication-Results"); len(vs) > maxResultFields {
			t.Fatalf("%d fields read", len(vs))
		}
	})
}
