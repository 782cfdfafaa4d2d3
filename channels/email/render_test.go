package email

import (
	"bytes"
	"errors"
	"flag"
	"io"
	"net/mail"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	gomail "github.com/emersion/go-message/mail"

	"github.com/oob-relay/relay/relay"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

func TestRenderGolden(t *testing.T) {
	for _, lang := range []string{"ko", "en"} {
		t.Run(lang, func(t *testing.T) {
			got, err := Render(fixture(lang), RenderParams{From: mustFrom(t)})
			if err != nil {
				t.Fatal(err)
			}
			path := filepath.Join("testdata", lang+".eml")
			if *update {
				writeFile(t, path, got)
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run go test -run TestRenderGolden -update to create it)", err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("Render(%s) differs from %s (run with -update after checking the change):\n%s", lang, path, got)
			}
		})
	}
}

// parsed is a rendered message read back with go-message.
type parsed struct {
	h          gomail.Header
	text, html string
}

func readBack(t testing.TB, raw []byte) parsed {
	t.Helper()
	r, err := gomail.CreateReader(bytes.NewReader(raw))
	if err != nil {
		t.Fatalf("go-message cannot read the message: %v", err)
	}
	p := parsed{h: r.Header}
	for {
		part, err := r.NextPart()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		body, err := io.ReadAll(part.Body)
		if err != nil {
			t.Fatal(err)
		}
		typ, params, _ := part.Header.(*gomail.InlineHeader).ContentType()
		if params["charset"] != "utf-8" {
			t.Errorf("%s part has charset %q, want utf-8", typ, params["charset"])
		}
		text := strings.ReplaceAll(string(body), "\r\n", "\n")
		switch typ {
		case "text/plain":
			p.text = text
		case "text/html":
			p.html = text
		default:
			t.Errorf("unexpected part %s", typ)
		}
	}
	return p
}

func TestRenderReadsBack(t *testing.T) {
	cases := []struct {
		lang, subject, name, footer string
		critical                    bool
	}{
		{"ko", koSubject, "김민준", "인시던트: db-outage\n심각도: 긴급\n작성자: oncall-bot\n접수 시각: 2026-11-02 23:03:05 KST\n메시지 ID: 01JC3Z5Q8X4M2N7P6R9T0VWXYZ\n", true},
		{"en", enSubject, "Lee Seo-yeon", "Incident: db-outage\nSeverity: WARNING\nPosted by: oncall-bot\nAccepted: 2026-11-02 14:03:05 UTC\nMessage ID: 01JC3Z5Q8X4M2N7P6R9T0VWXYZ\n", false},
	}
	for _, c := range cases {
		t.Run(c.lang, func(t *testing.T) {
			out := fixture(c.lang)
			raw, err := Render(out, RenderParams{From: mustFrom(t)})
			if err != nil {
				t.Fatal(err)
			}
			checkWire(t, raw)
			p := readBack(t, raw)
			if got, _ := p.h.Subject(); got != c.subject {
				t.Errorf("Subject = %q, want %q", got, c.subject)
			}
			to, err := p.h.AddressList("To")
			if err != nil || len(to) != 1 || to[0].Name != c.name || to[0].Address != out.Person.Email {
				t.Errorf("To = %v (%v), want %s <%s>", to, err, c.name, out.Person.Email)
			}
			from, err := p.h.AddressList("From")
			if err != nil || len(from) != 1 || from[0].Name != "relay 알림" || from[0].Address != "relay@example.com" {
				t.Errorf("From = %v (%v)", from, err)
			}
			if id, _ := p.h.MessageID(); id != out.DeliveryID+"@example.com" {
				t.Errorf("Message-ID = %q", id)
			}
			for _, k := range []string{"In-Reply-To", "References"} {
				if ids, _ := p.h.MsgIDList(k); len(ids) != 1 || ids[0] != "incident.db-outage@example.com" {
					t.Errorf("%s = %q, want the incident thread", k, ids)
				}
			}
			if d, _ := p.h.Date(); !d.Equal(acceptedAt) {
				t.Errorf("Date = %v, want %v", d, acceptedAt)
			}
			for k, want := range map[string]string{
				"Auto-Submitted": "auto-generated", "X-Relay-Incident": "db-outage",
				"X-Relay-Message": out.Message.ID, "X-Relay-Delivery": out.DeliveryID, "Content-Language": c.lang,
			} {
				if got := p.h.Get(k); got != want {
					t.Errorf("%s = %q, want %q", k, got, want)
				}
			}
			if got := p.h.Get("Importance") == "high" && p.h.Get("X-Priority") != ""; got != c.critical {
				t.Errorf("priority headers present = %v, want %v", got, c.critical)
			}
			if p.h.Has("Reply-To") {
				t.Error("Reply-To set without RenderParams.ReplyTo")
			}
			text := strings.ReplaceAll(out.Message.Text, "\r\n", "\n")
			if !strings.HasPrefix(p.text, text+"\n\n-- \n"+c.footer) {
				t.Errorf("text/plain part =\n%s\nwant the text, then the footer\n%s", p.text, c.footer)
			}
			if p.text != plainBody(out.Message, wordsFor(c.lang), "") {
				t.Errorf("text/plain part does not round-trip:\n%q", p.text)
			}
			if !strings.Contains(p.html, "<html lang=\""+c.lang+"\">") || strings.Contains(p.html, "<b>") ||
				strings.Contains(p.html, "<db-main-2>") || strings.Contains(p.html, "src=") || strings.Contains(p.html, "http") {
				t.Errorf("text/html part is not escaped or self-contained:\n%s", p.html)
			}
		})
	}
	if p := readBack(t, must(Render(fixture("ko"), RenderParams{From: mustFrom(t)}))); !strings.Contains(p.html, "&lt;b&gt;확인&lt;/b&gt; &amp; 복구") {
		t.Errorf("Korean HTML text not escaped intact:\n%s", p.html)
	}
}

func must(b []byte, err error) []byte {
	if err != nil {
		panic(err)
	}
	return b
}

// checkWire asserts the message is 7-bit clean with CRLF line endings and
// lines no longer than RFC 5322 allows.
func checkWire(t testing.TB, raw []byte) {
	t.Helper()
	for i, b := range raw {
		if b >= 0x80 {
			t.Fatalf("byte %d is 0x%x: the message is not 7-bit", i, b)
		}
		if b == '\n' && (i == 0 || raw[i-1] != '\r') {
			t.Fatalf("bare LF at byte %d", i)
		}
	}
	for i, l := range strings.Split(string(raw), "\r\n") {
		if len(l) > 998 {
			t.Fatalf("line %d has %d characters", i+1, len(l))
		}
	}
}

func TestRenderIsDeterministic(t *testing.T) {
	a := must(Render(fixture("ko"), RenderParams{From: mustFrom(t)}))
	b := must(Render(fixture("ko"), RenderParams{From: mustFrom(t)}))
	if !bytes.Equal(a, b) {
		t.Fatal("two renders of the same delivery differ")
	}
	other := fixture("ko")
	other.Message.Text += "!"
	c := must(Render(other, RenderParams{From: mustFrom(t)}))
	if boundary(a) == boundary(c) {
		t.Error("the MIME boundary does not depend on the content")
	}
}

func boundary(raw []byte) string {
	_, rest, _ := strings.Cut(string(raw), "boundary=")
	b, _, _ := strings.Cut(rest, "\r\n")
	return b
}

func TestRenderReplyTo(t *testing.T) {
	raw := must(Render(fixture("ko"), RenderParams{From: mustFrom(t), ReplyTo: &mail.Address{Name: "db-outage 회신", Address: "reply+db-outage@example.com"}}))
	p := readBack(t, raw)
	rt, err := p.h.AddressList("Reply-To")
	if err != nil || len(rt) != 1 || rt[0].Name != "db-outage 회신" || rt[0].Address != "reply+db-outage@example.com" {
		t.Errorf("Reply-To = %v (%v)", rt, err)
	}
}

func TestSubject(t *testing.T) {
	long := strings.Repeat("가", 100)
	cases := []struct{ text, want string }{
		{"\n\n  첫 줄\t입니다  \n둘째 줄", "[긴급] inc: 첫 줄 입니다"},
		{"", "[긴급] inc"},
		{"line\x00with\x1bcontrols\u2028", "[긴급] inc: line with controls"},
		{long, "[긴급] inc: " + strings.Repeat("가", maxSummaryRunes-1) + "…"},
		{"a\r\nb", "[긴급] inc: a"},
	}
	for _, c := range cases {
		m := &relay.Message{Incident: "inc", Severity: relay.SeverityCritical, Text: c.text}
		if got := subject(m, wordsFor("ko")); got != c.want {
			t.Errorf("subject(%q) = %q, want %q", c.text, got, c.want)
		}
	}
	if n := utf8.RuneCountInString(summary(long)); n != maxSummaryRunes {
		t.Errorf("summary of a long line has %d runes, want %d", n, maxSummaryRunes)
	}
}

func TestWordsFor(t *testing.T) {
	for lang, want := range map[string]string{"": "ko", "ko": "ko", "ko-KR": "ko", "KO": "ko", "en": "en", "en-US": "en", "EN-gb": "en", "ja": "ko"} {
		if got := wordsFor(lang).tag; got != want {
			t.Errorf("wordsFor(%q) = %s, want %s", lang, got, want)
		}
	}
	m := &relay.Message{Incident: "inc", Severity: relay.SeverityInfo}
	if got := subject(m, wordsFor("en")); got != "[INFO] inc" {
		t.Errorf("English info subject = %q", got)
	}
}

func TestRenderRefuses(t *testing.T) {
	cases := map[string]func(o *relay.Outgoing, p *RenderParams){
		"no message":         func(o *relay.Outgoing, _ *RenderParams) { o.Message = nil },
		"no person":          func(o *relay.Outgoing, _ *RenderParams) { o.Person = nil },
		"no email":           func(o *relay.Outgoing, _ *RenderParams) { o.Person.Email = "" },
		"IDN recipient":      func(o *relay.Outgoing, _ *RenderParams) { o.Person.Email = "kim@예시.kr" },
		"no sender":          func(_ *relay.Outgoing, p *RenderParams) { p.From = nil },
		"header injection":   func(o *relay.Outgoing, _ *RenderParams) { o.DeliveryID = "x\r\nBcc: evil@example.net" },
		"bad incident":       func(o *relay.Outgoing, _ *RenderParams) { o.Message.Incident = "a b" },
		"no acceptance time": func(o *relay.Outgoing, _ *RenderParams) { o.Message.AcceptedAt = time.Time{} },
		"reply-to non-ASCII": func(_ *relay.Outgoing, p *RenderParams) { p.ReplyTo = &mail.Address{Address: "회신@example.com"} },
	}
	for name, mutate := range cases {
		t.Run(name, func(t *testing.T) {
			o, p := fixture("ko"), RenderParams{From: mustFrom(t)}
			mutate(o, &p)
			if raw, err := Render(o, p); err == nil {
				t.Fatalf("Render succeeded:\n%s", raw)
			}
		})
	}
}

func FuzzRender(f *testing.F) {
	f.Add(koText, "김민준", "oncall-bot")
	f.Add(enText, "Lee \"Seo-yeon\"", "a\r\nBcc: x@example.net")
	f.Add("=?utf-8?q?evil?=\r\n.\r\n", "", "")
	f.Fuzz(func(t *testing.T, text, name, author string) {
		out := fixture("ko")
		out.Message.Text, out.Message.Author, out.Person.Name = text, author, name
		raw, err := Render(out, RenderParams{From: mustFrom(t)})
		if err != nil {
			t.Fatal(err)
		}
		checkWire(t, raw)
		p := readBack(t, raw)
		if p.text != plainBody(out.Message, wordsFor("ko"), "") {
			t.Fatalf("text/plain does not round-trip: %q", p.text)
		}
		if p.h.Get("Bcc") != "" || p.h.Get("X-Relay-Delivery") != out.DeliveryID {
			t.Fatal("headers were injected")
		}
	})
}

// A drill's mail is marked as one where the severity goes, in the
// reader's language, and never asks for urgent handling.
func TestRenderMarksADrill(t *testing.T) {
	for lang, mark := range map[string]string{"ko": "[훈련]", "en": "[DRILL]"} {
		t.Run(lang, func(t *testing.T) {
			out := fixture(lang)
			m := *out.Message
			m.Incident, m.Drill, m.Severity = "drill-20261202-1400", "01JDRILL", relay.SeverityCritical
			out.Message = &m
			raw, err := Render(out, RenderParams{From: mustFrom(t)})
			if err != nil {
				t.Fatal(err)
			}
			p := readBack(t, raw)
			subj, err := p.h.Subject()
			if err != nil {
				t.Fatal(err)
			}
			if !strings.HasPrefix(subj, mark+" drill-20261202-1400") {
				t.Errorf("subject %q does not start with %s and the drill's incident", subj, mark)
			}
			if p.h.Get("Importance") != "" || p.h.Get("X-Priority") != "" {
				t.Errorf("a drill's mail asks for urgent handling: Importance %q, X-Priority %q", p.h.Get("Importance"), p.h.Get("X-Priority"))
			}
			if !strings.Contains(p.html, mark) || strings.Contains(p.text, "긴급") || strings.Contains(p.text, "CRITICAL") {
				t.Errorf("the body names a severity or lacks the mark:\n%s\n%s", p.text, p.html)
			}
		})
	}
}
