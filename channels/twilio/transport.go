package twilio

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"sync"
	"time"
)

// maxErrorBody bounds what is read of an error answer.
const maxErrorBody = 64 << 10

// exchange is the transport of one Send. twilio-go builds its requests
// with context.Background() and a fixed host, and drops the response
// headers of failures; exchange gives every request the Send's context,
// sends it to the configured API URL, releases error answers that
// twilio-go would leave open, and remembers the status and
// Retry-After of the last answer so failures can be classified.
type exchange struct {
	ctx  context.Context
	base http.RoundTripper
	api  *url.URL

	mu         sync.Mutex
	status     int
	retryAfter string
}

// RoundTrip implements http.RoundTripper.
func (x *exchange) RoundTrip(req *http.Request) (*http.Response, error) {
	r := req.Clone(x.ctx)
	r.URL.Scheme, r.URL.Host = x.api.Scheme, x.api.Host
	r.Host = ""
	resp, err := x.base.RoundTrip(r)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode >= 400 {
		// twilio-go decodes an error answer without closing it, which
		// would hold the connection; read it here and let it go.
		data, err := io.ReadAll(io.LimitReader(resp.Body, maxErrorBody))
		resp.Body.Close()
		if err != nil {
			return nil, err
		}
		resp.Body = io.NopCloser(bytes.NewReader(data))
	}
	x.mu.Lock()
	x.status, x.retryAfter = resp.StatusCode, resp.Header.Get("Retry-After")
	x.mu.Unlock()
	return resp, nil
}

// answer returns the status of the last answer (0 if none came) and its
// Retry-After hint.
func (x *exchange) answer(now time.Time) (int, time.Duration) {
	x.mu.Lock()
	defer x.mu.Unlock()
	return x.status, parseRetryAfter(x.retryAfter, now)
}

// parseRetryAfter reads an HTTP Retry-After value, in seconds or as a
// date, as a duration from now; zero when absent or unreadable.
func parseRetryAfter(v string, now time.Time) time.Duration {
	if v == "" {
		return 0
	}
	if secs, err := strconv.Atoi(v); err == nil {
		if secs < 0 {
			return 0
		}
		return time.Duration(secs) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil && t.After(now) {
		return t.Sub(now)
	}
	return 0
}
