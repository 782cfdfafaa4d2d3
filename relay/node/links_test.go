package node_test

import (
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/oob-relay/relay/channels/email"
	"github.com/oob-relay/relay/channels/email/mailsink"
	"github.com/oob-relay/relay/internal/testkit"
	"github.com/oob-relay/relay/relay"
	"github.com/oob-relay/relay/relay/delivery"
	"github.com/oob-relay/relay/relay/node"
	"github.com/oob-relay/relay/relay/session"
)

var linkLine = regexp.MustCompile(`(https?://\S+)/l/([A-Za-z0-9_.-]+)`)

// checkLink reads the personal link in text: it must open the incident
// room for person on n, under n's public URL.
func checkLink(t *testing.T, n *node.Node, base, text, person, incident string) {
	t.Helper()
	m := linkLine.FindStringSubmatch(text)
	if m == nil || m[1] != base {
		t.Fatalf("no link under %s in:\n%s", base, text)
	}
	c, err := n.Tokens().Check(session.KindLink, m[2])
	if err != nil || c.Person != person || c.Incident != incident || c.ExpiresAt().Sub(c.IssuedAt()) != node.DefaultLinkTTL {
		t.Errorf("link claims %+v, %v; want %s's link to %s for %s", c, err, person, incident, node.DefaultLinkTTL)
	}
}

// The SMS the Twilio emulator receives for a message carries the
// reader's link to the incident room.
func TestSMSCarriesPersonalLink(t *testing.T) {
	p := rigPerson(1, relay.ChannelSMS)
	r := startRig(t, rigOptions{Accounts: 1, People: []relay.Person{p}})
	msg := r.post(t.Context(), "서버실 화재", relay.ChannelSMS, p.ID)
	var body string
	testkit.Eventually(t, 10*time.Second, "the SMS at the emulator", func() bool {
		for _, m := range r.a().em.Messages() {
			if strings.Contains(m.Body, "서버실 화재") {
				body = m.Body
				return true
			}
		}
		return false
	})
	base := linkLine.FindStringSubmatch(body)
	if base == nil {
		t.Fatalf("no link in the SMS:\n%s", body)
	}
	checkLink(t, r.node, base[1], body, p.ID, msg.Incident)
	if !strings.HasPrefix(base[1], "http://127.0.0.1:") {
		t.Errorf("the link is under %s, not the node's public URL", base[1])
	}
}

// The mail the sink receives carries the reader's link; with links off
// (console.links: false) neither SMS nor mail carries one.
func TestMailCarriesPersonalLinkUnlessOff(t *testing.T) {
	for _, off := range []bool{false, true} {
		sink, err := mailsink.Start(mailsink.Options{})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { sink.Close() })
		snd, err := email.New(email.Config{Address: sink.Addr(), TLS: email.TLSNone, From: "relay@example.com"}, email.Options{})
		if err != nil {
			t.Fatal(err)
		}
		sms := &testkit.Sender{}
		m := startMemberWith(t, "links", "", nil, node.Options{
			PublicURL: "https://relay.example.com", Console: node.Console{NoLinks: off},
			Roster:   &relay.Roster{People: []relay.Person{{ID: "kim", Phone: "+821012345678", Email: "kim@example.com"}}},
			Deadline: func(relay.Severity) time.Duration { return time.Hour },
			Providers: []delivery.Provider{{Name: "mail", Channel: relay.ChannelEmail, Sender: snd},
				{Name: "sms", Channel: relay.ChannelSMS, Sender: sms}},
		})
		acc, err := m.n.Post(t.Context(), &relay.Post{Incident: "db-fire", Text: "2층 화재", To: []string{"person:kim"},
			Severity: relay.SeverityCritical}, node.Author{Name: "ops"}, "")
		if err != nil {
			t.Fatal(err)
		}
		mails, err := sink.WaitMails(t.Context(), 1)
		if err != nil {
			t.Fatal(err)
		}
		testkit.Eventually(t, 10*time.Second, "the SMS", func() bool { return sms.Count() == 1 })
		if off {
			if linkLine.MatchString(mails[0].Text) || sms.Sent()[0].Link != "" {
				t.Errorf("links off, yet the mail or SMS has one:\n%s", mails[0].Text)
			}
			continue
		}
		checkLink(t, m.n, "https://relay.example.com", mails[0].Text, "kim", acc.Message.Incident)
		if !strings.Contains(mails[0].HTML, `href="https://relay.example.com/l/`) {
			t.Errorf("the mail's html has no link:\n%s", mails[0].HTML)
		}
		checkLink(t, m.n, "https://relay.example.com", sms.Sent()[0].Link, "kim", acc.Message.Incident)
		m.stop()
	}
}

// A reply that quotes or forwards its author's link does not hand it to
// the incident: the token is removed from the text.
func TestReplyLosesQuotedLink(t *testing.T) {
	n, _ := conversationNode(t)
	ctx := t.Context()
	if _, err := n.Post(ctx, &relay.Post{Incident: "idc-fire", Text: "서울 IDC 화재", To: []string{"group:ops"},
		Severity: relay.SeverityCritical}, node.Author{Name: "bot"}, ""); err != nil {
		t.Fatal(err)
	}
	link := n.PersonalLink("kim", "idc-fire")
	ans, err := n.Receive(ctx, &relay.Inbound{Channel: relay.ChannelEmail, From: "kim@example.com", Incident: "idc-fire",
		Text: "확인했습니다\n---------- Forwarded message ---------\n" + link, ID: "mail-1"})
	if err != nil || ans.Message == nil {
		t.Fatalf("reply: %+v, %v", ans, err)
	}
	_, token, _ := strings.Cut(link, "/l/")
	if strings.Contains(ans.Message.Text, token) || !strings.Contains(ans.Message.Text, "https://relay.example.com/l/…") {
		t.Errorf("reply posted as %q", ans.Message.Text)
	}
}
