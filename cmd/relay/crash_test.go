package main

import (
	"context"
	"fmt"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/oob-relay/relay/internal/testkit"
	"github.com/oob-relay/relay/relay"
	"github.com/oob-relay/relay/relay/client"
)

// TestSIGKILLDuringFanOut kills a relay serve process with SIGKILL in the
// middle of a fan-out while a bot keeps posting, restarts it on the same
// data dir, and checks that every accepted message is there and every
// delivery reached its sink.
func TestSIGKILLDuringFanOut(t *testing.T) {
	const people = 300
	dir := t.TempDir()
	s := startSinks(t)
	writeRoster(t, dir, people)
	// Rate limits stretch the fan-out over a couple of seconds, so the
	// kill lands in the middle of it.
	cfg, base := nodeConfig(t, dir, s, 150, 150)
	p1 := serve(t, cfg, base)

	u, _ := url.Parse(base)
	c := client.New([]*url.URL{u}, testToken, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()

	const blast = "전사 공지: 서울 IDC 화재, 판교로 전환 중"
	acc, err := c.Post(ctx, &relay.Post{Incident: "idc-fire", Text: blast, To: []string{"group:all"}, Severity: "critical"}, "")
	if err != nil {
		t.Fatal(err)
	}
	if acc.Deliveries != 2*people+1 {
		t.Fatalf("fan-out has %d deliveries, want %d", acc.Deliveries, 2*people+1)
	}

	// A bot posts as fast as it can until the node dies; every message
	// it got a 202 for must survive.
	var (
		mu       sync.Mutex
		accepted = []string{acc.ID}
	)
	stopPosting := make(chan struct{})
	posterDone := make(chan struct{})
	go func() {
		defer close(posterDone)
		for i := 0; ; i++ {
			select {
			case <-stopPosting:
				return
			default:
			}
			pctx, pcancel := context.WithTimeout(ctx, 2*time.Second)
			a, err := c.Post(pctx, &relay.Post{Incident: "idc-fire", Text: fmt.Sprintf("update %d", i), To: []string{"person:p00001"}, Severity: "critical"}, "")
			pcancel()
			if err != nil {
				continue
			}
			mu.Lock()
			accepted = append(accepted, a.ID)
			mu.Unlock()
		}
	}()

	testkit.WaitFor(t, ctx, "a third of the fan-out at the sinks", func() bool {
		return len(s.mail.Mails())+len(s.emu.Messages()) >= 2*people/3
	})
	p1.kill(t)
	close(stopPosting)
	<-posterDone
	atKill := len(s.mail.Mails()) + len(s.emu.Messages())
	if atKill >= 2*people {
		t.Fatalf("the fan-out had finished (%d at the sinks) before the kill; the test proves nothing", atKill)
	}
	mu.Lock()
	ids := append([]string(nil), accepted...)
	mu.Unlock()
	t.Logf("killed with %d of %d fan-out deliveries at the sinks and %d messages accepted", atKill, 2*people, len(ids))

	p2 := serve(t, cfg, base)
	for _, id := range ids {
		testkit.WaitFor(t, ctx, "message "+id+" to settle", func() bool {
			m, err := c.Message(ctx, id)
			if err != nil {
				t.Fatalf("accepted message %s lost after the restart: %v", id, err)
			}
			return m.Settled
		})
	}
	m, err := c.Message(ctx, acc.ID)
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range m.Deliveries {
		// An SMS left in flight at the kill is looked up at the provider
		// after the restart, and recorded as the provider has it by then:
		// delivered, in the emulator.
		if d.Status != relay.StatusSent && !(d.Status == relay.StatusDelivered && d.Channel == relay.ChannelSMS) {
			t.Errorf("delivery %s is %s (%s), want sent", d.ID, d.Status, d.Error)
		}
	}

	// Every person got the blast on both channels. No SMS repeats: one in
	// flight at the kill is looked up before it is sent again. A mail can
	// repeat if it was in flight (its Message-ID lets receivers drop it).
	sms := map[string]int{}
	for _, msg := range s.emu.Messages() {
		if msg.Body != "" && strings.Contains(msg.Body, blast) {
			sms[msg.To]++
		}
	}
	mails := map[string]int{}
	for _, ml := range s.mail.Mails() {
		if strings.Contains(ml.Subject+ml.Text, "서울 IDC 화재") {
			for _, to := range ml.Envelope.To {
				mails[to]++
			}
		}
	}
	dupSMS, dupMail := 0, 0
	for i := range people {
		phone, addr := fmt.Sprintf("+8210%08d", i), fmt.Sprintf("p%05d@example.com", i)
		if sms[phone] == 0 {
			t.Errorf("%s never got the SMS", phone)
		}
		if mails[addr] == 0 {
			t.Errorf("%s never got the mail", addr)
		}
		dupSMS += max(0, sms[phone]-1)
		dupMail += max(0, mails[addr]-1)
	}
	// At most one attempt per claim slot was in flight on the mail
	// channel: its workers, as the channel is rate limited.
	const workers = 16
	if dupSMS > 0 || dupMail > workers {
		t.Errorf("duplicates: %d SMS (want none) and %d mails (at most the %d attempts the channel has in flight)",
			dupSMS, dupMail, workers)
	}
	t.Logf("duplicates after the kill: %d SMS, %d mails", dupSMS, dupMail)
	if v := s.emu.Violations(); len(v) > 0 {
		t.Errorf("requests outside Twilio's API description: %v", v)
	}
	p2.stop(t)
}
