package emulator_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twilio/twilio-go/client"
	openapi "github.com/twilio/twilio-go/rest/api/v2010"
	"go.uber.org/goleak"

	"github.com/oob-relay/relay/channels/twilio/emulator"
	"github.com/oob-relay/relay/channels/twilio/emulator/emulatortest"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// fastOptions make status steps quick so tests take milliseconds.
func fastOptions() emulator.Options {
	return emulator.Options{CallbackDelay: 5 * time.Millisecond}
}

// hook is a webhook receiver: it records every request, checks its
// signature with twilio-go's own validator, and answers with reply.
type hook struct {
	t     *testing.T
	srv   *httptest.Server
	reply string

	mu       sync.Mutex
	got      []received
	changed  chan struct{}
	validate client.RequestValidator
}

// received is one webhook request as the application saw it.
type received struct {
	Method string
	URL    string
	Form   url.Values
	Signed bool // the X-Twilio-Signature checked out
}

func newHook(t *testing.T, reply string) *hook {
	h := &hook{t: t, reply: reply, changed: make(chan struct{}), validate: client.NewRequestValidator(emulatortest.AuthToken)}
	h.srv = httptest.NewServer(http.HandlerFunc(h.serve))
	t.Cleanup(h.srv.Close)
	return h
}

func (h *hook) serve(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	full := "http://" + r.Host + r.URL.RequestURI()
	sig := r.Header.Get("X-Twilio-Signature")
	var signed bool
	var form url.Values
	if r.Method == http.MethodGet {
		form = r.URL.Query()
		signed = h.validate.Validate(full, map[string]string{}, sig)
	} else {
		form, _ = url.ParseQuery(string(body))
		signed = h.validate.ValidateBody(full, body, sig)
	}
	h.mu.Lock()
	h.got = append(h.got, received{Method: r.Method, URL: full, Form: form, Signed: signed})
	close(h.changed)
	h.changed = make(chan struct{})
	h.mu.Unlock()
	w.Header().Set("Content-Type", "text/xml")
	_, _ = io.WriteString(w, h.reply)
}

// url returns the receiver's address for path.
func (h *hook) url(path string) string { return h.srv.URL + path }

// wait returns the requests received once there are at least n, failing
// the test after a deadline.
func (h *hook) wait(n int) []received {
	h.t.Helper()
	return h.waitFor(n, func(received) bool { return true })
}

// waitFor returns the received requests that match once there are at
// least n of them, failing the test after a deadline.
func (h *hook) waitFor(n int, match func(received) bool) []received {
	h.t.Helper()
	deadline := time.After(5 * time.Second)
	for {
		h.mu.Lock()
		var got []received
		for _, r := range h.got {
			if match(r) {
				got = append(got, r)
			}
		}
		changed := h.changed
		h.mu.Unlock()
		if len(got) >= n {
			return got
		}
		select {
		case <-changed:
		case <-deadline:
			h.t.Fatalf("webhook received %d requests, want %d", len(got), n)
		}
	}
}

func (h *hook) received() []received {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]received(nil), h.got...)
}

// rewrite sends twilio-go's requests to the emulator.
type rewrite struct{ base *url.URL }

func (rw rewrite) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.URL.Scheme, r.URL.Host, r.Host = rw.base.Scheme, rw.base.Host, ""
	return http.DefaultTransport.RoundTrip(r)
}

// api returns twilio-go's API client for the emulator with the given
// credentials.
func api(t *testing.T, em *emulator.Emulator, sid, token string) *openapi.ApiService {
	base, err := url.Parse(em.URL())
	if err != nil {
		t.Fatal(err)
	}
	c := &client.Client{
		Credentials: client.NewCredentials(sid, token),
		HTTPClient:  &http.Client{Transport: rewrite{base}},
	}
	c.SetAccountSid(sid)
	return openapi.NewApiService(&client.RequestHandler{Client: c})
}

// testAPI is api with the test account.
func testAPI(t *testing.T, em *emulator.Emulator) *openapi.ApiService {
	return api(t, em, emulatortest.AccountSID, emulatortest.AuthToken)
}

// post sends a raw form request as the test account and returns the
// answer and its body.
func post(t *testing.T, ctx context.Context, em *emulator.Emulator, resource string, form url.Values) (*http.Response, string) {
	t.Helper()
	target := em.URL() + "/2010-04-01/Accounts/" + emulatortest.AccountSID + "/" + resource
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, target, strings.NewReader(form.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(emulatortest.AccountSID, emulatortest.AuthToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp, string(body)
}

// ctx returns a context that ends with the test, with a deadline.
func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	t.Cleanup(cancel)
	return c
}

func statuses(got []received, key string) []string {
	var out []string
	for _, r := range got {
		out = append(out, r.Form.Get(key))
	}
	return out
}

func ptr[T any](v T) *T { return &v }
