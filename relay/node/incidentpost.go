package node

import (
	"context"
	"errors"
	"fmt"

	"github.com/oob-relay/relay/relay"
)

// incidentAudience is everyone an incident's messages were addressed to,
// as the posts named them, in the order first named.
func (n *Node) incidentAudience(incident string) ([]string, error) {
	msgs, err := n.store.IncidentMessages(incident)
	if err != nil {
		return nil, err
	}
	return audience(msgs), nil
}

// PostToIncident posts text by a bot to an incident's people: everyone
// its messages were addressed to so far, or, for an incident without
// messages, the audience open (which opens it). It returns an error
// wrapping relay.ErrNoIncident when the incident has no message and open
// is empty. With a key, the same post retried finds the first message,
// even if the incident's audience changed in between.
func (n *Node) PostToIncident(ctx context.Context, author Author, incident, text string, sev relay.Severity, open []string, key string) (*Accepted, error) {
	if key != "" {
		switch prev, err := n.store.Message(relay.IdempotentMessageID(author.Via, author.Name, key)); {
		case err == nil:
			peers := len(n.repl.Peers())
			return &Accepted{Message: prev, Replayed: true, Copies: 1 + peers, OnlyCopy: peers == 0}, nil
		case !errors.Is(err, relay.ErrNotFound):
			return nil, err
		}
	}
	to, err := n.incidentAudience(incident)
	if err != nil {
		return nil, err
	}
	if len(to) == 0 {
		to = open
	}
	if len(to) == 0 {
		return nil, fmt.Errorf("%w: incident %q has no message, so no audience", relay.ErrNoIncident, incident)
	}
	return n.Post(ctx, &relay.Post{Incident: incident, Text: text, To: to, Severity: sev}, author, key)
}
