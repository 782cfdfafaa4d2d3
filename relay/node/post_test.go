package node_test

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"testing"
	"time"

	"github.com/oob-relay/relay/relay"
	"github.com/oob-relay/relay/relay/node"
)

// TestIdempotencyKeyScopedByWayAndAuthor: a key is an author's on one way
// in. A NATS bot that names itself after the admin, or another bot, cannot
// claim the admin's API key; each one's own retry is still a replay.
func TestIdempotencyKeyScopedByWayAndAuthor(t *testing.T) {
	n, _ := conversationNode(t)
	ctx := t.Context()
	const key = "deploy-42"
	post := func(text string) *relay.Post {
		return &relay.Post{Incident: "idc-fire", Text: text, To: []string{"group:ops"}, Severity: relay.SeverityCritical}
	}
	claim, err := n.Post(ctx, post("가짜 공지"), node.Author{Name: "ops-admin", Via: relay.ViaNATS}, key)
	if err != nil {
		t.Fatal(err)
	}
	admin, err := n.Post(ctx, post("서울 IDC 화재: 대피"), node.Author{Name: "ops-admin", Via: relay.ViaAPI, Commander: true}, key)
	if err != nil {
		t.Fatalf("the admin's post after a NATS post under the same name and key: %v", err)
	}
	bot, err := n.Post(ctx, post("다른 봇"), node.Author{Name: "oncall-bot", Via: relay.ViaNATS}, key)
	if err != nil {
		t.Fatalf("another bot's post with the same key: %v", err)
	}
	ids := map[string]bool{claim.Message.ID: true, admin.Message.ID: true, bot.Message.ID: true}
	if len(ids) != 3 || claim.Replayed || admin.Replayed || bot.Replayed {
		t.Fatalf("three authors or ways with one key got ids %v (replayed %v %v %v), want three new messages",
			ids, claim.Replayed, admin.Replayed, bot.Replayed)
	}
	if admin.Message.ID != relay.IdempotentMessageID(relay.ViaAPI, "ops-admin", key) {
		t.Errorf("admin's message id %s is not the one derived for the API", admin.Message.ID)
	}

	// Each one's own retry is the same message; another text is refused.
	again, err := n.Post(ctx, post("서울 IDC 화재: 대피"), node.Author{Name: "ops-admin", Via: relay.ViaAPI, Commander: true}, key)
	if err != nil || !again.Replayed || again.Message.ID != admin.Message.ID {
		t.Errorf("the admin's retry: %+v, %v; want a replay of %s", again, err, admin.Message.ID)
	}
	again, err = n.Post(ctx, post("다른 봇"), node.Author{Name: "oncall-bot", Via: relay.ViaNATS}, key)
	if err != nil || !again.Replayed || again.Message.ID != bot.Message.ID {
		t.Errorf("the bot's retry: %+v, %v; want a replay of %s", again, err, bot.Message.ID)
	}
	if _, err := n.Post(ctx, post("바뀐 내용"), node.Author{Name: "oncall-bot", Via: relay.ViaNATS}, key); !errors.Is(err, node.ErrKeyReused) {
		t.Errorf("the bot's key with another text: %v, want ErrKeyReused", err)
	}
}

// TestIdempotencyKeyClaimedBeforeScoping: a message stored under an id
// derived the old way (author and key alone, from before keys were scoped
// by way) stays readable and acknowledgeable, and no longer blocks the key
// for a new post.
func TestIdempotencyKeyClaimedBeforeScoping(t *testing.T) {
	n, _ := conversationNode(t)
	ctx := t.Context()
	const author, key = "ops-admin", "deploy-42"
	sum := sha256.Sum256([]byte(author + "\x00" + key))
	oldID := hex.EncodeToString(sum[:16])
	roster, err := n.Roster()
	if err != nil {
		t.Fatal(err)
	}
	old := &relay.Post{Incident: "idc-fire", Text: "예전 공지", To: []string{"person:kim"}, Severity: relay.SeverityCritical}
	m, err := relay.NewMessage(old, roster, relay.Plan{ID: oldID, Author: author, Node: "seoul-1", Now: time.Now().UTC(),
		Enabled: n.Channels(), Deadline: func(relay.Severity) time.Duration { return time.Minute }, IdempotencyKey: key})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := n.Store().Append(ctx, relay.Event{Message: m}); err != nil {
		t.Fatal(err)
	}

	acc, err := n.Post(ctx, &relay.Post{Incident: "idc-fire", Text: "새 공지", To: []string{"group:ops"}},
		node.Author{Name: author, Via: relay.ViaAPI}, key)
	if err != nil {
		t.Fatalf("post with a key an old-style id holds: %v", err)
	}
	if acc.Replayed || acc.Message.ID == oldID {
		t.Errorf("post got %s (replayed %v), want a new message", acc.Message.ID, acc.Replayed)
	}
	if got, err := n.Store().Message(oldID); err != nil || got.Text != "예전 공지" {
		t.Errorf("the old message: %+v, %v", got, err)
	}
	acked, err := n.AckIncident(ctx, "kim", "idc-fire", relay.ChannelNATS)
	if err != nil || len(acked) != 2 {
		t.Errorf("kim's ack: %v, %v; want both messages, the old one included", acked, err)
	}
}
