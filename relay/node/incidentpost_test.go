package node_test

import (
	"errors"
	"slices"
	"testing"

	"github.com/oob-relay/relay/relay"
	"github.com/oob-relay/relay/relay/node"
)

func TestPostToIncident(t *testing.T) {
	n, rec := conversationNode(t)
	ctx := t.Context()
	bot := node.Author{Name: "mail-monitor"}
	// An incident with no message and no audience to open it with.
	if _, err := n.PostToIncident(ctx, bot, "disk-full", "disk /var at 95%", "", nil, ""); !errors.Is(err, relay.ErrNoIncident) {
		t.Fatalf("post to an incident without messages or audience: %v, want ErrNoIncident", err)
	}
	// Opening one with the bot's audience.
	acc, err := n.PostToIncident(ctx, bot, "disk-full", "disk /var at 95%", relay.SeverityCritical, []string{"person:kim", "person:lee"}, "k1")
	if err != nil {
		t.Fatal(err)
	}
	received(t, rec, acc.Message.ID, 2)
	if m := acc.Message; m.Author != "mail-monitor" || m.Severity != relay.SeverityCritical || !slices.Equal(m.To, []string{"person:kim", "person:lee"}) {
		t.Fatalf("message by %q, %s, to %v", m.Author, m.Severity, m.To)
	}
	// A later post goes to the incident's audience, not the one given.
	next, err := n.PostToIncident(ctx, bot, "disk-full", "disk /var at 99%", "", []string{"group:ops"}, "k2")
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(next.Message.To, []string{"person:kim", "person:lee"}) {
		t.Fatalf("second post to %v, want the incident's audience", next.Message.To)
	}
	// The same post retried is the first message.
	again, err := n.PostToIncident(ctx, bot, "disk-full", "disk /var at 99%", "", []string{"group:ops"}, "k2")
	if err != nil || !again.Replayed || again.Message.ID != next.Message.ID {
		t.Fatalf("retry: %+v, %v; want a replay of %s", again, err, next.Message.ID)
	}
}
