// Package client is a Go client of relay's HTTP API v1. It spreads nothing
// and hides nothing: each call goes to the first node that answers, and a
// node that cannot be reached (or answers 502, 503 or 504) is skipped for
// the next one, so a client keeps working while one site is down.
package client

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync/atomic"
	"time"

	"github.com/oob-relay/relay/relay"
	"github.com/oob-relay/relay/relay/api"
	"github.com/oob-relay/relay/relay/problem"
)

// Client talks to one relay cluster.
type Client struct {
	addrs []*url.URL
	token string
	http  *http.Client
	// next is the node tried first: the last one that answered.
	next atomic.Int32
}

// ParseAddrs splits a comma-separated list of node URLs, as RELAY_ADDR
// holds them.
func ParseAddrs(s string) ([]*url.URL, error) {
	var out []*url.URL
	for part := range strings.SplitSeq(s, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		if !strings.Contains(part, "://") {
			part = "http://" + part
		}
		u, err := url.Parse(part)
		if err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") {
			return nil, fmt.Errorf("node address %q is not an http(s) URL such as http://127.0.0.1:8080", part)
		}
		u.Path = strings.TrimSuffix(u.Path, "/")
		out = append(out, u)
	}
	if len(out) == 0 {
		return nil, errors.New("no node address: set RELAY_ADDR to one or more node URLs, comma-separated")
	}
	return out, nil
}

// New returns a client of the nodes at addrs using the bearer token. A nil
// httpClient means one with a 10 s timeout per request.
func New(addrs []*url.URL, token string, httpClient *http.Client) *Client {
	if httpClient == nil {
		httpClient = &http.Client{Timeout: 10 * time.Second}
	}
	return &Client{addrs: addrs, token: token, http: httpClient}
}

// Error is an error answer from a node.
type Error struct {
	Status int
	problem.Problem
	Node string
}

func (e *Error) Error() string {
	return fmt.Sprintf("%s (%s, HTTP %d from %s)", e.Message, e.Code, e.Status, e.Node)
}

// do sends one request, trying each node in turn from the last that
// answered, and decodes a 2xx JSON answer into out (a *[]byte gets the
// answer's bytes as they are).
func (c *Client) do(ctx context.Context, method, path string, header http.Header, body []byte, out any) (http.Header, error) {
	var errs []error
	n := len(c.addrs)
	first := int(c.next.Load())
	for i := range n {
		idx := (first + i) % n
		base := c.addrs[idx]
		req, err := http.NewRequestWithContext(ctx, method, base.String()+path, bytes.NewReader(body))
		if err != nil {
			return nil, err
		}
		maps(req.Header, header)
		if c.token != "" {
			req.Header.Set("Authorization", "Bearer "+c.token)
		}
		if body != nil && req.Header.Get("Content-Type") == "" {
			req.Header.Set("Content-Type", "application/json")
		}
		resp, err := c.http.Do(req)
		if err != nil {
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			errs = append(errs, fmt.Errorf("%s: %w", base.Host, unwrapURL(err)))
			continue
		}
		data, rerr := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
		resp.Body.Close()
		if rerr != nil {
			errs = append(errs, fmt.Errorf("%s: reading the answer: %w", base.Host, rerr))
			continue
		}
		switch resp.StatusCode {
		case http.StatusBadGateway, http.StatusServiceUnavailable, http.StatusGatewayTimeout:
			errs = append(errs, fmt.Errorf("%s: %s", base.Host, resp.Status))
			continue
		}
		c.next.Store(int32(idx))
		if resp.StatusCode >= 300 {
			var pb problem.Envelope
			if json.Unmarshal(data, &pb) != nil || pb.Error.Code == "" {
				pb.Error = problem.Problem{Code: "http_" + fmt.Sprint(resp.StatusCode), Message: strings.TrimSpace(string(data))}
			}
			return resp.Header, &Error{Status: resp.StatusCode, Problem: pb.Error, Node: base.Host}
		}
		if raw, ok := out.(*[]byte); ok {
			*raw = data
			return resp.Header, nil
		}
		if out != nil {
			if err := json.Unmarshal(data, out); err != nil {
				return nil, fmt.Errorf("%s: answer is not the expected JSON: %w", base.Host, err)
			}
		}
		return resp.Header, nil
	}
	return nil, fmt.Errorf("no node answered: %w", errors.Join(errs...))
}

func maps(dst, src http.Header) {
	for k, v := range src {
		dst[k] = v
	}
}

// unwrapURL drops the method and URL net/http repeats in its errors.
func unwrapURL(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		var op *net.OpError
		if errors.As(ue.Err, &op) {
			return op
		}
		return ue.Err
	}
	return err
}

// Post posts a message. A non-empty key is sent as Idempotency-Key, so
// that retrying the call, on any node, does not post it twice.
func (c *Client) Post(ctx context.Context, p *relay.Post, key string) (*api.Accepted, error) {
	body, err := json.Marshal(p)
	if err != nil {
		return nil, err
	}
	h := http.Header{}
	if key != "" {
		h.Set("Idempotency-Key", key)
	}
	var out api.Accepted
	if _, err := c.do(ctx, http.MethodPost, "/v1/messages", h, body, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// Message reads a message with its deliveries.
func (c *Client) Message(ctx context.Context, id string) (*api.MessageView, error) {
	var out api.MessageView
	if _, err := c.do(ctx, http.MethodGet, "/v1/messages/"+url.PathEscape(id), nil, nil, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// Incidents lists incidents, most recently active first.
func (c *Client) Incidents(ctx context.Context) ([]relay.Incident, error) {
	var out struct {
		Incidents []relay.Incident `json:"incidents"`
	}
	if _, err := c.do(ctx, http.MethodGet, "/v1/incidents", nil, nil, &out); err != nil {
		return nil, err
	}
	return out.Incidents, nil
}

// Incident reads an incident with its timeline.
func (c *Client) Incident(ctx context.Context, id string) (*api.IncidentView, error) {
	var out api.IncidentView
	if _, err := c.do(ctx, http.MethodGet, "/v1/incidents/"+url.PathEscape(id), nil, nil, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// AckIncident acknowledges incident id for person (an admin token, or a
// bot token with the person in its answer_for), and returns the messages
// whose acknowledgement it recorded.
func (c *Client) AckIncident(ctx context.Context, id, person string) (*api.AckResult, error) {
	body, err := json.Marshal(api.AckRequest{Person: person})
	if err != nil {
		return nil, err
	}
	var out api.AckResult
	if _, err := c.do(ctx, http.MethodPost, "/v1/incidents/"+url.PathEscape(id)+"/acks", nil, body, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// Roster reads the roster.
func (c *Client) Roster(ctx context.Context) (*relay.Roster, error) {
	var out relay.Roster
	if _, err := c.do(ctx, http.MethodGet, "/v1/roster", nil, nil, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// ApplyRoster replaces the roster with a roster file's YAML (or JSON).
func (c *Client) ApplyRoster(ctx context.Context, doc []byte) (people, groups int, err error) {
	var out struct{ People, Groups int }
	h := http.Header{"Content-Type": {"application/yaml"}}
	if _, err := c.do(ctx, http.MethodPut, "/v1/roster", h, doc, &out); err != nil {
		return 0, 0, err
	}
	return out.People, out.Groups, nil
}

// Watch reads the watched targets, heartbeats and nodes.
func (c *Client) Watch(ctx context.Context) (*api.WatchView, error) {
	var out api.WatchView
	if _, err := c.do(ctx, http.MethodGet, "/v1/watch", nil, nil, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// Beat beats heartbeat name.
func (c *Client) Beat(ctx context.Context, name string) (*api.BeatAccepted, error) {
	var out api.BeatAccepted
	if _, err := c.do(ctx, http.MethodPost, "/v1/heartbeats/"+url.PathEscape(name), nil, nil, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// Cluster reads the answering node's view of its cluster.
func (c *Client) Cluster(ctx context.Context) (*api.ClusterView, error) {
	var out api.ClusterView
	if _, err := c.do(ctx, http.MethodGet, "/v1/cluster", nil, nil, &out); err != nil {
		return nil, err
	}
	return &out, nil
}
