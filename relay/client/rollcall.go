package client

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"

	"github.com/oob-relay/relay/relay"
	"github.com/oob-relay/relay/relay/api"
)

// StartRollCall starts a roll-call. A non-empty key is sent as
// Idempotency-Key, so that retrying the call, on any node, starts it
// once.
func (c *Client) StartRollCall(ctx context.Context, s *relay.RollCallStart, key string) (*api.RollCallStarted, error) {
	body, err := json.Marshal(s)
	if err != nil {
		return nil, err
	}
	h := http.Header{}
	if key != "" {
		h.Set("Idempotency-Key", key)
	}
	var out api.RollCallStarted
	if _, err := c.do(ctx, http.MethodPost, "/v1/rollcalls", h, body, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// RollCall reads a roll-call's tally.
func (c *Client) RollCall(ctx context.Context, id string) (*relay.Tally, error) {
	var out relay.Tally
	if _, err := c.do(ctx, http.MethodGet, "/v1/rollcalls/"+url.PathEscape(id), nil, nil, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// RollCallCSV reads a roll-call's tally as a CSV file.
func (c *Client) RollCallCSV(ctx context.Context, id string) ([]byte, error) {
	var out []byte
	if _, err := c.do(ctx, http.MethodGet, "/v1/rollcalls/"+url.PathEscape(id)+"?format=csv", nil, nil, &out); err != nil {
		return nil, err
	}
	return out, nil
}

// AnswerRollCall answers a roll-call for a person.
func (c *Client) AnswerRollCall(ctx context.Context, id, person string, digit int) (*relay.RollCallAnswer, error) {
	body, err := json.Marshal(api.AnswerRequest{Person: person, Answer: digit})
	if err != nil {
		return nil, err
	}
	var out relay.RollCallAnswer
	if _, err := c.do(ctx, http.MethodPost, "/v1/rollcalls/"+url.PathEscape(id)+"/answers", nil, body, &out); err != nil {
		return nil, err
	}
	return &out, nil
}
