package delivery

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/oob-relay/relay/relay"
)

// fallbackMessage is a message to kim, who prefers SMS, then email.
func fallbackMessage(id string, unconfirmed time.Duration) *relay.Message {
	now := time.Now()
	return &relay.Message{ID: id, Incident: "fire", Text: "2층 대피", Severity: relay.SeverityWarning,
		Author: "bot", AcceptedAt: now, Deadline: now.Add(time.Minute),
		Mode: relay.ModeFallback, UnconfirmedAfter: unconfirmed,
		Recipients: []relay.Recipient{{
			Person:   relay.Person{ID: "kim", Phone: "+821012345678", Email: "kim@example.com"},
			Channels: []string{relay.ChannelSMS, relay.ChannelEmail},
		}}}
}

func fallbackRig(t *testing.T, sms, email *scripted) *rig {
	return newRig(t, t.TempDir(), Options{Providers: []Provider{
		{Name: "tw", Channel: relay.ChannelSMS, Sender: sms},
		{Name: "mail", Channel: relay.ChannelEmail, Sender: email},
	}})
}

func (r *rig) delivery(id string) *relay.Delivery {
	r.t.Helper()
	d, err := r.store.Delivery(id)
	if err != nil {
		r.t.Fatal(err)
	}
	return d
}

func TestFallbackMovesOnWhenAChannelFails(t *testing.T) {
	sms := newScripted(func(*relay.Outgoing, int) (relay.Receipt, error) {
		return relay.Receipt{}, relay.Permanent(relay.ReasonRecipient, errors.New("21211 invalid number"))
	})
	email := newScripted(nil)
	r := fallbackRig(t, sms, email)
	start := time.Now()
	r.post(fallbackMessage("M1", time.Hour))
	got := r.settled("M1")
	if d := got["M1.sms.kim"]; d.Status != relay.StatusFailed {
		t.Fatalf("sms = %s, want failed", d.Status)
	}
	e := got["M1.email.kim"]
	if e.Status != relay.StatusSent || email.count("M1.email.kim") != 1 {
		t.Fatalf("email = %s after %d sends, want sent once", e.Status, email.count("M1.email.kim"))
	}
	// The failure moved fallback on at once, not after the hour of
	// unconfirmed time.
	if e.StartedAt.Sub(start) > 2*time.Second {
		t.Fatalf("email started %v after the post", e.StartedAt.Sub(start))
	}
}

func TestFallbackWaitsForAnUnconfirmedChannel(t *testing.T) {
	sms, email := newScripted(nil), newScripted(nil) // the SMS is sent; no receipt ever comes
	r := fallbackRig(t, sms, email)
	r.post(fallbackMessage("M1", 300*time.Millisecond))
	// Read the state settle saw: one read of the store, not two.
	got := r.settled("M1")
	s, e := got["M1.sms.kim"], got["M1.email.kim"]
	if s.Status != relay.StatusSent || e.Status != relay.StatusSent {
		t.Fatalf("sms %s, email %s; want both sent", s.Status, e.Status)
	}
	if gap := e.StartedAt.Sub(s.StartedAt); gap < 300*time.Millisecond {
		t.Fatalf("email started %v after the SMS, before the SMS went unconfirmed", gap)
	}
}

func TestFallbackSkipsWhatIsNotNeeded(t *testing.T) {
	for _, tc := range []struct {
		name  string
		reach func(r *rig)
		why   string
	}{
		{"delivered", func(r *rig) {
			d := r.delivery("M1.sms.kim")
			r.append(relay.Event{Deliveries: []relay.DeliveryChange{{ID: d.ID, Status: relay.StatusDelivered,
				Attempt: d.Attempts, Provider: d.Provider, ProviderID: d.ProviderID, At: time.Now()}}})
		}, "not needed: delivered by sms"},
		{"acknowledged", func(r *rig) {
			r.append(relay.Event{Ack: &relay.Ack{Message: "M1", Incident: "fire", Person: "kim",
				Channel: relay.ChannelSMS, Delivery: "M1.sms.kim", At: time.Now()}})
		}, "not needed: the person acknowledged the message"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sms, email := newScripted(nil), newScripted(nil)
			r := fallbackRig(t, sms, email)
			r.post(fallbackMessage("M1", time.Hour))
			r.eventually(func() bool { return r.delivery("M1.sms.kim").Status == relay.StatusSent })
			tc.reach(r)
			// Settles long before the hour of unconfirmed time.
			e := r.settled("M1")["M1.email.kim"]
			if e.Status != relay.StatusSkipped || e.Error != tc.why || e.Attempts != 0 {
				t.Fatalf("email = %s (%q) after %d attempts, want skipped: %s", e.Status, e.Error, e.Attempts, tc.why)
			}
			if n := email.count("M1.email.kim"); n != 0 {
				t.Fatalf("email sent %d times", n)
			}
		})
	}
}

func TestAllModeSendsEveryChannelAtOnce(t *testing.T) {
	sms, email := newScripted(nil), newScripted(nil)
	r := fallbackRig(t, sms, email)
	m := fallbackMessage("M1", time.Hour)
	m.Mode = relay.ModeAll
	r.post(m)
	r.settle("M1", 5*time.Second)
	if sms.count("M1.sms.kim") != 1 || email.count("M1.email.kim") != 1 {
		t.Fatalf("sms sent %d, email %d times; want once each", sms.count("M1.sms.kim"), email.count("M1.email.kim"))
	}
}

// A reopened delivery (a busy call called again) is attempted again in its
// new round; changes of the old round no longer apply.
func TestReopenedDeliveryIsAttemptedAgain(t *testing.T) {
	calls := newScripted(nil)
	r := newRig(t, t.TempDir(), Options{Providers: []Provider{{Name: "tw", Channel: relay.ChannelVoice, Sender: calls}}})
	m := message("M1", time.Minute, "kim")
	m.Recipients[0].Channels = []string{relay.ChannelVoice}
	r.post(m)
	id := "M1.voice.kim"
	r.eventually(func() bool { return r.delivery(id).Status == relay.StatusSent })
	d := r.delivery(id)
	now := time.Now()
	r.append(relay.Event{Deliveries: []relay.DeliveryChange{
		{ID: id, Status: relay.StatusPending, Round: 1, Attempt: d.Attempts, Provider: d.Provider,
			Error: "call busy", Reason: relay.ReasonRecipient, At: now, NextAt: now.Add(50 * time.Millisecond)},
	}})
	r.eventually(func() bool { d := r.delivery(id); return d.Status == relay.StatusSent && d.Attempts == 2 })
	if d := r.delivery(id); d.Round != 1 || calls.count(id) != 2 {
		t.Fatalf("delivery round %d after %d calls, want round 1 and 2 calls", d.Round, calls.count(id))
	}
	// A late receipt of the first call belongs to round 0: ignored.
	r.append(relay.Event{Deliveries: []relay.DeliveryChange{{ID: id, Status: relay.StatusFailed, Attempt: 1,
		Error: "call busy", Reason: relay.ReasonRecipient, At: time.Now()}}})
	if d := r.delivery(id); d.Status != relay.StatusSent {
		t.Fatalf("a first-round receipt changed the reopened delivery to %s", d.Status)
	}
}

// Behind a slow rate limit with many workers, the lane claims only what
// the limit lets through, so a high-priority message is next, not behind
// one claimed delivery per worker.
func TestHighPriorityIsNextBehindRateLimitWithManyWorkers(t *testing.T) {
	if after := replyPosition(t, 100, Provider{Name: "tw", Channel: "sms", Rate: 50, Burst: 1}, 16); after > 3 {
		t.Fatalf("reply sent after %d sends of the blast that began once it was posted, want 3 at most", after)
	}
}

func (r *rig) append(ev relay.Event) {
	r.t.Helper()
	if _, err := r.store.Append(context.Background(), ev); err != nil {
		r.t.Fatal(err)
	}
}

func (r *rig) eventually(cond func() bool) {
	r.t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			r.t.Fatal("condition not met within 5s")
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// settled waits until every delivery of msgID is settled and returns them
// by id, as one read of the store saw them.
func (r *rig) settled(msgID string) map[string]*relay.Delivery {
	r.t.Helper()
	ds := r.settle(msgID, 5*time.Second)
	out := make(map[string]*relay.Delivery, len(ds))
	for i := range ds {
		out[ds[i].ID] = &ds[i]
	}
	return out
}
