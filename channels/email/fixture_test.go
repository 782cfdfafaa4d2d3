package email

import (
	"net/mail"
	"os"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/oob-relay/relay/relay"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

const (
	koText = "주 데이터베이스(db-main-1)가 응답하지 않습니다.\n" +
		"쓰기 작업이 모두 실패하고 있습니다. <b>확인</b> & 복구 바랍니다.\n" +
		"\n" +
		"복구 담당: 김민준"
	koSubject = "[긴급] db-outage: 주 데이터베이스(db-main-1)가 응답하지 않습니다."
	enText    = "Primary database db-main-1 is not answering.\r\nWrites fail; reads are served from the replica <db-main-2>."
	enSubject = "[WARNING] db-outage: Primary database db-main-1 is not answering."
	fromAddr  = "relay 알림 <relay@example.com>"
)

var acceptedAt = time.Date(2026, 11, 2, 14, 3, 5, 0, time.UTC)

// fixture is one email delivery to a Korean (lang "ko") or English
// (lang "en") reader.
func fixture(lang string) *relay.Outgoing {
	m := &relay.Message{
		ID:         "01JC3Z5Q8X4M2N7P6R9T0VWXYZ",
		Incident:   "db-outage",
		Text:       koText,
		Severity:   relay.SeverityCritical,
		Author:     "oncall-bot",
		AcceptedAt: acceptedAt,
		AcceptedBy: "seoul-1",
	}
	p := &relay.Person{ID: "kim", Name: "김민준", Email: "kim@example.com", Lang: "ko"}
	if lang == "en" {
		m.Text, m.Severity = enText, relay.SeverityWarning
		p = &relay.Person{ID: "lee", Name: "Lee Seo-yeon", Email: "lee@example.org", Lang: "en"}
	}
	return &relay.Outgoing{
		DeliveryID: relay.DeliveryID(m.ID, relay.ChannelEmail, p.ID),
		Channel:    relay.ChannelEmail,
		Attempt:    1,
		Message:    m,
		Person:     p,
	}
}

func mustFrom(t testing.TB) *mail.Address {
	t.Helper()
	a, err := mail.ParseAddress(fromAddr)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func writeFile(t *testing.T, path string, data []byte) {
	t.Helper()
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
}
