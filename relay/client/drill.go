package client

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"

	"github.com/oob-relay/relay/relay"
	"github.com/oob-relay/relay/relay/api"
	"github.com/oob-relay/relay/relay/drill"
)

// StartDrill starts a drill. A retry with the same key returns the same
// drill.
func (c *Client) StartDrill(ctx context.Context, s *relay.DrillStart, key string) (*api.DrillStarted, error) {
	body, err := json.Marshal(s)
	if err != nil {
		return nil, err
	}
	h := http.Header{}
	if key != "" {
		h.Set("Idempotency-Key", key)
	}
	var out api.DrillStarted
	if _, err := c.do(ctx, http.MethodPost, "/v1/drills", h, body, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// Drills lists the drills, earliest first.
func (c *Client) Drills(ctx context.Context) ([]relay.Drill, error) {
	var out api.DrillList
	if _, err := c.do(ctx, http.MethodGet, "/v1/drills", nil, nil, &out); err != nil {
		return nil, err
	}
	return out.Drills, nil
}

// DrillReport reads a drill's report.
func (c *Client) DrillReport(ctx context.Context, id string) (*drill.Report, error) {
	var out drill.Report
	if _, err := c.do(ctx, http.MethodGet, "/v1/drills/"+url.PathEscape(id)+"/report", nil, nil, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// DrillReportAs reads a drill's report as csv, html or text, in lang (ko
// or en; empty means the drill's).
func (c *Client) DrillReportAs(ctx context.Context, id, format, lang string) ([]byte, error) {
	q := url.Values{"format": {format}}
	if lang != "" {
		q.Set("lang", lang)
	}
	var out []byte
	if _, err := c.do(ctx, http.MethodGet, "/v1/drills/"+url.PathEscape(id)+"/report?"+q.Encode(), nil, nil, &out); err != nil {
		return nil, err
	}
	return out, nil
}
