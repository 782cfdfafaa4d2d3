package relay

import (
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

func TestAutomaticText(t *testing.T) {
	automatic := []string{
		"운전 중입니다",
		"운전중입니다.",
		"지금 운전 중이에요 🚗",
		"운전 중입니다. 나중에 연락드리겠습니다.",
		"운전 중이라 전화를 받을 수 없습니다",
		"현재 회의 중입니다. 회의 후 연락드리겠습니다.",
		"지금은 전화를 받을 수 없습니다. 나중에 다시 연락 주세요.",
		"방해 금지 모드를 켜 두었습니다. 목적지에 도착하면 메시지를 확인하겠습니다.",
		"[자동응답] 휴가 중입니다. 급한 용무는 이서연 매니저에게 연락 바랍니다.",
		"(자동 응답) 부재중",
		"부재 중입니다\n급한 일은 02-123-4567로 연락 주세요",
		"자동 응답 메시지입니다",
		"I'm driving",
		"I’m driving.",
		"I am driving right now - I'll get back to you later.",
		"I'm driving with Do Not Disturb While Driving turned on. I'll see your message when I get where I'm going.",
		"I'm driving with Driving Focus turned on. I'll see your message when I get where I'm going. If it's urgent, reply \"urgent\" to send a notification through with your original message.",
		"Sorry, I can't talk right now.",
		"I'm in a meeting. I'll call you back later.",
		"I'm out of the office until Monday. For urgent matters contact Park.",
		"Auto-reply: I am away",
		"[Automatic reply] Back on 3 March",
		"This is an automated message.",
		"Do not disturb is on",
		"Can't talk now. Text me later",
	}
	for _, text := range automatic {
		if !AutomaticText(text) {
			t.Errorf("AutomaticText(%q) = false, want true", text)
		}
	}
	people := []string{
		"",
		"1",
		"ok",
		"운전 중인데 10분 후 도착",
		"운전 중. 판교 도착 10분 전",
		"판교 도착, 전원 차단 확인",
		"회의 중이지만 DB 팀 연결해 두었습니다",
		"나중에 연락드리겠습니다",
		"자동응답 루프 같아요, 확인 부탁",
		"I'm driving, ETA 10 min",
		"I'm driving to the DC now, there in 20",
		"I'll call you back with the DB status in 5 min",
		"I'm in a meeting but on it",
		"Out of office but I can help remotely",
		"Thanks",
		"Sorry",
		"auto reply loop? check twilio",
		strings.Repeat("운전 중입니다. ", 100),
	}
	for _, text := range people {
		if AutomaticText(text) {
			t.Errorf("AutomaticText(%q) = true, want false", text)
		}
	}
}

func TestSameText(t *testing.T) {
	for _, c := range []struct {
		a, b string
		want bool
	}{
		{"Back Monday - Lee", "back monday - lee", true},
		{"  Back   Monday - Lee!! ", "Back Monday - Lee", true},
		{"판교 도착", "판교 도착.", true},
		{"판교 도착", "판교 출발", false},
		{"", "", false},
		{"...", "!!", false},
	} {
		if got := SameText(c.a, c.b); got != c.want {
			t.Errorf("SameText(%q, %q) = %v, want %v", c.a, c.b, got, c.want)
		}
	}
}

func FuzzAutomaticText(f *testing.F) {
	for _, s := range []string{"운전 중입니다", "I'm driving with Driving Focus turned on.", "[자동응답] 휴가", "ok", "\xff\xfe", "a\r\nb"} {
		f.Add(s, s)
	}
	f.Fuzz(func(t *testing.T, text, other string) {
		auto := AutomaticText(text)
		if auto && utf8.RuneCountInString(text) > maxAutomaticRunes {
			t.Fatalf("a text of %d runes was taken as automatic", utf8.RuneCountInString(text))
		}
		if AutomaticText(text) != auto {
			t.Fatal("AutomaticText is not a function of its text")
		}
		if SameText(text, other) != SameText(other, text) {
			t.Fatalf("SameText is not symmetric for %q and %q", text, other)
		}
		if normalize(text) != "" && !SameText(text, text) {
			t.Fatalf("%q is not the same as itself", text)
		}
	})
}

func TestSummaryText(t *testing.T) {
	texts := []string{"2층 도착", "발전기 정상", "네트워크 팀\n대기 중"}
	if got, want := SummaryText("ko", "김민수", time.Minute, texts),
		"김민수 님이 지난 1분 동안 답장 3건을 더 보냈습니다:\n1) 2층 도착\n2) 발전기 정상\n3) 네트워크 팀 대기 중"; got != want {
		t.Errorf("Korean summary:\n%s\nwant\n%s", got, want)
	}
	if got, want := SummaryText("en", "Park", 30*time.Second, texts[:1]),
		"Park sent 1 more reply in the last 30 seconds:\n1) 2층 도착"; got != want {
		t.Errorf("English summary:\n%s\nwant\n%s", got, want)
	}
	if got, want := SummaryText("en", "Park", 2*time.Minute, texts[:2]),
		"Park sent 2 more replies in the last 2 minutes:\n1) 2층 도착\n2) 발전기 정상"; got != want {
		t.Errorf("English summary:\n%s\nwant\n%s", got, want)
	}
	long := make([]string, 40)
	for i := range long {
		long[i] = strings.Repeat("가", 300)
	}
	got := SummaryText("ko", "김민수", time.Minute, long)
	if n := utf8.RuneCountInString(got); n > summaryRunes+20 {
		t.Errorf("a summary of 40 long replies is %d runes", n)
	}
	if !strings.Contains(got, "1) "+strings.Repeat("가", summaryQuoteRunes-1)+"…") || !strings.HasSuffix(got, "건") {
		t.Errorf("a long summary is not cut as it should be:\n%s", got)
	}
}

func TestReplyLimits(t *testing.T) {
	var l ReplyLimits
	l.SetDefaults()
	if l != (ReplyLimits{Window: time.Minute, PerPerson: 6, HighPriority: 10, RepeatWindow: 10 * time.Minute}) {
		t.Fatalf("defaults %+v", l)
	}
	if err := l.Validate(); err != nil {
		t.Fatal(err)
	}
	bad := ReplyLimits{Window: time.Millisecond, PerPerson: -1, HighPriority: 20000, RepeatWindow: 48 * time.Hour}
	err := bad.Validate()
	for _, want := range []string{
		"window: 1ms must be from 1s to 1h, such as 1m",
		"per_person: -1 must be from 1 to 1000",
		"high_priority: 20000 must be from 1 to 10000",
		"repeat_window: 48h0m0s must be from 1s to 24h, such as 10m",
	} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Validate() = %v, want it to say %q", err, want)
		}
	}
}
