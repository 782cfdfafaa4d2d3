package twilio

import (
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/oob-relay/relay/relay"
)

var update = flag.Bool("update", false, "rewrite golden files under testdata/")

// golden compares got with testdata/render/name, or rewrites it with
// -update.
func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", "render", name)
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if got != string(want) {
		t.Errorf("%s differs:\n--- got\n%s\n--- want\n%s", path, got, want)
	}
}

func TestRenderBodyGolden(t *testing.T) {
	texts := map[string]string{
		"ko": "서버실 화재. 3층 계단으로 대피하고, 안전하면 1을 답장하세요.",
		"en": "Fire in the server room. Leave by the 3rd floor stairs and reply 1 when safe.",
	}
	for _, lang := range []string{"ko", "en"} {
		for _, sev := range relay.Severities {
			name := lang + "-" + string(sev) + ".txt"
			t.Run(name, func(t *testing.T) {
				m := &relay.Message{Incident: "db-fire", Severity: sev, Text: texts[lang]}
				golden(t, name, RenderBody(m, lang))
			})
		}
	}
}

func TestRenderBodyCases(t *testing.T) {
	long := strings.Repeat("가나다라마바사아자차카타파하 ", 200)
	tests := []struct {
		name string
		msg  relay.Message
		lang string
	}{
		{"crlf-and-space.txt", relay.Message{Incident: "net-down", Severity: relay.SeverityWarning,
			Text: "  1층 스위치 장애\r\n2층은 정상  \r\n"}, "ko"},
		{"no-incident.txt", relay.Message{Severity: relay.SeverityInfo, Text: "Drill at 15:00."}, "en"},
		{"region-tag.txt", relay.Message{Incident: "db-fire", Severity: relay.SeverityCritical, Text: "Evacuate."}, "en-US"},
		{"unknown-lang-is-korean.txt", relay.Message{Incident: "db-fire", Severity: relay.SeverityCritical, Text: "避難してください"}, "ja"},
		{"truncated.txt", relay.Message{Incident: "db-fire", Severity: relay.SeverityCritical, Text: long}, "ko"},
		{"drill-ko.txt", relay.Message{Incident: "drill-20261202-1400", Severity: relay.SeverityCritical, Drill: "01JDRILL",
			Text: "정기 비상 연락 훈련입니다. 받으셨으면 1로 답해 주세요."}, "ko"},
		{"drill-en.txt", relay.Message{Incident: "drill-20261202-1400", Severity: relay.SeverityCritical, Drill: "01JDRILL",
			Text: "This is the quarterly drill. Reply 1 when you get it."}, "en"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := RenderBody(&tt.msg, tt.lang)
			if n := utf8.RuneCountInString(got); n > MaxBodyChars {
				t.Errorf("%d characters, more than %d", n, MaxBodyChars)
			}
			golden(t, tt.name, got)
		})
	}
}

func TestRenderBodyKeepsHangulIntact(t *testing.T) {
	text := "전원 대피 — 비상구는 동쪽 🔥"
	got := RenderBody(&relay.Message{Incident: "x", Severity: relay.SeverityCritical, Text: text}, "ko")
	if !strings.HasSuffix(got, "\n"+text) || !utf8.ValidString(got) {
		t.Errorf("RenderBody = %q, want the text unchanged at the end", got)
	}
}

func TestTruncate(t *testing.T) {
	for _, tt := range []struct {
		in   string
		n    int
		want string
	}{
		{"abc", 3, "abc"},
		{"abcd", 3, "..."},
		{"가나다라마바", 5, "가나..."},
		{"ab 🔥🔥🔥🔥", 6, "ab..."},
	} {
		if got := truncate(tt.in, tt.n); got != tt.want {
			t.Errorf("truncate(%q, %d) = %q, want %q", tt.in, tt.n, got, tt.want)
		}
	}
}

func FuzzRenderBody(f *testing.F) {
	f.Add("서버실 화재", "db-fire", "ko")
	f.Add("\xff\r\n", "", "en")
	f.Fuzz(func(t *testing.T, text, incident, lang string) {
		got := RenderBody(&relay.Message{Incident: incident, Severity: relay.SeverityCritical, Text: text}, lang)
		if !utf8.ValidString(got) && utf8.ValidString(incident) {
			t.Fatalf("invalid UTF-8 from valid incident: %q", got)
		}
		if utf8.ValidString(incident) && utf8.RuneCountInString(got) > MaxBodyChars {
			t.Fatalf("%d characters", utf8.RuneCountInString(got))
		}
	})
}

func TestWithReplyCode(t *testing.T) {
	m := &relay.Message{Incident: "db-fire", Severity: relay.SeverityCritical, Text: "서버실 화재"}
	if got, want := WithReplyCode(RenderBody(m, "ko"), "KP47", "ko"), "[긴급] db-fire\n서버실 화재\n답장 코드 KP47 · 1=확인"; got != want {
		t.Errorf("ko: got %q, want %q", got, want)
	}
	if got := WithReplyCode("body", "", "en"); got != "body" {
		t.Errorf("without a code: got %q", got)
	}
	long := &relay.Message{Incident: "x", Text: strings.Repeat("가", 2000)}
	got := WithReplyCode(RenderBody(long, "en"), "KP47", "en")
	if n := utf8.RuneCountInString(got); n > MaxBodyChars || !strings.HasSuffix(got, "Reply code KP47 - 1=ACK") {
		t.Errorf("long body: %d characters, ends %q", n, got[len(got)-40:])
	}
}
