package node

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/oob-relay/relay/relay"
)

// Receive takes what a person sent back on a channel: a reply to post to
// their incident, an acknowledgement, or a carrier keyword. It works on
// any node; what it records is replicated like the rest.
//
// The sender is matched to a person by number or address (or was named by
// the channel, as a signed email reply address does). An unknown sender
// gets ErrUnknownSender, with a polite answer at most once per hour per
// address. A reply goes to the incident named by a "#incident-id" prefix,
// else the one whose reply code it starts with, else the person's most
// recent open incident; it reaches the incident's audience except its
// author. A retried inbound (same In.ID) posts once.
//
// Replies never feed each other (see takeReply): an automatic answer
// (In.Automatic, or a text relay.AutomaticText knows) and a repeat are
// recorded in the incident and sent to nobody; a person's replies over
// their limit are held and sent on in one summary. An automatic inbound
// is never answered and is no command; one that finds no incident is
// dropped without an error, so that no channel bounces it to a machine.
func (n *Node) Receive(ctx context.Context, in *relay.Inbound) (*relay.Answer, error) {
	in.Text = relay.CleanText(in.Text) // a person's answer is kept, its control characters are not
	in.Text = redactLinks(in.Text)     // nor a link of theirs it quotes or forwards
	now := n.opts.Now().UTC()
	if in.At.IsZero() {
		in.At = now
	}
	roster, err := n.Roster()
	if err != nil {
		return nil, err
	}
	auto := in.Automatic || relay.AutomaticText(in.Text)
	p, ok := sender(roster, in)
	if !ok {
		ans := &relay.Answer{}
		if !auto && n.answers.allow("unknown:"+in.From, time.Hour, now) {
			ans.Reply = answerText(relay.DefaultLang, answerUnknown)
		}
		return ans, relay.ErrUnknownSender
	}
	lang := p.LangOrDefault()
	cmd := relay.ParseCommand(in.Text)
	if in.Automatic {
		cmd = relay.Command{Kind: relay.CommandText, Text: cmd.Body, Body: cmd.Body}
	}
	if in.Incident != "" && cmd.Incident == "" {
		cmd.Incident = in.Incident
	}
	switch cmd.Kind {
	case relay.CommandStop, relay.CommandStart:
		return n.consent(ctx, p, in, cmd.Kind == relay.CommandStop, now)
	case relay.CommandHelp:
		return n.autoAnswer(&relay.Answer{}, p, lang, answerHelp, now), nil
	}
	open, err := n.openIncidents(p.ID, now)
	if err != nil {
		return nil, err
	}
	if !auto {
		if ans, ok, err := n.rollCallReply(ctx, p, in, open, now); ok || err != nil {
			return ans, err
		}
	}
	inc, err := n.pickIncident(p.ID, open, &cmd)
	if errors.Is(err, relay.ErrNoIncident) && auto {
		n.loops.dropped(in, p, "no incident", now)
		return &relay.Answer{}, nil
	}
	if errors.Is(err, relay.ErrNoIncident) {
		return n.autoAnswer(&relay.Answer{}, p, lang, answerNoIncident, now), err
	}
	if err != nil {
		return nil, err
	}
	if relay.IsDrillIncident(inc) && cmd.Kind != relay.CommandAck {
		// Any answer to a drill acknowledges it and goes to nobody: a
		// drill's audience is everyone, and an automatic answer is no
		// acknowledgement.
		if auto {
			n.loops.dropped(in, p, "drill", now)
			return &relay.Answer{}, nil
		}
		cmd.Kind = relay.CommandAck
	}
	if cmd.Kind == relay.CommandAck {
		acked, err := n.AckIncident(ctx, p.ID, inc, in.Channel)
		if err != nil {
			return nil, err
		}
		return n.autoAnswer(&relay.Answer{Incident: inc, Acked: acked}, p, lang, answerAcked, now, inc), nil
	}
	return n.takeReply(ctx, p, inc, cmd.Text, in, now)
}

// sender finds the person an inbound came from.
func sender(roster *relay.Roster, in *relay.Inbound) (*relay.Person, bool) {
	if in.Person != "" {
		return roster.Person(in.Person)
	}
	for i := range roster.People {
		p := &roster.People[i]
		switch in.Channel {
		case relay.ChannelSMS, relay.ChannelVoice:
			if p.Phone != "" && p.Phone == in.From {
				return p, true
			}
		case relay.ChannelEmail:
			if p.Email != "" && strings.EqualFold(p.Email, in.From) {
				return p, true
			}
		}
	}
	return nil, false
}

// openIncidents returns the person's incidents open for replies: those
// with a message to them within relay.ReplyWindow, most recent first.
func (n *Node) openIncidents(person string, now time.Time) ([]relay.Incident, error) {
	incs, err := n.store.Incidents()
	if err != nil {
		return nil, err
	}
	var out []relay.Incident
	for _, inc := range incs {
		if now.Sub(inc.LastMessageAt) > relay.ReplyWindow {
			continue
		}
		in, err := n.store.SentToOrBy(inc.ID, person)
		if err != nil {
			return nil, err
		}
		if in {
			out = append(out, inc)
		}
	}
	slices.SortFunc(out, func(a, b relay.Incident) int { return b.LastMessageAt.Compare(a.LastMessageAt) })
	return out, nil
}

// ReplyCode returns the person's reply code for an incident. Every SMS
// asks for one, so a fan-out reads the incidents once a second rather
// than once per SMS.
func (n *Node) ReplyCode(person, incident string) string {
	all, err := n.incidents.get(n.store.Incidents, n.opts.Now(), incident)
	if err != nil {
		return ""
	}
	return relay.ReplyCodes(person, all)[incident]
}

// incidentList keeps the incident list for a second, or until an
// incident it lacks is asked for.
type incidentList struct {
	mu   sync.Mutex
	at   time.Time
	list []relay.Incident
}

func (c *incidentList) get(read func() ([]relay.Incident, error), now time.Time, want string) ([]relay.Incident, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	fresh := now.Sub(c.at) < time.Second && !now.Before(c.at)
	if fresh && slices.ContainsFunc(c.list, func(inc relay.Incident) bool { return inc.ID == want }) {
		return c.list, nil
	}
	list, err := read()
	if err != nil {
		return nil, err
	}
	c.list, c.at = list, now
	return list, nil
}

// pickIncident chooses the incident a command is about, among the
// person's open ones.
func (n *Node) pickIncident(person string, open []relay.Incident, cmd *relay.Command) (string, error) {
	if cmd.Incident != "" {
		for _, inc := range open {
			if inc.ID == cmd.Incident {
				return inc.ID, nil
			}
		}
		return "", fmt.Errorf("%w: %q is not an open incident of yours", relay.ErrNoIncident, cmd.Incident)
	}
	if cmd.Code != "" {
		all, err := n.store.Incidents()
		if err != nil {
			return "", err
		}
		codes := relay.ReplyCodes(person, all)
		for _, inc := range open {
			if codes[inc.ID] == cmd.Code {
				return inc.ID, nil
			}
		}
		if cmd.Kind == relay.CommandAck {
			return "", fmt.Errorf("%w: no open incident has reply code %s", relay.ErrNoIncident, cmd.Code)
		}
		cmd.Code, cmd.Text = "", cmd.Body // an ordinary first word after all
	}
	if len(open) == 0 {
		return "", fmt.Errorf("%w: no open incident", relay.ErrNoIncident)
	}
	return open[0].ID, nil
}

// postReply posts a person's reply to the incident's audience (every
// target any of its messages msgs was addressed to), except them, at high
// priority or not.
func (n *Node) postReply(ctx context.Context, p *relay.Person, incident, text, key string, msgs []relay.Message,
	info *relay.ReplyInfo, high bool) (*relay.Message, error) {
	post := &relay.Post{Incident: incident, Text: replyText(p, text), To: audience(msgs), Severity: relay.SeverityWarning}
	acc, err := n.post(ctx, post, Author{Name: p.ID, Via: relay.ViaReply, Commander: high}, key, []string{p.ID}, info)
	if err != nil {
		var fe *relay.FieldError
		if errors.As(err, &fe) {
			return nil, fmt.Errorf("reply cannot be posted: %w", err)
		}
		return nil, err
	}
	return acc.Message, nil
}

// replyText is a reply's text as the incident sees it: the person's name,
// then what they wrote.
func replyText(p *relay.Person, text string) string { return cmp.Or(p.Name, p.ID) + ": " + text }

// audience lists every target the messages were addressed to, once each.
// A message posted to an escalation policy counts as the people it
// notified so far: a reply must not start the policy again.
func audience(msgs []relay.Message) []string {
	var to []string
	add := func(t string) {
		if !slices.Contains(to, t) {
			to = append(to, t)
		}
	}
	for i := range msgs {
		if msgs[i].Escalation != nil {
			for _, r := range msgs[i].Recipients {
				add(relay.TargetPersonPrefix + r.Person.ID)
			}
			continue
		}
		for _, t := range msgs[i].To {
			add(t)
		}
	}
	return to
}

// AckIncident records that person acknowledged every message of the
// incident addressed to them that they had not acknowledged yet, and
// returns those messages' ids. It reads no message whole (see
// store.Unacked): every answer to a roll-call of thousands comes here.
func (n *Node) AckIncident(ctx context.Context, person, incident, channel string) ([]string, error) {
	ids, err := n.store.Unacked(incident, person)
	if err != nil || len(ids) == 0 {
		return nil, err
	}
	if _, err := n.store.Append(ctx, ackEvents(ids, incident, person, channel, n.opts.Now().UTC())...); err != nil {
		return nil, err
	}
	return ids, nil
}

// ackEvents are person's acknowledgements of the messages ids of
// incident, come on channel at now.
func ackEvents(ids []string, incident, person, channel string, now time.Time) []relay.Event {
	evs := make([]relay.Event, len(ids))
	for i, id := range ids {
		evs[i] = relay.Event{Ack: &relay.Ack{Message: id, Incident: incident, Person: person, Channel: channel, At: now}}
	}
	return evs
}

// consent records a STOP or START and answers as carriers require.
func (n *Node) consent(ctx context.Context, p *relay.Person, in *relay.Inbound, stop bool, now time.Time) (*relay.Answer, error) {
	c := &relay.Consent{Person: p.ID, Channel: in.Channel, Address: in.From, Stopped: stop, At: now}
	if _, err := n.store.Append(ctx, relay.Event{Consent: c}); err != nil {
		return nil, err
	}
	what := answerStarted
	if stop {
		what = answerStopped
		n.log.Warn("a person asked to stop a channel; carriers may refuse it until they send START",
			"person", p.ID, "channel", in.Channel)
	}
	// Carriers require the confirmation, so it is not rate limited.
	return &relay.Answer{Reply: answerText(p.LangOrDefault(), what)}, nil
}

// autoAnswer sets ans.Reply unless the person had too many automatic
// answers lately: two relays, or a relay and an auto-responder, must not
// answer each other forever.
func (n *Node) autoAnswer(ans *relay.Answer, p *relay.Person, lang string, what answerKind, now time.Time, args ...any) *relay.Answer {
	if n.answers.allow("person:"+p.ID, time.Hour/answersPerHour, now) {
		ans.Reply = answerText(lang, what, args...)
	}
	return ans
}

// smsReplyCode gives an SMS its reply code when the node takes replies
// (it has a public URL for Twilio's webhooks).
func (n *Node) smsReplyCode(d *relay.Delivery) string {
	if d.Channel != relay.ChannelSMS || n.opts.PublicURL == "" {
		return ""
	}
	return n.ReplyCode(d.Person, d.Incident)
}
