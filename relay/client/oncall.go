package client

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"

	"github.com/oob-relay/relay/relay"
	"github.com/oob-relay/relay/relay/api"
)

func atQuery(at string) string {
	if at == "" {
		return ""
	}
	return "?at=" + url.QueryEscape(at)
}

// OnCall says who is on call in schedule id at at (RFC 3339, or a local
// "2026-03-08 09:00" in the schedule's zone; now when empty).
func (c *Client) OnCall(ctx context.Context, id, at string) (*relay.OnCall, error) {
	var out relay.OnCall
	if _, err := c.do(ctx, http.MethodGet, "/v1/oncall/"+url.PathEscape(id)+atQuery(at), nil, nil, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// OnCallAll says who is on call in every schedule at at.
func (c *Client) OnCallAll(ctx context.Context, at string) ([]*relay.OnCall, error) {
	var out api.OnCallView
	if _, err := c.do(ctx, http.MethodGet, "/v1/oncall"+atQuery(at), nil, nil, &out); err != nil {
		return nil, err
	}
	return out.Schedules, nil
}

// AddOverride adds an override to schedule id and returns it with its id.
func (c *Client) AddOverride(ctx context.Context, id string, o api.OverrideRequest) (*relay.Override, error) {
	body, err := json.Marshal(&o)
	if err != nil {
		return nil, err
	}
	var out relay.Override
	if _, err := c.do(ctx, http.MethodPost, "/v1/schedules/"+url.PathEscape(id)+"/overrides", nil, body, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// RemoveOverride removes an override added to schedule id.
func (c *Client) RemoveOverride(ctx context.Context, id, override string) error {
	_, err := c.do(ctx, http.MethodDelete, "/v1/schedules/"+url.PathEscape(id)+"/overrides/"+url.PathEscape(override), nil, nil, nil)
	return err
}
