package relay

import "testing"

// Contacts as people type them, and how they are shown masked.
func TestParseContact(t *testing.T) {
	for _, c := range []struct {
		in   string
		want Contact
	}{
		{"010-1234-5678", Contact{National: "1012345678"}},
		{"+82 10 1234 5678", Contact{Phone: "+821012345678"}},
		{"0082-10-1234-5678", Contact{Phone: "+821012345678"}},
		{"(010) 1234.5678", Contact{National: "1012345678"}},
		{" Kim@Example.COM ", Contact{Email: "kim@example.com"}},
	} {
		got, err := ParseContact(c.in)
		if err != nil || got != c.want {
			t.Errorf("ParseContact(%q) = %+v, %v; want %+v", c.in, got, err, c.want)
		}
	}
	for _, bad := range []string{"", "kim", "Kim <kim@example.com>", "+0 12", "010-1234-567x", "12345", "+82 10 1234 5678 9999 1"} {
		if _, err := ParseContact(bad); err == nil {
			t.Errorf("ParseContact(%q) accepted", bad)
		}
	}
	national, _ := ParseContact("010-1234-5678")
	if !national.MatchesPhone("+821012345678") || national.MatchesPhone("+8210123456789") || national.MatchesPhone("+1012345678") {
		t.Error("a national number matches the wrong E.164 numbers")
	}
	for in, want := range map[string]string{
		"+821012345678": "+82 10-****-5678", "+14155550100": "+14 *****0100", "kim@example.com": "k***@example.com",
	} {
		got := MaskEmail(in)
		if in[0] == '+' {
			got = MaskPhone(in)
		}
		if got != want {
			t.Errorf("mask %q = %q; want %q", in, got, want)
		}
	}
	if CodeLang("EN-us") != "en" || CodeLang("ko-KR") != "ko" || CodeLang("") != "ko" || CodeLang("fr") != "ko" {
		t.Error("CodeLang picks the wrong language")
	}
}

func FuzzParseContact(f *testing.F) {
	for _, s := range []string{"010-1234-5678", "+82 10 1234 5678", "kim@example.com", "0082", "@", "+"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		c, err := ParseContact(s)
		if err != nil {
			return
		}
		if (c.Email != "") == (c.Phone != "" || c.National != "") || (c.Phone != "" && !ValidE164(c.Phone)) {
			t.Fatalf("ParseContact(%q) = %+v", s, c)
		}
	})
}
