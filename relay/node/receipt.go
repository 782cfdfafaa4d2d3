package node

import (
	"context"
	"fmt"
	"time"

	"github.com/oob-relay/relay/relay"
)

// RecordReceipt records a provider's receipt for a delivery. The change
// keeps the delivery's provider details, so the state shows who carried it.
// A receipt for an unknown delivery is an error wrapping relay.ErrNotFound;
// one for an attempt other than the delivery's latest returns the delivery
// and relay.ErrStaleReceipt.
func (n *Node) RecordReceipt(ctx context.Context, deliveryID string, r relay.Report) (*relay.Delivery, error) {
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
		return d, relay.ErrStaleReceipt
	}
	now := n.opts.Now().UTC()
	c := relay.DeliveryChange{
		ID: d.ID, Status: r.Status, Round: d.Round, Attempt: d.Attempts, Provider: d.Provider, ProviderID: r.ProviderID,
		Segments: d.Segments, ProviderSegments: d.ProviderSegments, Error: r.Error, Reason: r.Reason, Code: r.Code, Owner: d.Owner, At: now,
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
func (n *Node) reopens(d *relay.Delivery, r relay.Report, now time.Time) bool {
	if r.Status != relay.StatusFailed || !r.Temporary || d.Channel != relay.ChannelVoice || d.Round >= n.opts.Calls.Retries {
		return false
	}
	if !now.Add(n.opts.Calls.RetryAfter).Before(d.Deadline) {
		return false
	}
	acked, err := n.store.Acked(d.MessageID, d.Person)
	return err == nil && !acked
}
