package twilio

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"time"

	"github.com/twilio/twilio-go/client"
	openapi "github.com/twilio/twilio-go/rest/api/v2010"
)

// account is what the SMS and voice senders share: one Twilio account's
// credentials, its API address and the HTTP transport to reach it.
type account struct {
	cfg   Config
	creds *client.Credentials
	api   *url.URL
	base  http.RoundTripper
	owned *http.Transport // closed by Close; nil when the caller gave one
	log   *slog.Logger
	now   func() time.Time
}

// newAccount completes cfg with defaults, validates it and prepares the
// client side of the account. The auth token must already be resolved.
func newAccount(cfg Config, opts Options) (account, error) {
	cfg.SetDefaults()
	if err := cfg.Validate(); err != nil {
		return account{}, fmt.Errorf("twilio: %w", err)
	}
	if cfg.AuthToken.IsZero() {
		return account{}, errors.New("twilio: auth_token: not resolved; call ResolveSecrets first")
	}
	api, err := url.Parse(cfg.APIURL)
	if err != nil {
		return account{}, fmt.Errorf("twilio: api_url: %w", err) // Validate already checked it
	}
	a := account{
		cfg:   cfg,
		creds: client.NewCredentials(cfg.AccountSID, cfg.AuthToken.Reveal()),
		api:   api,
		base:  opts.Transport,
		log:   opts.Logger,
		now:   opts.Now,
	}
	if a.base == nil {
		a.owned = http.DefaultTransport.(*http.Transport).Clone()
		a.base = a.owned
	}
	if a.log == nil {
		a.log = slog.New(slog.DiscardHandler)
	}
	if a.now == nil {
		a.now = time.Now
	}
	return a, nil
}

// Close releases idle connections of the sender's own transport. The
// sender must not be used afterwards.
func (a *account) Close() error {
	if a.owned != nil {
		a.owned.CloseIdleConnections()
	}
	return nil
}

// service returns the Twilio API for one attempt bounded by ctx, and the
// exchange that records Twilio's answer (status, Retry-After) for
// classifying a failure.
func (a *account) service(ctx context.Context) (*openapi.ApiService, *exchange) {
	x := &exchange{ctx: ctx, base: a.base, api: a.api}
	c := &client.Client{
		Credentials: a.creds,
		HTTPClient: &http.Client{
			Transport:     x,
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		},
	}
	c.SetAccountSid(a.cfg.AccountSID)
	// A RequestHandler made here, not by NewRequestHandler, so that
	// TWILIO_EDGE and TWILIO_REGION in the environment change nothing.
	return openapi.NewApiService(&client.RequestHandler{Client: c}), x
}
