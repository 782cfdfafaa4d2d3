package emulator_test

import (
	"testing"

	openapi "github.com/twilio/twilio-go/rest/api/v2010"

	"github.com/oob-relay/relay/channels/twilio/emulator"
	"github.com/oob-relay/relay/channels/twilio/emulator/emulatortest"
)

func TestUpdateRecords(t *testing.T) {
	em := emulatortest.Start(t, fastOptions())
	svc := testAPI(t, em)
	sid := send(t, svc, "+821012345678", "+15005550006", "hello")
	if !em.UpdateMessage(sid, func(m *emulator.Message) { m.Status, m.ErrorCode, m.Segments = "canceled", 30008, 3 }) {
		t.Fatal("message not found")
	}
	m, err := svc.FetchMessage(sid, nil)
	if err != nil {
		t.Fatal(err)
	}
	if *m.Status != "canceled" || m.ErrorCode == nil || *m.ErrorCode != 30008 || *m.NumSegments != "3" {
		t.Errorf("fetched status %s error %v segments %s", *m.Status, m.ErrorCode, *m.NumSegments)
	}

	c, err := svc.CreateCall((&openapi.CreateCallParams{}).SetTo("+821012345678").SetFrom("+15005550006").SetTwiml(sayTwiml))
	if err != nil {
		t.Fatal(err)
	}
	if !em.UpdateCall(*c.Sid, func(c *emulator.Call) { c.Status = "canceled" }) {
		t.Fatal("call not found")
	}
	if got, err := svc.FetchCall(*c.Sid, nil); err != nil || *got.Status != "canceled" {
		t.Errorf("fetched call %v, %v", got, err)
	}
	if em.UpdateMessage("SM00000000000000000000000000000000", func(*emulator.Message) {}) ||
		em.UpdateCall("CA00000000000000000000000000000000", func(*emulator.Call) {}) {
		t.Error("unknown records updated")
	}
}
