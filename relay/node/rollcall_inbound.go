package node

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/oob-relay/relay/relay"
)

// rollCallReply takes an inbound text that answers an open roll-call:
// a digit alone, or with the SMS's reply code (relay.ParseRollCallAnswer;
// a mail counts by its first line). The roll-call is the latest open one,
// in the incident the reply code or the channel names, else in the
// person's most recent open incident that has one, that asked the person
// and offers the digit. An answer also acknowledges the incident, as ACK
// does: the person read the question. While such a roll-call is open, 1
// is an answer when the roll-call offers it, and acknowledges as before
// otherwise; ACK and 확인 only acknowledge. A digit no open roll-call
// offers is no answer, and an answer is never posted as a reply. It
// reports false when the text answers nothing.
func (n *Node) rollCallReply(ctx context.Context, p *relay.Person, in *relay.Inbound, open []relay.Incident, now time.Time) (*relay.Answer, bool, error) {
	digit, code, ok := relay.ParseRollCallAnswer(in.Text)
	if !ok || len(open) == 0 {
		return nil, false, nil
	}
	var codes map[string]string
	if code != "" {
		all, err := n.store.Incidents()
		if err != nil {
			return nil, false, err
		}
		codes = relay.ReplyCodes(p.ID, all)
	}
	for _, inc := range open {
		if in.Incident != "" && inc.ID != in.Incident {
			continue
		}
		if code != "" && codes[inc.ID] != code {
			continue
		}
		rcs, err := n.store.RollCalls(inc.ID)
		if err != nil {
			return nil, false, err
		}
		for i := len(rcs) - 1; i >= 0; i-- {
			rc := &rcs[i]
			if !rc.Open(now) {
				continue
			}
			if _, offered := rc.Option(digit); !offered {
				continue
			}
			aud, err := n.rollCallAudience(rc)
			if err != nil {
				return nil, false, err
			}
			if _, asked := aud.people[p.ID]; !asked {
				continue
			}
			return n.takeAnswer(ctx, p, in, rc, digit, now)
		}
	}
	return nil, false, nil
}

// takeAnswer records a person's answer that came on a channel, and
// acknowledges the incident for them.
func (n *Node) takeAnswer(ctx context.Context, p *relay.Person, in *relay.Inbound, rc *relay.RollCall, digit int, now time.Time) (*relay.Answer, bool, error) {
	a, acked, err := n.answer(ctx, rc, p.ID, digit, in.Channel, "", true)
	var fe *relay.FieldError
	switch {
	case errors.Is(err, ErrRollCallClosed) || errors.As(err, &fe):
		return nil, false, nil // it ended or changed meanwhile: not an answer after all
	case err != nil:
		return nil, true, err
	}
	o, _ := rc.Option(a.Digit)
	ans := &relay.Answer{Incident: rc.Incident, Acked: acked}
	return n.autoAnswer(ans, p, p.LangOrDefault(), answerRollCall, now, fmt.Sprintf("%d = %s", o.Digit, o.Label)), true, nil
}

// AnswerByDelivery records the key a person pressed in a call as their
// answer to the roll-call the call asked, if it asked one and offers
// that key. It reports whether it was an answer.
func (n *Node) AnswerByDelivery(ctx context.Context, deliveryID string, digit int) (bool, error) {
	d, err := n.store.Delivery(deliveryID)
	if err != nil {
		return false, err
	}
	rcs, err := n.store.RollCalls(d.Incident)
	if err != nil {
		return false, err
	}
	for i := range rcs {
		rc := &rcs[i]
		if !n.rollCallAsked(rc, d.MessageID) {
			continue
		}
		_, _, err := n.answer(ctx, rc, d.Person, digit, relay.ChannelVoice, "", false)
		var fe *relay.FieldError
		switch {
		case errors.Is(err, ErrRollCallClosed) || errors.As(err, &fe):
			return false, nil
		case err != nil:
			return false, err
		}
		return true, nil
	}
	return false, nil
}

// rollCallAsked reports whether message msgID is rc's question or one of
// its re-pings.
func (n *Node) rollCallAsked(rc *relay.RollCall, msgID string) bool {
	if msgID == rc.Message {
		return true
	}
	aud, err := n.rollCallAudience(rc)
	if err != nil {
		return false
	}
	msgs, err := n.rollCallMessages(rc, aud)
	return err == nil && slices.Contains(msgs, msgID)
}

// AnswerIncident records a person's answer to the latest open roll-call
// of an incident that asked them and offers the digit, as a NATS bot
// gives it; by names the bot. With no such roll-call it refuses with a
// *relay.FieldError for "answer" and records nothing.
func (n *Node) AnswerIncident(ctx context.Context, person, incident string, digit int, channel, by string) (*relay.RollCallAnswer, error) {
	rcs, err := n.store.RollCalls(incident)
	if err != nil {
		return nil, err
	}
	now := n.opts.Now()
	for i := len(rcs) - 1; i >= 0; i-- {
		rc := &rcs[i]
		if _, offered := rc.Option(digit); !offered || !rc.Open(now) {
			continue
		}
		aud, err := n.rollCallAudience(rc)
		if err != nil {
			return nil, err
		}
		if _, asked := aud.people[person]; asked {
			a, _, err := n.answer(ctx, rc, person, digit, channel, by, false)
			return a, err
		}
	}
	return nil, &relay.FieldError{Field: "answer", Message: fmt.Sprintf("no open roll-call of incident %q asked %q with option %d", incident, person, digit)}
}
