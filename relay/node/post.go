package node

import (
	"context"
	"errors"
	"hash/fnv"

	"github.com/oklog/ulid/v2"

	"github.com/oob-relay/relay/relay"
)

// Author is who makes a post: an API token's name, a NATS bot or a
// person.
type Author struct {
	Name string
	// Via is the way the post came, one of relay's Via constants. With
	// Name it scopes an idempotency key, so that a name on one way cannot
	// claim the keys of the same name on another.
	Via string
	// Commander marks an incident commander (an admin): their messages
	// go ahead of large broadcasts in every channel's queue.
	Commander bool
}

// ErrKeyReused is returned when an idempotency key comes back with a
// different request than the one it first came with.
var ErrKeyReused = errors.New("idempotency key was already used with a different request")

// Accepted is the answer to a post.
type Accepted struct {
	Message *relay.Message
	// Replayed is true when an idempotency key found an earlier message.
	Replayed bool
	// Copies counts the nodes that held the message on disk when Post
	// returned, this one included. For a replay, which waits for nothing,
	// it counts this node and its live peers: the message was copied when
	// it was first accepted, or is copied by anti-entropy.
	Copies int
	// OnlyCopy is true when no peer held the message yet: no peer was
	// alive, or none answered within CopyTimeout.
	OnlyCopy bool
}

// Post validates p, resolves its audience against the current roster and
// returns once the message is durably stored; its deliveries are then
// queued. Validation problems, among them more audience targets than
// Options.MaxTo, are *relay.FieldError values joined with
// errors.Join. With an idempotency key, a post that repeats an earlier one
// by the same author on the same way returns the earlier message, and a
// different request under the same key gets ErrKeyReused; the same key
// from another author, or from the same name on another way, is another
// message.
func (n *Node) Post(ctx context.Context, p *relay.Post, author Author, key string) (*Accepted, error) {
	if err := p.CheckTo(n.opts.MaxTo); err != nil {
		return nil, errors.Join(p.Validate(), err)
	}
	if relay.IsDrillIncident(p.Incident) {
		return nil, errors.Join(p.Validate(), &relay.FieldError{Field: "incident",
			Message: "incidents named " + relay.DrillIncidentPrefix + "… are drills'; only a drill posts to them"})
	}
	return n.post(ctx, p, author, key, nil, nil)
}

// post is Post, leaving the people in exclude out of the audience; reply,
// when set, is what the message made from a person's reply carries.
func (n *Node) post(ctx context.Context, p *relay.Post, author Author, key string, exclude []string, reply *relay.ReplyInfo) (*Accepted, error) {
	return n.postMarked(ctx, p, author, key, exclude, func(m *relay.Message) { m.Reply = reply })
}

// postMarked is post, with mark setting what the message carries beside
// the post (a reply's details, the roll-call it asks) before it is
// stored.
func (n *Node) postMarked(ctx context.Context, p *relay.Post, author Author, key string, exclude []string, mark func(*relay.Message)) (*Accepted, error) {
	if err := p.Validate(); err != nil {
		return nil, err
	}
	if len(key) > relay.MaxIdempotencyKey {
		return nil, &relay.FieldError{Field: "Idempotency-Key", Message: "is longer than 255 characters"}
	}
	id := ""
	if key != "" {
		id = relay.IdempotentMessageID(author.Via, author.Name, key)
		mu := &n.keyed[stripe(id)]
		mu.Lock()
		defer mu.Unlock()
		switch prev, err := n.store.Message(id); {
		case err == nil && prev.RequestHash == p.Hash():
			peers := len(n.repl.Peers())
			return &Accepted{Message: prev, Replayed: true, Copies: 1 + peers, OnlyCopy: peers == 0}, nil
		case err == nil:
			return nil, ErrKeyReused
		case !errors.Is(err, relay.ErrNotFound):
			return nil, err
		}
	} else {
		id = ulid.Make().String()
	}
	m, err := n.newMessage(p, author, id, key, exclude)
	if err != nil {
		return nil, err
	}
	mark(m)
	evs, err := n.store.Append(ctx, relay.Event{Message: m})
	if err != nil {
		return nil, err
	}
	copies := n.waitCopies(ctx, evs[0].Seq)
	return &Accepted{Message: m, Copies: 1 + copies, OnlyCopy: copies == 0}, nil
}

// newMessage resolves a valid post's audience against the current roster
// and returns the message it makes, with the given id.
func (n *Node) newMessage(p *relay.Post, author Author, id, key string, exclude []string) (*relay.Message, error) {
	roster, err := n.Roster()
	if err != nil {
		return nil, err
	}
	if namesSchedule(p.To) || namesEscalation(p.To) {
		if roster, err = n.OnCallRoster(); err != nil {
			return nil, err
		}
	}
	prio := relay.PriorityNormal
	if author.Commander {
		prio = relay.PriorityHigh
	}
	return relay.NewMessage(p, roster, relay.Plan{
		ID:             id,
		Author:         author.Name,
		Node:           n.opts.Name,
		Now:            n.opts.Now().UTC(),
		Enabled:        n.Channels(),
		Deadline:       n.opts.Deadline,
		Policies:       n.opts.Policies,
		Priority:       prio,
		IdempotencyKey: key,
		Exclude:        exclude,

		EscalationSpeedup: n.opts.EscalationSpeedup,
	})
}

// waitCopies waits, bounded by CopyTimeout, until Options.Copies peers hold
// this node's event seq, and returns how many do. With no live peer it
// returns 0 at once: a lone node still accepts.
func (n *Node) waitCopies(ctx context.Context, seq uint64) int {
	ctx, cancel := context.WithTimeout(ctx, n.opts.CopyTimeout)
	defer cancel()
	copies, err := n.repl.WaitCopies(ctx, seq, n.opts.Copies)
	if err != nil && copies < n.opts.Copies {
		n.log.Warn("message accepted with fewer peer copies than asked", "copies", copies, "want", n.opts.Copies,
			"waited", n.opts.CopyTimeout)
	}
	return copies
}

func stripe(id string) int {
	h := fnv.New32a()
	h.Write([]byte(id))
	return int(h.Sum32() % 64)
}
