package inbound

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"testing/iotest"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

// parseResult is what a golden file holds: the parsed mail or the error.
type parseResult struct {
	Mail  *Mail  `json:"mail,omitempty"`
	Error string `json:"error,omitempty"`
}

func TestParseFixtures(t *testing.T) {
	for _, tc := range []struct {
		file    string
		limit   int64
		wantErr error
		// want checks the fields the fixture is about; the golden file
		// pins the rest.
		want func(t *testing.T, m *Mail)
	}{
		{file: "ko-utf8-qp.eml", want: func(t *testing.T, m *Mail) {
			wantFields(t, m, "kim@example.com", "김민준", "Re: [긴급] db-outage: 주 데이터베이스(db-main-1)가 응답하지 않습니다.",
				"CAKx7Q=kim.reply.1@mail.gmail.com", "확인했습니다. db-main-1 재시작 후 쓰기 정상입니다.\n복구 담당: 김민준")
			if !slices.Equal(m.To, []string{"r+token@relay.example.com"}) {
				t.Errorf("To = %q", m.To)
			}
			if !strings.Contains(m.FullText, "> 주 데이터베이스(db-main-1)가 응답하지 않습니다.") {
				t.Errorf("FullText lost the quoted original: %q", m.FullText)
			}
		}},
		{file: "ko-euckr-base64.eml", want: func(t *testing.T, m *Mail) {
			wantFields(t, m, "park@example.com", "박서준", "회신: [긴급] db-outage",
				"000001d9a1b2$c3d4e5f6$park@example.com", "확인. 보조 DB로 전환했습니다.")
		}},
		{file: "ko-iso2022kr.eml", want: func(t *testing.T, m *Mail) {
			wantFields(t, m, "choi@example.com", "", "안전 확인", "iso2022kr.1@example.com", "안전합니다. 집에서 대기 중.")
		}},
		{file: "ko-unlabelled-8bit.eml", want: func(t *testing.T, m *Mail) {
			wantFields(t, m, "jung@example.com", "", "Re: db-outage", "", "네, 확인했습니다.")
		}},
		{file: "html-only.eml", want: func(t *testing.T, m *Mail) {
			wantFields(t, m, "lee@example.org", "Lee Seo-yeon", "Re: [WARNING] db-outage", "html.only.1@example.org",
				"Failover done & verified.\nReplica lag: 0 s <ok>\n\n- writes: back\n- reads: back\n\nNext update in 30 min.")
			if !m.FromHTML {
				t.Error("FromHTML is false")
			}
			if strings.Contains(m.FullText, "alert") || strings.Contains(m.FullText, "color") {
				t.Errorf("script or style leaked into the text: %q", m.FullText)
			}
		}},
		{file: "alternative.eml", want: func(t *testing.T, m *Mail) {
			wantFields(t, m, "kim@example.com", "", "Re: db-outage", "alt.1@example.com", "복구 완료. 원인은 디스크 가득 참.")
			if m.FromHTML || m.Attachments != 0 || m.AutoReply {
				t.Errorf("FromHTML %v, Attachments %d, AutoReply %v", m.FromHTML, m.Attachments, m.AutoReply)
			}
		}},
		{file: "mixed-attachment.eml", want: func(t *testing.T, m *Mail) {
			wantFields(t, m, "kim@example.com", "Kim", "graph attached", "mixed.1@example.com", "디스크 사용량 그래프 첨부합니다.")
			if m.Attachments != 3 {
				t.Errorf("Attachments = %d, want 3 (image, text file, forwarded message)", m.Attachments)
			}
		}},
		{file: "flowed.eml", want: func(t *testing.T, m *Mail) {
			wantFields(t, m, "yoon@example.com", "", "Re: 긴급", "flowed.1@example.com",
				"확인했습니다. 현장 도착까지 약 20분 걸릴 것 같고, 도착하면 다시 연락드리겠습니다.")
		}},
		{file: "plain-lf.eml", want: func(t *testing.T, m *Mail) {
			wantFields(t, m, "kang@example.com", "Kang", "ack", "plain.lf@example.com", "ack, on my way")
		}},
		{file: "auto-reply.eml", want: func(t *testing.T, m *Mail) {
			wantFields(t, m, "kim@example.com", "김민준", "부재중: [CRITICAL] db-outage", "oof.1@example.com",
				"11월 30일까지 휴가 중입니다. 급한 일은 박서준에게 연락 바랍니다.")
			if !m.AutoReply {
				t.Error("AutoReply is false")
			}
		}},
		{file: "ko-utf8-qp.eml", limit: 200, wantErr: ErrTooLarge},
		{file: "malformed-no-boundary.eml", wantErr: ErrMalformed},
		{file: "malformed-bad-base64.eml", wantErr: ErrMalformed},
		{file: "malformed-header.eml", wantErr: ErrMalformed},
		{file: "malformed-unterminated.eml", wantErr: ErrMalformed},
		{file: "no-from.eml", wantErr: ErrNoFrom},
		{file: "two-from.eml", wantErr: ErrNoFrom},
		{file: "no-text.eml", wantErr: ErrNoText},
		{file: "quote-only.eml", wantErr: ErrNoText},
	} {
		name := strings.TrimSuffix(tc.file, ".eml")
		if tc.limit > 0 {
			name += "-oversized"
		}
		t.Run(name, func(t *testing.T) {
			raw, err := os.ReadFile(filepath.Join("testdata", tc.file))
			if err != nil {
				t.Fatal(err)
			}
			m, err := Parse(bytes.NewReader(raw), tc.limit)
			var res parseResult
			switch {
			case tc.wantErr != nil:
				if !errors.Is(err, tc.wantErr) {
					t.Fatalf("Parse error %v, want %v", err, tc.wantErr)
				}
				res.Error = err.Error()
			case err != nil:
				t.Fatalf("Parse: %v", err)
			default:
				tc.want(t, m)
				res.Mail = m
			}
			checkGolden(t, filepath.Join("testdata", name+".golden.json"), res)
		})
	}
}

func wantFields(t *testing.T, m *Mail, from, name, subject, id, text string) {
	t.Helper()
	got := []string{m.From, m.FromName, m.Subject, m.MessageID, m.Text}
	want := []string{from, name, subject, id, text}
	for i, field := range []string{"From", "FromName", "Subject", "MessageID", "Text"} {
		if got[i] != want[i] {
			t.Errorf("%s = %q, want %q", field, got[i], want[i])
		}
	}
}

func checkGolden(t *testing.T, path string, v any) {
	t.Helper()
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		t.Fatal(err)
	}
	got := buf.Bytes()
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -run TestParseFixtures -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("result differs from %s (run with -update after checking the change):\n%s", path, got)
	}
}

func TestParseErrors(t *testing.T) {
	readErr := errors.New("connection reset")
	if _, err := Parse(iotest.ErrReader(readErr), 0); !errors.Is(err, readErr) {
		t.Errorf("a read error comes back as %v", err)
	}
	for _, sentinel := range []error{ErrTooLarge, ErrNoFrom, ErrNoText, ErrMalformed} {
		if errors.Is(readErr, sentinel) {
			t.Errorf("a read error passes for %v", sentinel)
		}
	}
	// Exactly at the limit is accepted; one byte more is not.
	msg := "From: a@example.com\r\n\r\nhello\r\n"
	if _, err := Parse(strings.NewReader(msg), int64(len(msg))); err != nil {
		t.Errorf("a message of exactly the limit: %v", err)
	}
	if _, err := Parse(strings.NewReader(msg), int64(len(msg)-1)); !errors.Is(err, ErrTooLarge) {
		t.Errorf("a message one byte over the limit: %v", err)
	}
	// Nesting and part counts are bounded.
	deep := "From: a@example.com\r\nContent-Type: multipart/mixed; boundary=b0\r\n\r\n"
	for i := 1; i <= maxDepth+1; i++ {
		deep += "--b" + string(rune('0'+i-1)) + "\r\nContent-Type: multipart/mixed; boundary=b" + string(rune('0'+i)) + "\r\n\r\n"
	}
	if _, err := Parse(strings.NewReader(deep), 0); !errors.Is(err, ErrMalformed) || !strings.Contains(err.Error(), "nested") {
		t.Errorf("deep nesting: %v", err)
	}
	many := "From: a@example.com\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n" +
		strings.Repeat("--b\r\nContent-Type: image/png\r\n\r\nx\r\n", maxParts) + "--b--\r\n"
	if _, err := Parse(strings.NewReader(many), 0); !errors.Is(err, ErrMalformed) || !strings.Contains(err.Error(), "parts") {
		t.Errorf("too many parts: %v", err)
	}
}

func TestParseCleansText(t *testing.T) {
	msg := "From: =?utf-8?q?Kim=1B=5B31m?= <kim@example.com>\r\nSubject: a\x00b\r\n" +
		"Content-Type: text/plain; charset=utf-8\r\n\r\n" +
		"red \x1b[31malert\x1b[0m\x00 and \xff bytes\r\nline\ttwo\r\n"
	m, err := Parse(strings.NewReader(msg), 0)
	if err != nil {
		t.Fatal(err)
	}
	if m.Text != "red [31malert[0m and \uFFFD bytes\nline\ttwo" {
		t.Errorf("Text = %q", m.Text)
	}
	if m.FromName != "Kim[31m" || m.Subject != "ab" {
		t.Errorf("FromName %q, Subject %q", m.FromName, m.Subject)
	}
}
