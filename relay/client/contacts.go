package client

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"

	"github.com/oob-relay/relay/relay/api"
)

// ContactChanges returns the phone numbers and addresses people changed
// themselves over the roster file, and whether each is in effect; none
// from a node of a release that keeps none (it answers 404).
func (c *Client) ContactChanges(ctx context.Context) ([]api.ContactChange, error) {
	var out api.ContactChanges
	if _, err := c.do(ctx, http.MethodGet, "/v1/roster/contacts", nil, nil, &out); err != nil {
		var e *Error
		if errors.As(err, &e) && e.Status == http.StatusNotFound {
			return nil, nil
		}
		return nil, err
	}
	return out.Changes, nil
}

// Contacts returns person's contacts in effect and their own changes.
func (c *Client) Contacts(ctx context.Context, person string) (*api.PersonContacts, error) {
	var out api.PersonContacts
	if _, err := c.do(ctx, http.MethodGet, "/v1/people/"+url.PathEscape(person)+"/contacts", nil, nil, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// StartContactChange sends a code to person's new phone ("phone") or
// email ("email") address; ConfirmContactChange takes it back.
func (c *Client) StartContactChange(ctx context.Context, person, channel, address string) (*api.ContactChallenge, error) {
	body, err := json.Marshal(&api.ContactRequest{Channel: channel, Address: address})
	if err != nil {
		return nil, err
	}
	var out api.ContactChallenge
	if _, err := c.do(ctx, http.MethodPut, "/v1/people/"+url.PathEscape(person)+"/contacts", nil, body, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// ConfirmContactChange sends the code of a contact change's challenge;
// once it matches, the change is in effect.
func (c *Client) ConfirmContactChange(ctx context.Context, person, challenge, code string) (*api.PersonContacts, error) {
	body, err := json.Marshal(&api.ContactRequest{Challenge: challenge, Code: code})
	if err != nil {
		return nil, err
	}
	var out api.PersonContacts
	if _, err := c.do(ctx, http.MethodPut, "/v1/people/"+url.PathEscape(person)+"/contacts", nil, body, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// RemoveContact removes person's phone ("phone") or email ("email").
func (c *Client) RemoveContact(ctx context.Context, person, channel string) (*api.PersonContacts, error) {
	var out api.PersonContacts
	if _, err := c.do(ctx, http.MethodDelete, "/v1/people/"+url.PathEscape(person)+"/contacts?channel="+url.QueryEscape(channel), nil, nil, &out); err != nil {
		return nil, err
	}
	return &out, nil
}
