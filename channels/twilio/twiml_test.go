package twilio

import (
	"encoding/xml"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/oob-relay/relay/relay"
)

// goldenTwiml compares got with testdata/twiml/name, or rewrites it with
// -update.
func goldenTwiml(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", "twiml", name)
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
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

// callTo is a voice delivery of a critical message about db-outage to a
// person speaking lang, with webhooks under a node's public URL.
func callTo(lang, text string) *relay.Outgoing {
	msg := &relay.Message{ID: "m1", Incident: "db-outage", Severity: relay.SeverityCritical, Text: text}
	p := &relay.Person{ID: "kim", Phone: "+821012345678", Lang: lang}
	base := "https://relay-a.example.com/twilio/d/" + relay.DeliveryID(msg.ID, relay.ChannelVoice, p.ID)
	return &relay.Outgoing{DeliveryID: relay.DeliveryID(msg.ID, relay.ChannelVoice, p.ID), Channel: relay.ChannelVoice,
		Attempt: 1, Message: msg, Person: p, CallbackBase: base, StatusCallback: base + "/status"}
}

// rollCallTo is a call asking a roll-call's question.
func rollCallTo(lang string) *relay.Outgoing {
	out := callTo(lang, "판교 화재. 안전하면 1, 도움이 필요하면 2\n1 = 안전\n2 = 도움 필요")
	out.Message.RollCall = "rc1"
	return out
}

const (
	koText = "주 데이터베이스 장애입니다.\n쓰기가 중단되었습니다. 복구 담당자는 즉시 브리지에 참여하세요."
	enText = "The primary database is down.\nWrites are stopped. Responders, join the bridge now."
)

// drillCallTo is a call of a drill.
func drillCallTo(lang string) *relay.Outgoing {
	out := callTo(lang, map[string]string{"ko": "정기 비상 연락 훈련입니다.", "en": "This is the quarterly drill."}[lang])
	m := *out.Message
	m.Incident, m.Drill = "drill-20261202-1400", "01JDRILL"
	out.Message = &m
	return out
}

func TestRenderCallGolden(t *testing.T) {
	long := strings.Repeat("가나다라마바사아자차카타파하 ", 100) // 1,500 characters
	noCallback := callTo("ko", koText)
	noCallback.CallbackBase, noCallback.StatusCallback = "", ""
	tests := []struct {
		name string
		out  *relay.Outgoing
	}{
		{"ko.xml", callTo("ko", koText)},
		{"en.xml", callTo("en", enText)},
		{"en-region-tag.xml", callTo("en-GB", enText)},
		{"default-lang-is-korean.xml", callTo("", koText)},
		{"unknown-lang-is-korean.xml", callTo("ja", "避難してください")},
		{"long.xml", callTo("ko", long)},
		{"xml-special.xml", callTo("en", `Run "make <restore>" & don't stop`)},
		{"no-callback.xml", noCallback},
		{"empty-text.xml", callTo("ko", " \r\n\t ")},
		{"rollcall-ko.xml", rollCallTo("ko")},
		{"rollcall-en.xml", rollCallTo("en")},
		{"drill-ko.xml", drillCallTo("ko")},
		{"drill-en.xml", drillCallTo("en")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := RenderCall(tt.out)
			if err != nil {
				t.Fatal(err)
			}
			checkTwiml(t, got)
			goldenTwiml(t, tt.name, got)
		})
	}
}

func TestRenderGatherReplyGolden(t *testing.T) {
	for _, tt := range []struct {
		name string
		lang string
		ack  bool
	}{
		{"reply-ko-ack.xml", "ko", true},
		{"reply-ko-again.xml", "ko", false},
		{"reply-en-ack.xml", "en", true},
		{"reply-en-again.xml", "en-US", false},
		{"reply-unknown-lang-ack.xml", "ja", true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got := RenderGatherReply(tt.lang, tt.ack)
			checkTwiml(t, got)
			goldenTwiml(t, tt.name, got)
		})
	}
}

// twimlDoc is the part of a TwiML document the tests read back.
type twimlDoc struct {
	Says   []sayEl `xml:"Say"`
	Gather *struct {
		Action    string  `xml:"action,attr"`
		Method    string  `xml:"method,attr"`
		NumDigits string  `xml:"numDigits,attr"`
		Timeout   string  `xml:"timeout,attr"`
		Says      []sayEl `xml:"Say"`
	} `xml:"Gather"`
	Hangup *struct{} `xml:"Hangup"`
}

type sayEl struct {
	Language string `xml:"language,attr"`
	Voice    string `xml:"voice,attr"`
	Text     string `xml:",chardata"`
}

// checkTwiml fails the test unless doc is well-formed XML within Twilio's
// length limit, ending in a hang-up.
func checkTwiml(t *testing.T, doc string) twimlDoc {
	t.Helper()
	dec := xml.NewDecoder(strings.NewReader(doc))
	for {
		if _, err := dec.Token(); err == io.EOF {
			break
		} else if err != nil {
			t.Fatalf("not well-formed: %v\n%s", err, doc)
		}
	}
	var d twimlDoc
	if err := xml.Unmarshal([]byte(doc), &d); err != nil {
		t.Fatal(err)
	}
	if d.Hangup == nil {
		t.Errorf("no <Hangup/>:\n%s", doc)
	}
	if n := utf8.RuneCountInString(doc); n > MaxTwimlChars {
		t.Errorf("%d characters, more than %d", n, MaxTwimlChars)
	}
	return d
}

func TestRenderCallStructure(t *testing.T) {
	out := callTo("ko", koText)
	doc, err := RenderCall(out)
	if err != nil {
		t.Fatal(err)
	}
	d := checkTwiml(t, doc)
	spokenText := "주 데이터베이스 장애입니다. 쓰기가 중단되었습니다. 복구 담당자는 즉시 브리지에 참여하세요."
	if len(d.Says) < 2 || d.Says[0].Text != "relay 비상 연락입니다. 인시던트 db-outage, 심각도 긴급." ||
		d.Says[1].Text != spokenText {
		t.Fatalf("intro and text: %+v", d.Says)
	}
	g := d.Gather
	if g == nil {
		t.Fatal("no <Gather>")
	}
	if g.Action != out.CallbackURL(relay.CallbackGather) || g.Method != "POST" || g.NumDigits != "1" || g.Timeout != "8" {
		t.Errorf("gather %+v", g)
	}
	var inGather []string
	for _, s := range g.Says {
		inGather = append(inGather, s.Text)
	}
	if strings.Count(strings.Join(inGather, "|"), spokenText) != 1 ||
		inGather[0] != "확인하셨으면 1번을 누르세요." {
		t.Errorf("gather says %q: want the prompt and the text once more", inGather)
	}
	for _, s := range append(d.Says, g.Says...) {
		if s.Language != "ko-KR" || s.Voice != "Polly.Seoyeon" {
			t.Errorf("say %+v: want ko-KR Polly.Seoyeon", s)
		}
	}
}

func TestRenderCallWithoutCallbackSaysTextTwice(t *testing.T) {
	out := callTo("en", enText)
	out.CallbackBase = ""
	doc, err := RenderCall(out)
	if err != nil {
		t.Fatal(err)
	}
	d := checkTwiml(t, doc)
	if d.Gather != nil || strings.Contains(doc, "Gather") {
		t.Errorf("a Gather without a callback URL:\n%s", doc)
	}
	if n := strings.Count(doc, "Writes are stopped."); n != 2 {
		t.Errorf("text spoken %d times, want 2", n)
	}
	for _, s := range d.Says {
		if s.Language != "en-US" || s.Voice != "Polly.Joanna" {
			t.Errorf("say %+v: want en-US Polly.Joanna", s)
		}
	}
}

func TestRenderCallEscapesEverything(t *testing.T) {
	out := callTo("en", `</Say><Play>http://evil.example/x.mp3</Play><Say> & "quoted" 'single'`)
	out.Message.Incident = `<x&y>`
	out.CallbackBase = `https://relay.example.com/d/a"b&c`
	doc, err := RenderCall(out)
	if err != nil {
		t.Fatal(err)
	}
	d := checkTwiml(t, doc)
	if strings.Contains(doc, "<Play>") {
		t.Errorf("text became markup:\n%s", doc)
	}
	if d.Gather == nil || d.Gather.Action != `https://relay.example.com/d/a"b&c/gather` {
		t.Errorf("action read back as %+v", d.Gather)
	}
	if !strings.Contains(d.Says[0].Text, "Incident <x&y>") ||
		d.Says[1].Text != `</Say><Play>http://evil.example/x.mp3</Play><Say> & "quoted" 'single'` {
		t.Errorf("text read back as %q", d.Says[:2])
	}
}

func TestRenderCallKeepsHangulIntact(t *testing.T) {
	text := "전원 대피 — 비상구는 동쪽 🔥 ㄱㄴㄷ 한글"
	doc, err := RenderCall(callTo("", text))
	if err != nil {
		t.Fatal(err)
	}
	if !utf8.ValidString(doc) || strings.Count(doc, text) != 2 {
		t.Errorf("text not spoken twice intact:\n%s", doc)
	}
}

func TestRenderCallCutsLongText(t *testing.T) {
	for _, tt := range []struct {
		name string
		text string
		lang string
	}{
		{"hangul", strings.Repeat("가", 3000), "ko"},
		{"ampersands", strings.Repeat("&", 1200), "en"},
		{"quotes and letters", strings.Repeat(`a"`, 700), "ko"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			sp := speechFor(tt.lang)
			got := cutSpoken(spoken(tt.text), sp.cut)
			if n := utf8.RuneCountInString(got); n > MaxSpokenChars {
				t.Errorf("%d characters, more than %d", n, MaxSpokenChars)
			}
			if n := escapedLen(got); n > maxSpokenEscaped {
				t.Errorf("%d characters escaped, more than %d", n, maxSpokenEscaped)
			}
			if !strings.HasSuffix(got, sp.cut) {
				t.Errorf("cut text does not end in %q", sp.cut)
			}
			doc, err := RenderCall(callTo(tt.lang, tt.text))
			if err != nil {
				t.Fatal(err)
			}
			checkTwiml(t, doc)
		})
	}
	// Exactly the limit is not cut.
	exact := strings.Repeat("가", MaxSpokenChars)
	if got := cutSpoken(exact, "…"); got != exact {
		t.Errorf("a text of exactly %d characters was cut", MaxSpokenChars)
	}
}

func TestRenderCallRefusesWhatCannotBeSpoken(t *testing.T) {
	if _, err := RenderCall(nil); err == nil {
		t.Error("nil outgoing accepted")
	}
	if _, err := RenderCall(&relay.Outgoing{}); err == nil {
		t.Error("outgoing without a message accepted")
	}
	out := callTo("ko", strings.Repeat("&", 2000))
	out.CallbackBase = "https://relay.example.com/" + strings.Repeat("x", 2000)
	if _, err := RenderCall(out); err == nil || !strings.Contains(err.Error(), "4000") {
		t.Errorf("an oversized document: %v", err)
	}
}

func TestSpoken(t *testing.T) {
	for in, want := range map[string]string{
		"  a\r\n\tb  ":    "a b",
		"a\x00b\x1bc":     "abc",
		"a\xffb":          "a b",
		"가\u00a0나\u2028다": "가 나 다",
		"\ufffe\uffff":    "",
	} {
		if got := spoken(in); got != want {
			t.Errorf("spoken(%q) = %q, want %q", in, got, want)
		}
	}
}

func FuzzRenderCall(f *testing.F) {
	f.Add("서버실 화재", "db-fire", "ko", "https://relay.example.com/d/x")
	f.Add("<&>\"'\x00\xff", "", "en", "")
	f.Fuzz(func(t *testing.T, text, incident, lang, base string) {
		out := callTo(lang, text)
		out.Message.Incident, out.CallbackBase = incident, base
		doc, err := RenderCall(out)
		if err != nil {
			if escapedLen(base) < 300 {
				t.Fatalf("error with a short callback URL: %v", err)
			}
			return
		}
		dec := xml.NewDecoder(strings.NewReader(doc))
		for {
			if _, err := dec.Token(); err == io.EOF {
				break
			} else if err != nil {
				t.Fatalf("not well-formed: %v\n%s", err, doc)
			}
		}
	})
}
