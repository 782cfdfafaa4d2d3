package main

import (
	"context"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/oob-relay/relay/channels/twilio/emulator/emulatortest"
	"github.com/oob-relay/relay/cmd/relay/internal/devstack"
	"github.com/oob-relay/relay/internal/testkit"
	"github.com/oob-relay/relay/relay"
	"github.com/oob-relay/relay/relay/client"
)

// TestDevReceipts: in relay dev, the emulator's signed status callbacks
// reach the node, so SMS deliveries end delivered, and a critical message
// to a person who takes calls rings them; pressing 1 acknowledges.
func TestDevReceipts(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	st, err := devstack.Start(ctx, devstack.Options{DataDir: filepath.Join(t.TempDir(), "dev"), HTTPAddr: "127.0.0.1:0",
		TwilioSpec: emulatortest.Spec(t)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close(context.Background()) })
	u, _ := url.Parse(st.URLs[0])
	c := client.New([]*url.URL{u}, st.Token, nil)

	acc, err := c.Post(ctx, &relay.Post{Incident: "fire", Text: "3층 화재, 대피하세요", To: []string{"group:oncall"},
		Severity: relay.SeverityCritical, Channels: []string{"sms"}}, "")
	if err != nil {
		t.Fatal(err)
	}
	testkit.WaitFor(t, ctx, "SMS receipts", func() bool {
		m, err := c.Message(ctx, acc.ID)
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for _, d := range m.Deliveries {
			if d.Channel == relay.ChannelSMS && d.Status == relay.StatusDelivered {
				n++
			}
		}
		return n == 2
	})

	// A critical message calls kim; pressing 1 acknowledges it.
	st.Emulator().PressDigits("+821012345678", "1")
	acc, err = c.Post(ctx, &relay.Post{Incident: "fire", Text: "2차 대피 안내", To: []string{"person:kim"},
		Severity: relay.SeverityCritical, Channels: []string{"voice"}}, "")
	if err != nil {
		t.Fatal(err)
	}
	wctx, wcancel := context.WithTimeout(ctx, 10*time.Second)
	calls, err := st.Emulator().WaitCalls(wctx, 1)
	wcancel()
	if err != nil {
		m, _ := c.Message(ctx, acc.ID)
		t.Fatalf("no call: %v; message: %+v", err, m)
	}
	if !strings.Contains(calls[0].Twiml, "2차 대피 안내") || !strings.Contains(calls[0].Twiml, "ko-KR") {
		t.Fatalf("call TwiML does not speak the Korean text: %s", calls[0].Twiml)
	}
	testkit.WaitFor(t, ctx, "the acknowledgement", func() bool {
		m, err := c.Message(ctx, acc.ID)
		if err != nil {
			t.Fatal(err)
		}
		return len(m.Acks) == 1 && m.Acks[0].Person == "kim" && m.Acks[0].Channel == relay.ChannelVoice
	})
	if v := st.TwilioViolations(); len(v) > 0 {
		t.Fatalf("requests outside Twilio's API description: %v", v)
	}
}
