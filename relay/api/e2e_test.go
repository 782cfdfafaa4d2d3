package api_test

import (
	"context"
	"encoding/json"
	"maps"
	"net/http"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/oob-relay/relay/channels/email/mailsink"
	relaynats "github.com/oob-relay/relay/channels/nats"
	"github.com/oob-relay/relay/relay"
	"github.com/oob-relay/relay/relay/api"
)

// TestPostDeliversEverywhere posts a Korean message to a group and a
// person reachable only by SMS, and follows it through the API, the SMTP
// sink and a NATS subscriber.
func TestPostDeliversEverywhere(t *testing.T) {
	h := newHarness(t)
	post := relay.Post{Incident: incident, Text: koText, To: []string{"group:db-oncall", "person:park"}, Severity: relay.SeverityCritical}
	a := h.post(t, botToken, post, "")
	if a.status != http.StatusAccepted {
		t.Fatalf("post: %d %s", a.status, a.body)
	}
	var acc api.Accepted
	a.decode(t, &acc)
	if got, want := a.header.Get("Location"), "/v1/messages/"+acc.ID; got != want {
		t.Errorf("Location = %q, want %q", got, want)
	}
	if got := a.header.Get("Idempotent-Replayed"); got != "" {
		t.Errorf("first post has Idempotent-Replayed: %q", got)
	}
	if acc.Incident != incident || acc.Recipients != 2 || acc.Deliveries != 3 || acc.Severity != "critical" || acc.AcceptedBy != nodeName {
		t.Errorf("accepted = %+v, want incident %s, 2 recipients, 3 deliveries (2 email, 1 NATS), critical, by %s", acc, incident, nodeName)
	}
	if !slices.Equal(acc.Unreachable, []string{"park"}) {
		t.Errorf("unreachable = %q, want [park]: this node has no SMS provider", acc.Unreachable)
	}

	m := h.settled(t, acc.ID)
	if m.Text != koText || m.Author != botName || m.Incident != incident {
		t.Errorf("message = text %q author %q incident %q", m.Text, m.Author, m.Incident)
	}
	var ids []string
	for _, d := range m.Deliveries {
		ids = append(ids, d.ID)
		if d.Status != relay.StatusSent || d.Attempts != 1 || d.Node != nodeName || d.SentAt == nil {
			t.Errorf("delivery %s: status %s after %d attempts on %q (sent at %v, error %q), want sent after 1 on %s",
				d.ID, d.Status, d.Attempts, d.Node, d.SentAt, d.Error, nodeName)
		}
	}
	wantIDs := []string{acc.ID + ".email.kim", acc.ID + ".email.lee", acc.ID + ".nats"}
	sort.Strings(ids)
	if !slices.Equal(ids, wantIDs) {
		t.Errorf("deliveries = %q, want %q", ids, wantIDs)
	}
	if m.Summary[relay.StatusSent] != 3 || len(m.Summary) != 1 {
		t.Errorf("summary = %v, want 3 sent", m.Summary)
	}

	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	mails, err := h.sink.WaitMails(ctx, 2)
	if err != nil {
		t.Fatal(err)
	}
	if len(mails) != 2 {
		t.Fatalf("sink got %d mails, want 2 (one each for kim and lee)", len(mails))
	}
	byRcpt := map[string]mailsink.Mail{}
	for _, ml := range mails {
		if ml.ParseErr != nil {
			t.Errorf("mail to %v does not parse: %v", ml.Envelope.To, ml.ParseErr)
		}
		if !ml.TLS {
			t.Errorf("mail to %v arrived unencrypted", ml.Envelope.To)
		}
		byRcpt[strings.Join(ml.Envelope.To, ",")] = ml
	}
	for rcpt, subject := range map[string]string{
		"kim@example.com": "[긴급] " + incident + ": " + koText,
		"lee@example.com": "[CRITICAL] " + incident + ": " + koText,
	} {
		ml, ok := byRcpt[rcpt]
		if !ok {
			t.Errorf("no mail to %s; got %v", rcpt, slices.Collect(maps.Keys(byRcpt)))
			continue
		}
		if ml.Subject != subject {
			t.Errorf("subject to %s = %q, want %q", rcpt, ml.Subject, subject)
		}
		if !strings.HasPrefix(ml.Text, koText+"\n") {
			t.Errorf("text to %s does not start with %q:\n%s", rcpt, koText, ml.Text)
		}
		if ml.Header.Get("X-Relay-Message") != acc.ID {
			t.Errorf("mail to %s names message %q, want %s", rcpt, ml.Header.Get("X-Relay-Message"), acc.ID)
		}
	}

	msg, err := h.events.NextMsg(5 * time.Second)
	if err != nil {
		t.Fatalf("no NATS event: %v", err)
	}
	if want := relaynats.Subject(relaynats.DefaultSubjectPrefix, incident); msg.Subject != want {
		t.Errorf("NATS subject = %q, want %q", msg.Subject, want)
	}
	var ev relaynats.Event
	if err := json.Unmarshal(msg.Data, &ev); err != nil {
		t.Fatalf("NATS event: %v\n%s", err, msg.Data)
	}
	var people []string
	for _, r := range ev.Recipients {
		people = append(people, r.ID)
	}
	if ev.ID != acc.ID || ev.Text != koText || ev.Incident != incident || ev.Severity != relay.SeverityCritical ||
		ev.Author != botName || !slices.Equal(people, []string{"kim", "lee"}) || !slices.Equal(ev.Unreachable, []string{"park"}) {
		t.Errorf("NATS event = %+v", ev)
	}
	if n := h.pendingEvents(t); n != 0 {
		t.Errorf("%d more NATS events arrived, want one event per message", n)
	}

	// The incident's timeline tells the same story.
	a = h.get(t, viewerToken, "/v1/incidents/"+incident)
	if a.status != http.StatusOK {
		t.Fatalf("GET incident: %d %s", a.status, a.body)
	}
	var inc api.IncidentView
	a.decode(t, &inc)
	if inc.Messages != 1 || inc.OpenedBy != botName || inc.Severity != relay.SeverityCritical || len(inc.Timeline) != 1 {
		t.Fatalf("incident = %+v", inc)
	}
	if e := inc.Timeline[0]; e.Message != acc.ID || e.Text != koText || e.Summary[relay.StatusSent] != 3 {
		t.Errorf("timeline entry = %+v", e)
	}
	a = h.get(t, viewerToken, "/v1/incidents")
	var list struct {
		Incidents []relay.Incident `json:"incidents"`
	}
	a.decode(t, &list)
	if len(list.Incidents) != 1 || list.Incidents[0].ID != incident {
		t.Errorf("incidents = %+v, want only %s", list.Incidents, incident)
	}
	if n := len(h.sink.Mails()); n != 2 {
		t.Errorf("sink holds %d mails after settling, want 2", n)
	}
}

// TestChannelsRestrictDeliveries posts with channels: [email]; the NATS
// broadcast is left out.
func TestChannelsRestrictDeliveries(t *testing.T) {
	h := newHarness(t)
	acc := h.accept(t, adminToken, relay.Post{Incident: incident, Text: "복구 완료", To: []string{"person:kim"}, Channels: []string{relay.ChannelEmail}}, "")
	if acc.Deliveries != 1 || acc.Severity != string(relay.DefaultSeverity) {
		t.Errorf("accepted = %+v, want 1 delivery at severity %s", acc, relay.DefaultSeverity)
	}
	m := h.settled(t, acc.ID)
	if len(m.Deliveries) != 1 || m.Deliveries[0].Channel != relay.ChannelEmail || m.Deliveries[0].Status != relay.StatusSent {
		t.Errorf("deliveries = %+v, want one sent email", m.Deliveries)
	}
	if !slices.Equal(m.Channels, []string{relay.ChannelEmail}) {
		t.Errorf("channels = %q", m.Channels)
	}
	if n := h.pendingEvents(t); n != 0 {
		t.Errorf("NATS got %d events for an email-only message", n)
	}
}
