package node

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/oob-relay/relay/relay"
)

// Receipt is what a provider reported about a delivery after the attempt:
// arrival, or a failure the carrier saw.
type Receipt struct {
	// ProviderID is the provider's id of the attempt the receipt is for.
	ProviderID string
	// Status is delivered or failed.
	Status relay.Status
	Reason relay.Reason
	Code   string
	Error  string
	// Temporary marks a failure another attempt may well overcome: a
	// busy or unanswered call. The delivery is reopened for another
	// round while Options.Calls allows.
	Temporary bool
}

// ErrStaleReceipt is returned for a receipt about an attempt other than
// the delivery's latest: it is true but no longer news.
var ErrStaleReceipt = errors.New("receipt is for an earlier attempt")

// RecordReceipt records a provider's receipt for a delivery. The change
// keeps the delivery's provider details, so the state shows who carried it.
func (n *Node) RecordReceipt(ctx context.Context, deliveryID string, r Receipt) (*relay.Delivery, error) {
	if r.Status != relay.StatusDelivered && r.Status != relay.StatusFailed {
		return nil, fmt.Errorf("node: a receipt is delivered or failed, not %q", r.Status)
	}
	d, err := n.store.Delivery(deliveryID)
	if err != nil {
		return nil, err
	}
	// A receipt can outrun the record of its attempt's result, which is
	// written just after the attempt: while the delivery is still sending
	// with no provider id, the receipt is for the attempt under way.
	early := d.Status == relay.StatusSending && d.ProviderID == "" && r.ProviderID != ""
	if d.ProviderID != r.ProviderID && !early {
		return d, ErrStaleReceipt
	}
	now := n.opts.Now().UTC()
	c := relay.DeliveryChange{
		ID: d.ID, Status: r.Status, Round: d.Round, Attempt: d.Attempts, Provider: d.Provider, ProviderID: r.ProviderID,
		Segments: d.Segments, Error: r.Error, Reason: r.Reason, Code: r.Code, Owner: d.Owner, At: now,
	}
	if n.reopens(d, r, now) {
		c.Status, c.Round, c.NextAt = relay.StatusPending, d.Round+1, now.Add(n.opts.Calls.RetryAfter)
	}
	if _, err := n.store.Append(ctx, relay.Event{Deliveries: []relay.DeliveryChange{c}}); err != nil {
		return nil, err
	}
	return n.store.Delivery(deliveryID)
}

// Acknowledge records that the person of a delivery acknowledged its
// message on a channel.
func (n *Node) Acknowledge(ctx context.Context, deliveryID, channel string) (*relay.Ack, error) {
	d, err := n.store.Delivery(deliveryID)
	if err != nil {
		return nil, err
	}
	if d.Person == "" {
		return nil, fmt.Errorf("node: delivery %s is a broadcast; nobody can acknowledge it", deliveryID)
	}
	ack := &relay.Ack{Message: d.MessageID, Incident: d.Incident, Person: d.Person, Channel: channel,
		Delivery: d.ID, At: n.opts.Now().UTC()}
	if _, err := n.store.Append(ctx, relay.Event{Ack: ack}); err != nil {
		return nil, err
	}
	return ack, nil
}

// reopens reports whether a failure receipt reopens its delivery for
// another call: the call was busy or not answered, calls are left, the
// deadline leaves room for one, and the person has not answered already.
func (n *Node) reopens(d *relay.Delivery, r Receipt, now time.Time) bool {
	if r.Status != relay.StatusFailed || !r.Temporary || d.Channel != relay.ChannelVoice || d.Round >= n.opts.Calls.Retries {
		return false
	}
	if !now.Add(n.opts.Calls.RetryAfter).Before(d.Deadline) {
		return false
	}
	acked, err := n.store.Acked(d.MessageID, d.Person)
	return err == nil && !acked
}
