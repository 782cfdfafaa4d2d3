package node

import (
	"context"
	"fmt"

	"github.com/oob-relay/relay/relay"
	"github.com/oob-relay/relay/relay/cluster"
	"github.com/oob-relay/relay/relay/delivery"
)

// ChannelConsole names the web console as the way a person's reply,
// acknowledgement or answer came.
const ChannelConsole = "console"

// ReplyFromConsole posts a person's reply, typed in the web console, to
// an incident, with every rule of a reply by SMS or mail (held over the
// person's limit, repeats withheld); the text is a reply as written,
// never a command. id, when set, makes a retried form post one reply.
func (n *Node) ReplyFromConsole(ctx context.Context, person, incident, text, id string) (*relay.Answer, error) {
	roster, _, err := n.store.Roster()
	if err != nil {
		return nil, err
	}
	p, ok := roster.Person(person)
	if !ok {
		return nil, fmt.Errorf("%w: %q is not in the roster", relay.ErrUnknownSender, person)
	}
	if _, err := n.store.Incident(incident); err != nil {
		return nil, err
	}
	now := n.opts.Now().UTC()
	in := &relay.Inbound{Channel: ChannelConsole, Person: p.ID, Incident: incident, Text: relay.CleanText(text), ID: id, At: now}
	return n.takeReply(ctx, p, incident, in.Text, in, now)
}

// Members returns the cluster's members as this node's membership sees
// them (itself alone without one), each with the API URL it publishes:
// where a console page can continue when this node dies.
func (n *Node) Members() []cluster.Member {
	if ms := n.membership(); ms != nil {
		return ms.Members()
	}
	return []cluster.Member{{Name: n.opts.Name, State: "alive", Self: true, API: n.opts.PublicURL}}
}

// Circuits returns where each provider's circuit breaker stands on this
// node.
func (n *Node) Circuits() []delivery.Circuit { return n.engine.Circuits() }
