package node_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/oob-relay/relay/internal/testkit"
	"github.com/oob-relay/relay/relay"
	"github.com/oob-relay/relay/relay/delivery"
	"github.com/oob-relay/relay/relay/node"
)

// TestReplyTextIsCleanedNotRefused sends replies by SMS and by mail that
// carry terminal escapes, bidirectional overrides, CR LF line ends and
// invalid UTF-8: each is posted, without those characters, so that no
// one's answer is lost; Korean and emoji arrive byte for byte.
func TestReplyTextIsCleanedNotRefused(t *testing.T) {
	n, _ := conversationNode(t)
	ctx := t.Context()
	if _, err := n.Post(ctx, &relay.Post{Incident: "idc-fire", Text: "서울 IDC 화재", To: []string{"group:ops"}}, node.Author{Name: "bot"}, ""); err != nil {
		t.Fatal(err)
	}
	for i, c := range []struct {
		channel, from, text, want string
	}{
		{relay.ChannelSMS, "+821011110001", "판교 도착 👍🏽\x1b[2J\x1b[H 전원 차단", "김민수: 판교 도착 👍🏽[2J[H 전원 차단"},
		{relay.ChannelSMS, "+821011110002", "도착\u202e\u2066 했습니다\r\n👨‍👩‍👧", "이서연: 도착 했습니다\n👨‍👩‍👧"},
		{relay.ChannelEmail, "lee@example.com", "메일 답장\r\n둘째 줄\x00\x7f\u0085끝\xff", "이서연: 메일 답장\n둘째 줄\n끝\ufffd"},
	} {
		ans, err := n.Receive(ctx, &relay.Inbound{Channel: c.channel, From: c.from, Text: c.text, ID: fmt.Sprintf("in-%d", i)})
		if err != nil {
			t.Fatalf("%s reply %q refused: %v", c.channel, c.text, err)
		}
		if ans.Message == nil || ans.Message.Text != c.want {
			t.Fatalf("%s reply %q posted as %+v, want %q", c.channel, c.text, ans.Message, c.want)
		}
	}
}

// TestPostCapsAndDedupesTheAudience checks the node's cap on a post's
// audience targets (the default and a configured one), that repeats are
// stored once, and that a reply, whose audience is every target of its
// incident, is not held to the cap.
func TestPostCapsAndDedupesTheAudience(t *testing.T) {
	ctx := t.Context()
	open := func(maxTo int) *node.Node {
		n, err := node.Open(node.Options{
			Name: "seoul-1", DataDir: t.TempDir(), MaxTo: maxTo, Roster: &relay.Roster{People: []relay.Person{
				{ID: "kim", Name: "김민수", Phone: "+821011110001"}, {ID: "lee", Phone: "+821011110002"}, {ID: "park", Phone: "+821011110003"}},
				Groups: []relay.Group{{ID: "ops", Members: []string{"kim", "lee"}}}},
			Providers: []delivery.Provider{{Name: "sms", Channel: relay.ChannelSMS, Sender: &testkit.Sender{}}},
			Deadline:  func(relay.Severity) time.Duration { return time.Minute },
		})
		if err != nil {
			t.Fatal(err)
		}
		if err := n.Start(ctx); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { n.Close(context.Background()) })
		return n
	}

	n := open(0)
	to := make([]string, 0, relay.DefaultMaxTo+1)
	for len(to) < relay.DefaultMaxTo-1 {
		to = append(to, fmt.Sprintf("person:ghost-%d", len(to)))
	}
	to = append(to, "group:ops", "person:kim")
	_, err := n.Post(ctx, &relay.Post{Incident: "x", Text: "t", To: to}, node.Author{Name: "bot"}, "")
	var fe *relay.FieldError
	if !errors.As(err, &fe) || fe.Field != "to" || fe.Message != "names 1001 audience targets; the limit is 1000 (a group counts as one target: name a group rather than its people)" {
		t.Fatalf("1,001 targets: %v", err)
	}
	if incs, _ := n.Store().Incidents(); len(incs) != 0 {
		t.Fatalf("a refused post opened %v", incs)
	}

	acc, err := n.Post(ctx, &relay.Post{Incident: "x", Text: "t", To: []string{"group:ops", "person:kim", "group:ops", "person:kim"}}, node.Author{Name: "bot"}, "")
	if err != nil {
		t.Fatal(err)
	}
	stored, err := n.Store().Message(acc.Message.ID)
	if err != nil || !slices.Equal(stored.To, []string{"group:ops", "person:kim"}) {
		t.Fatalf("stored to %v (err %v), want each target once", stored.To, err)
	}

	small := open(2)
	if _, err := small.Post(ctx, &relay.Post{Incident: "y", Text: "t", To: []string{"person:kim", "person:lee", "person:park"}}, node.Author{Name: "bot"}, ""); !errors.As(err, &fe) || fe.Message != "names 3 audience targets; the limit is 2 (a group counts as one target: name a group rather than its people)" {
		t.Fatalf("3 targets with a limit of 2: %v", err)
	}
	for _, to := range [][]string{{"person:kim", "person:lee"}, {"group:ops", "person:park"}} {
		if _, err := small.Post(ctx, &relay.Post{Incident: "y", Text: "t", To: to}, node.Author{Name: "bot"}, ""); err != nil {
			t.Fatal(err)
		}
	}
	ans, err := small.Receive(ctx, &relay.Inbound{Channel: relay.ChannelSMS, From: "+821011110001", Text: "판교 도착", ID: "r-1"})
	if err != nil || ans.Message == nil || len(ans.Message.To) != 4 {
		t.Fatalf("a reply to an incident of 4 targets with a limit of 2: %+v, %v", ans, err)
	}
}
