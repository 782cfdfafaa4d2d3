package node_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/oob-relay/relay/internal/testkit"
	"github.com/oob-relay/relay/relay"
	"github.com/oob-relay/relay/relay/delivery"
	"github.com/oob-relay/relay/relay/node"
)

func conversationNode(t *testing.T) (*node.Node, *testkit.Sender) {
	t.Helper()
	rec := &testkit.Sender{ProviderID: func(out *relay.Outgoing) string { return "p-" + out.DeliveryID }}
	roster := &relay.Roster{
		People: []relay.Person{
			{ID: "kim", Name: "김민수", Phone: "+821011110001", Email: "kim@example.com"},
			{ID: "lee", Name: "이서연", Phone: "+821011110002", Email: "lee@example.com"},
			{ID: "park", Name: "박지훈", Phone: "+821011110003", Email: "park@example.com", Lang: "en"},
		},
		Groups: []relay.Group{{ID: "ops", Members: []string{"kim", "lee", "park"}}},
	}
	n, err := node.Open(node.Options{
		Name: "seoul-1", DataDir: t.TempDir(), Roster: roster, PublicURL: "https://relay.example.com",
		Providers: []delivery.Provider{{Name: "sms", Channel: relay.ChannelSMS, Sender: rec}},
		Deadline:  func(relay.Severity) time.Duration { return time.Minute },
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := n.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { n.Close(context.Background()) })
	return n, rec
}

// received collects what the sender got for message id until it has
// want sends, or fails.
func received(t *testing.T, rec *testkit.Sender, msgID string, want int) map[string]*relay.Outgoing {
	t.Helper()
	var got map[string]*relay.Outgoing
	testkit.EventuallyNil(t, 10*time.Second, func() error {
		got = map[string]*relay.Outgoing{}
		for _, out := range rec.Sent() {
			if out.Message.ID == msgID {
				got[out.Person.ID] = &out
			}
		}
		if len(got) < want {
			return fmt.Errorf("message %s reached %d people, want %d", msgID, len(got), want)
		}
		return nil
	})
	return got
}

func TestReplyBySMSReachesTheIncidentExceptItsAuthor(t *testing.T) {
	n, rec := conversationNode(t)
	ctx := t.Context()
	acc, err := n.Post(ctx, &relay.Post{Incident: "idc-fire", Text: "서울 IDC 화재", To: []string{"group:ops"},
		Severity: relay.SeverityCritical}, node.Author{Name: "bot"}, "")
	if err != nil {
		t.Fatal(err)
	}
	first := received(t, rec, acc.Message.ID, 3)
	code := first["kim"].ReplyCode
	if !relay.LooksLikeReplyCode(code) || code != n.ReplyCode("kim", "idc-fire") {
		t.Fatalf("kim's SMS carries reply code %q, want the node's %q", code, n.ReplyCode("kim", "idc-fire"))
	}

	in := &relay.Inbound{Channel: relay.ChannelSMS, From: "+821011110001", Text: code + " 판교 도착, 전원 차단 확인", ID: "SM-1"}
	ans, err := n.Receive(ctx, in)
	if err != nil {
		t.Fatal(err)
	}
	if ans.Incident != "idc-fire" || ans.Message == nil {
		t.Fatalf("answer %+v, want a message in idc-fire", ans)
	}
	if ans.Message.Text != "김민수: 판교 도착, 전원 차단 확인" || ans.Message.Author != "kim" {
		t.Fatalf("reply posted as %q by %s", ans.Message.Text, ans.Message.Author)
	}
	got := received(t, rec, ans.Message.ID, 2)
	if got["kim"] != nil || got["lee"] == nil || got["park"] == nil {
		t.Fatalf("the reply reached %v; want lee and park, not its author", keys(got))
	}
	// Twilio retries a webhook it thinks failed: the same SMS posts once.
	again, err := n.Receive(ctx, &relay.Inbound{Channel: relay.ChannelSMS, From: "+821011110001", Text: in.Text, ID: "SM-1"})
	if err != nil || again.Message.ID != ans.Message.ID {
		t.Fatalf("a retried SMS gave message %v (err %v), want %s again", again.Message, err, ans.Message.ID)
	}
	msgs, err := n.Store().IncidentMessages("idc-fire")
	if err != nil || len(msgs) != 2 {
		t.Fatalf("incident holds %d messages (err %v), want 2", len(msgs), err)
	}
}

func TestAckBySMSAcknowledgesTheIncident(t *testing.T) {
	n, rec := conversationNode(t)
	ctx := t.Context()
	var ids []string
	for _, text := range []string{"서울 IDC 화재", "3층 출입 통제"} {
		acc, err := n.Post(ctx, &relay.Post{Incident: "idc-fire", Text: text, To: []string{"group:ops"}}, node.Author{Name: "bot"}, "")
		if err != nil {
			t.Fatal(err)
		}
		received(t, rec, acc.Message.ID, 3)
		ids = append(ids, acc.Message.ID)
	}
	ans, err := n.Receive(ctx, &relay.Inbound{Channel: relay.ChannelSMS, From: "+821011110002", Text: "1", ID: "SM-2"})
	if err != nil {
		t.Fatal(err)
	}
	if len(ans.Acked) != 2 || !strings.Contains(ans.Reply, "확인했습니다: idc-fire") {
		t.Fatalf("answer %+v, want both messages acknowledged and a Korean confirmation", ans)
	}
	for _, id := range ids {
		if ok, err := n.Store().Acked(id, "lee"); err != nil || !ok {
			t.Fatalf("message %s not acknowledged by lee (err %v)", id, err)
		}
		if ok, _ := n.Store().Acked(id, "kim"); ok {
			t.Fatalf("kim acknowledged %s without answering", id)
		}
	}
	// An ACK naming a code of no open incident is refused, in English for
	// park.
	ans, err = n.Receive(ctx, &relay.Inbound{Channel: relay.ChannelSMS, From: "+821011110003", Text: "ACK ZZ99"})
	if !errors.Is(err, relay.ErrNoIncident) || !strings.HasPrefix(ans.Reply, "No open incident") {
		t.Fatalf("ACK with an unknown code: answer %+v, err %v", ans, err)
	}
}

func TestUnknownSenderGetsOneAnswerAnHourAndPostsNothing(t *testing.T) {
	n, _ := conversationNode(t)
	ctx := t.Context()
	if _, err := n.Post(ctx, &relay.Post{Incident: "idc-fire", Text: "화재", To: []string{"group:ops"}}, node.Author{Name: "bot"}, ""); err != nil {
		t.Fatal(err)
	}
	in := &relay.Inbound{Channel: relay.ChannelSMS, From: "+821099999999", Text: "who is this?"}
	ans, err := n.Receive(ctx, in)
	if !errors.Is(err, relay.ErrUnknownSender) || ans.Reply == "" {
		t.Fatalf("first text from an unknown number: answer %+v, err %v; want a polite answer", ans, err)
	}
	ans, err = n.Receive(ctx, in)
	if !errors.Is(err, relay.ErrUnknownSender) || ans.Reply != "" {
		t.Fatalf("second text within the hour: answer %q, err %v; want no answer", ans.Reply, err)
	}
	msgs, _ := n.Store().IncidentMessages("idc-fire")
	if len(msgs) != 1 {
		t.Fatalf("incident holds %d messages, want the bot's only", len(msgs))
	}
}

func TestStopIsRecordedAndStartUndoesIt(t *testing.T) {
	n, _ := conversationNode(t)
	ctx := t.Context()
	ans, err := n.Receive(ctx, &relay.Inbound{Channel: relay.ChannelSMS, From: "+821011110001", Text: "STOP"})
	if err != nil || !strings.Contains(ans.Reply, "중지") {
		t.Fatalf("STOP: answer %+v, err %v", ans, err)
	}
	stopped, err := n.Store().StoppedChannels()
	if err != nil || len(stopped) != 1 || stopped[0].Person != "kim" || stopped[0].Channel != relay.ChannelSMS {
		t.Fatalf("stopped channels %+v (err %v), want kim's SMS", stopped, err)
	}
	if _, err := n.Receive(ctx, &relay.Inbound{Channel: relay.ChannelSMS, From: "+821011110001", Text: "start"}); err != nil {
		t.Fatal(err)
	}
	if stopped, _ := n.Store().StoppedChannels(); len(stopped) != 0 {
		t.Fatalf("after START, stopped channels %+v", stopped)
	}
}

func keys[V any](m map[string]V) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}
