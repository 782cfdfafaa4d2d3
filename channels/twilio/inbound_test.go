package twilio

import (
	"encoding/xml"
	"net/url"
	"strings"
	"testing"
)

func incomingForm() url.Values {
	return url.Values{
		"MessageSid": {"SM" + strings.Repeat("ab", 16)}, "AccountSid": {"AC" + strings.Repeat("0", 32)},
		"From": {"+821012345678"}, "To": {"+15005550006"}, "Body": {"판교 도착했습니다"}, "NumMedia": {"0"},
	}
}

func TestParseIncoming(t *testing.T) {
	in, err := ParseIncoming(incomingForm())
	if err != nil {
		t.Fatal(err)
	}
	if in.From != "+821012345678" || in.Body != "판교 도착했습니다" || in.To != "+15005550006" {
		t.Fatalf("parsed %+v", in)
	}
	for _, tc := range []struct {
		edit func(url.Values)
		want string
	}{
		{func(f url.Values) { f.Del("MessageSid") }, "MessageSid: missing"},
		{func(f url.Values) { f.Set("MessageSid", "CA123") }, `MessageSid: "CA123" is not a message SID`},
		{func(f url.Values) { f.Del("From") }, "From: missing"},
		{func(f url.Values) { f["Body"] = []string{"a", "b"} }, "Body: given 2 times"},
		{func(f url.Values) { f.Set("Body", " ") }, "Body: missing"},
		{func(f url.Values) { f.Set("Body", "\xff") }, "Body: is not valid UTF-8"},
		{func(f url.Values) { f.Set("NumMedia", "x") }, `NumMedia: "x" is not a count of media`},
	} {
		f := incomingForm()
		tc.edit(f)
		if _, err := ParseIncoming(f); err == nil || err.Error() != tc.want {
			t.Errorf("got error %v, want %q", err, tc.want)
		}
	}
}

func TestRenderMessageReply(t *testing.T) {
	var doc struct {
		Message string `xml:"Message"`
	}
	if err := xml.Unmarshal([]byte(RenderMessageReply("확인했습니다: <db-fire> & co")), &doc); err != nil {
		t.Fatal(err)
	}
	if doc.Message != "확인했습니다: <db-fire> & co" {
		t.Fatalf("message %q", doc.Message)
	}
	if got := RenderMessageReply(""); !strings.Contains(got, "<Response/>") {
		t.Fatalf("empty answer %q", got)
	}
}

func FuzzParseIncoming(f *testing.F) {
	f.Add(incomingForm().Encode())
	f.Add("MessageSid=SM1&From=%2B1&To=%2B2&Body=%ff")
	f.Fuzz(func(t *testing.T, raw string) {
		form, err := url.ParseQuery(raw)
		if err != nil {
			return
		}
		in, err := ParseIncoming(form)
		if err != nil {
			if err.Error() == "" {
				t.Fatal("empty error")
			}
			return
		}
		if in.From == "" || in.To == "" || !messageSIDPattern.MatchString(in.MessageSID) {
			t.Fatalf("accepted %+v", in)
		}
		var doc struct{ Message string }
		if err := xml.Unmarshal([]byte(RenderMessageReply(in.Body)), &doc); err != nil {
			t.Fatalf("reply to %q is not XML: %v", in.Body, err)
		}
	})
}
