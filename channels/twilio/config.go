package twilio

import (
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"time"

	"github.com/oob-relay/relay/relay"
	"github.com/oob-relay/relay/relay/secret"
)

// Defaults.
const (
	// DefaultAPIURL is Twilio's REST API.
	DefaultAPIURL = "https://api.twilio.com"
	// DefaultTimeout bounds one request when the caller's context allows
	// longer. Twilio answers a message create in well under a second; ten
	// seconds leaves room for a slow network without holding a delivery
	// slot for long.
	DefaultTimeout = 10 * time.Second
)

var (
	accountSIDPattern = regexp.MustCompile(`^AC[0-9a-fA-F]{32}$`)
	serviceSIDPattern = regexp.MustCompile(`^MG[0-9a-fA-F]{32}$`)
	alphanumeric      = regexp.MustCompile(`^[A-Za-z0-9]+$`)
)

// Config is one Twilio account used to send SMS.
type Config struct {
	// AccountSID is the account's SID: AC followed by 32 hex digits.
	AccountSID string `yaml:"account_sid"`
	// AuthToken is the account's auth token. Give it directly, or name an
	// environment variable (AuthTokenEnv) or a file (AuthTokenFile) that
	// holds it; ResolveSecrets reads it into AuthToken.
	AuthToken     secret.String `yaml:"auth_token,omitempty"`
	AuthTokenEnv  string        `yaml:"auth_token_env,omitempty"`
	AuthTokenFile string        `yaml:"auth_token_file,omitempty"`
	// From is the sending number in E.164 form. Set exactly one of From and
	// MessagingServiceSID.
	From string `yaml:"from,omitempty"`
	// MessagingServiceSID sends through a messaging service, which picks
	// the sender from its pool: MG followed by 32 hex digits.
	MessagingServiceSID string `yaml:"messaging_service_sid,omitempty"`
	// APIURL is the scheme, host and optional port every request goes to,
	// so that a proxy or an emulator can stand in for Twilio. Default
	// DefaultAPIURL.
	APIURL string `yaml:"api_url,omitempty"`
	// InsecureAPIURL allows an http:// APIURL to a host that is not
	// loopback, which sends the auth token and every message in clear
	// text. For labs only.
	InsecureAPIURL bool `yaml:"insecure_api_url,omitempty"`
	// Timeout bounds each request. Default DefaultTimeout.
	Timeout time.Duration `yaml:"timeout,omitempty"`
}

// SetDefaults fills in unset optional fields.
func (c *Config) SetDefaults() {
	if c.APIURL == "" {
		c.APIURL = DefaultAPIURL
	}
	if c.Timeout == 0 {
		c.Timeout = DefaultTimeout
	}
}

// Validate reports every problem with the configuration, each naming its
// key, joined with errors.Join. It never includes the auth token.
func (c *Config) Validate() error {
	var errs []error
	bad := func(key, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s: %s", key, fmt.Sprintf(format, args...)))
	}
	switch {
	case c.AccountSID == "":
		bad("account_sid", "is required")
	case !accountSIDPattern.MatchString(c.AccountSID):
		bad("account_sid", "%q must be AC followed by 32 hex digits", c.AccountSID)
	}
	sources := 0
	for _, set := range []bool{!c.AuthToken.IsZero(), c.AuthTokenEnv != "", c.AuthTokenFile != ""} {
		if set {
			sources++
		}
	}
	switch {
	case sources == 0:
		bad("auth_token", "is required (or auth_token_env or auth_token_file)")
	case sources > 1:
		bad("auth_token", "set only one of auth_token, auth_token_env and auth_token_file")
	case !c.AuthToken.IsZero() && !alphanumeric.MatchString(c.AuthToken.Reveal()):
		bad("auth_token", "must contain only letters and digits")
	}
	switch {
	case c.From == "" && c.MessagingServiceSID == "":
		bad("from", "set from or messaging_service_sid")
	case c.From != "" && c.MessagingServiceSID != "":
		bad("messaging_service_sid", "set only one of from and messaging_service_sid")
	case c.From != "" && !relay.ValidE164(c.From):
		bad("from", "%q must be an E.164 number such as +821012345678", c.From)
	case c.MessagingServiceSID != "" && !serviceSIDPattern.MatchString(c.MessagingServiceSID):
		bad("messaging_service_sid", "%q must be MG followed by 32 hex digits", c.MessagingServiceSID)
	}
	if err := checkAPIURL(c.APIURL); err != nil {
		bad("api_url", "%v", err)
	} else if plainToRemote(c.APIURL) && !c.InsecureAPIURL {
		bad("api_url", "%q would send the auth token and every message in clear text; use https, "+
			"or set insecure_api_url: true in a lab", c.APIURL)
	}
	if c.Timeout < 0 {
		bad("timeout", "%s must not be negative", c.Timeout)
	}
	return errors.Join(errs...)
}

// checkAPIURL accepts an absolute http(s) URL made of scheme, host and
// port only; empty stands for the default.
func checkAPIURL(s string) error {
	if s == "" {
		return nil
	}
	u, err := url.Parse(s)
	switch {
	case err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https"):
		return fmt.Errorf("%q must be an http or https URL such as %s", s, DefaultAPIURL)
	case u.User != nil:
		return fmt.Errorf("%q must not carry credentials; set account_sid and auth_token", s)
	case (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "":
		return fmt.Errorf("%q must be a scheme, host and port only, such as %s", s, DefaultAPIURL)
	}
	return nil
}

// plainToRemote reports whether a valid api_url is plain http to a host
// that is not loopback.
func plainToRemote(s string) bool {
	u, err := url.Parse(s)
	return err == nil && u.Scheme == "http" && !relay.LoopbackHost(u.Hostname())
}

// ResolveSecrets reads the auth token from auth_token_env or
// auth_token_file into AuthToken and clears those two fields. Relative
// file paths resolve against dir, the config file's folder. Errors name
// the key and never contain the token.
func (c *Config) ResolveSecrets(dir string, getenv func(string) string) error {
	src := secret.Source{Key: "auth_token", Literal: c.AuthToken, Env: c.AuthTokenEnv, File: c.AuthTokenFile}
	v, err := src.Resolve(dir, getenv)
	if err != nil {
		return err
	}
	c.AuthToken, c.AuthTokenEnv, c.AuthTokenFile = v, "", ""
	return nil
}
