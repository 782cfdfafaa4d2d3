package alertmanager

import (
	"errors"
	"fmt"
	"maps"
	"os"
	"regexp"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/oob-relay/relay/relay"
	"github.com/oob-relay/relay/relay/secret"
)

// Defaults and limits.
const (
	// DefaultLang is the language of rendered text: relay is Korean-first.
	DefaultLang = relay.DefaultLang
	// DefaultSeverityLabel is the label Prometheus alerting rules
	// conventionally set to critical, warning or info.
	DefaultSeverityLabel = "severity"
	// MinTokenLength is the shortest bearer token or password accepted, as
	// for the API's tokens.
	MinTokenLength = 16
	// MinMaxBytes and MaxMaxBytes bound max_body_bytes: room for one alert
	// with long annotations, and no more than a node should hold in memory
	// for one request.
	MinMaxBytes = 4 << 10
	MaxMaxBytes = 64 << 20
)

// Langs lists the languages text is rendered in.
var Langs = []string{"ko", "en"}

// Config is how Alertmanager notifications reach relay: who may post them
// and who each alert goes to.
type Config struct {
	// Routes send alerts to audiences. Each alert goes to the first route
	// that matches its labels, and on to later ones while the matching
	// route has Continue set.
	Routes []Route `yaml:"routes"`
	// Default takes every alert no route matched. Without one, an alert
	// that matches no route is refused.
	Default *Route `yaml:"default,omitempty"`

	// Token is the bearer token Alertmanager sends (http_config
	// authorization credentials). Give it directly, or name an environment
	// variable (TokenEnv) or a file (TokenFile) that holds it;
	// ResolveSecrets reads it into Token.
	Token     secret.String `yaml:"token,omitempty"`
	TokenEnv  string        `yaml:"token_env,omitempty"`
	TokenFile string        `yaml:"token_file,omitempty"`
	// Username and Password are the basic auth credentials Alertmanager
	// sends (http_config basic_auth). Password may come from PasswordEnv
	// or PasswordFile instead. Set a token, a username and password, or
	// both; a request passes with either.
	Username     string        `yaml:"username,omitempty"`
	Password     secret.String `yaml:"password,omitempty"`
	PasswordEnv  string        `yaml:"password_env,omitempty"`
	PasswordFile string        `yaml:"password_file,omitempty"`

	// Lang is the language messages are written in: ko or en. Default
	// DefaultLang.
	Lang string `yaml:"lang,omitempty"`
	// SeverityLabel is the alert label a route without a fixed severity
	// reads. Default DefaultSeverityLabel.
	SeverityLabel string `yaml:"severity_label,omitempty"`
	// Severities maps values of that label to relay severities, such as
	// page: critical. Values not listed map to themselves when they are
	// critical, warning or info, and to DefaultSeverity otherwise. Values
	// compare without case.
	Severities map[string]relay.Severity `yaml:"severities,omitempty"`
	// DefaultSeverity is the severity of an alert whose label is missing
	// or unknown. Default relay.DefaultSeverity.
	DefaultSeverity relay.Severity `yaml:"default_severity,omitempty"`
	// ResolvedSeverity, when set, is the severity of a message that only
	// reports resolved alerts, so that a resolution need not call anyone
	// at night. Empty means the same severity the alerts had.
	ResolvedSeverity relay.Severity `yaml:"resolved_severity,omitempty"`
	// MaxBodyBytes bounds a notification's size. Default DefaultMaxBytes.
	MaxBodyBytes int64 `yaml:"max_body_bytes,omitempty"`
}

// Route sends the alerts it matches to an audience.
type Route struct {
	// Match lists labels an alert must have with exactly these values. A
	// missing label has the empty value.
	Match map[string]string `yaml:"match,omitempty"`
	// MatchRE lists labels whose values must match these RE2 regular
	// expressions, anchored at both ends as in Alertmanager. A route
	// with neither Match nor MatchRE matches every alert.
	MatchRE map[string]string `yaml:"match_re,omitempty"`
	// To is the audience: "person:<id>", "group:<id>" or "everyone".
	To []string `yaml:"to"`
	// Severity fixes the messages' severity. Empty means the most urgent
	// severity of the alerts, read from their severity label.
	Severity relay.Severity `yaml:"severity,omitempty"`
	// Channels restricts the channels used; empty means every channel
	// each person has.
	Channels []string `yaml:"channels,omitempty"`
	// Continue goes on to the next routes after this one matched.
	Continue bool `yaml:"continue,omitempty"`
}

// SetDefaults fills in unset optional fields.
func (c *Config) SetDefaults() {
	if c.Lang == "" {
		c.Lang = DefaultLang
	}
	if c.SeverityLabel == "" {
		c.SeverityLabel = DefaultSeverityLabel
	}
	if c.DefaultSeverity == "" {
		c.DefaultSeverity = relay.DefaultSeverity
	}
	if c.MaxBodyBytes == 0 {
		c.MaxBodyBytes = DefaultMaxBytes
	}
}

// Validate reports every problem with the configuration, each naming its
// key, joined with errors.Join. It never includes a token or password.
func (c *Config) Validate() error {
	var errs []error
	bad := func(key, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s: %s", key, fmt.Sprintf(format, args...)))
	}
	if len(c.Routes) == 0 && c.Default == nil {
		bad("routes", "set at least one route, or a default route")
	}
	for i := range c.Routes {
		errs = append(errs, c.Routes[i].validate(fmt.Sprintf("routes[%d]", i))...)
	}
	if d := c.Default; d != nil {
		if len(d.Match) > 0 || len(d.MatchRE) > 0 || d.Continue {
			bad("default", "takes every alert no route matched, so it has no match, match_re or continue")
		}
		errs = append(errs, d.validate("default")...)
	}

	tokenSet := checkSecret(bad, "token", c.Token, c.TokenEnv, c.TokenFile)
	passwordSet := checkSecret(bad, "password", c.Password, c.PasswordEnv, c.PasswordFile)
	switch {
	case c.Username != "" && !passwordSet:
		bad("password", "is required with username (or password_env or password_file)")
	case c.Username == "" && passwordSet:
		bad("username", "is required with password")
	case strings.Contains(c.Username, ":"):
		bad("username", "must not contain ':', which basic auth cannot carry")
	case !tokenSet && !passwordSet:
		bad("token", "is required (or token_env or token_file), or username and password: Alertmanager must authenticate")
	}

	if c.Lang != "" && !slices.Contains(Langs, c.Lang) {
		bad("lang", "%q must be one of %s", c.Lang, strings.Join(Langs, ", "))
	}
	seen := map[string]string{}
	for _, v := range slices.Sorted(maps.Keys(c.Severities)) {
		lower := strings.ToLower(strings.TrimSpace(v))
		switch {
		case lower == "":
			bad("severities", "a label value must not be empty")
		case !c.Severities[v].Valid():
			bad("severities."+v, "%q must be one of critical, warning and info", c.Severities[v])
		case seen[lower] != "":
			bad("severities."+v, "is also given as %q: values compare without case", seen[lower])
		}
		seen[lower] = v
	}
	if s := c.DefaultSeverity; s != "" && !s.Valid() {
		bad("default_severity", "%q must be one of critical, warning and info", s)
	}
	if s := c.ResolvedSeverity; s != "" && !s.Valid() {
		bad("resolved_severity", "%q must be one of critical, warning and info", s)
	}
	if c.MaxBodyBytes != 0 && (c.MaxBodyBytes < MinMaxBytes || c.MaxBodyBytes > MaxMaxBytes) {
		bad("max_body_bytes", "%d must be from %d to %d", c.MaxBodyBytes, MinMaxBytes, MaxMaxBytes)
	}
	return errors.Join(errs...)
}

// checkSecret checks that at most one source of a secret is set and that a
// literal is long enough, and reports whether any source is set.
func checkSecret(bad func(key, format string, args ...any), key string, literal secret.String, env, file string) bool {
	n := 0
	for _, set := range []bool{!literal.IsZero(), env != "", file != ""} {
		if set {
			n++
		}
	}
	switch {
	case n > 1:
		bad(key, "set only one of %s, %s_env and %s_file", key, key, key)
	case !literal.IsZero() && utf8.RuneCountInString(literal.Reveal()) < MinTokenLength:
		bad(key, "must be at least %d characters", MinTokenLength)
	case !literal.IsZero() && strings.TrimSpace(literal.Reveal()) != literal.Reveal():
		bad(key, "must not start or end with white space")
	}
	return n > 0
}

func (r *Route) validate(key string) []error {
	var errs []error
	bad := func(k, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s: %s", k, fmt.Sprintf(format, args...)))
	}
	for _, name := range slices.Sorted(maps.Keys(r.Match)) {
		if !validLabelName(name) {
			bad(key+".match", "label name %q must be non-empty UTF-8", name)
		}
	}
	for _, name := range slices.Sorted(maps.Keys(r.MatchRE)) {
		if !validLabelName(name) {
			bad(key+".match_re", "label name %q must be non-empty UTF-8", name)
			continue
		}
		if _, err := anchored(r.MatchRE[name]); err != nil {
			bad(key+".match_re."+name, "%q is not an RE2 regular expression: %s", r.MatchRE[name], reError(err))
		}
	}
	if len(r.To) == 0 {
		bad(key+".to", "is required: list "+relay.AudienceForms)
	}
	for i, t := range r.To {
		if msg := relay.CheckTarget(t); msg != "" {
			bad(fmt.Sprintf("%s.to[%d]", key, i), "%q %s", t, msg)
		} else if slices.Index(r.To, t) < i {
			bad(fmt.Sprintf("%s.to[%d]", key, i), "%q is listed twice", t)
		}
	}
	if r.Severity != "" && !r.Severity.Valid() {
		bad(key+".severity", "%q must be one of critical, warning and info, or unset to read the alert's label", r.Severity)
	}
	for i, ch := range r.Channels {
		switch {
		case !relay.KnownChannel(ch):
			bad(fmt.Sprintf("%s.channels[%d]", key, i), "%q is not a channel: use %s", ch, strings.Join(relay.Channels, ", "))
		case slices.Index(r.Channels, ch) < i:
			bad(fmt.Sprintf("%s.channels[%d]", key, i), "%q is listed twice", ch)
		}
	}
	return errs
}

func validLabelName(s string) bool { return s != "" && utf8.ValidString(s) }

// anchored compiles a match_re expression the way Alertmanager does: the
// whole value must match.
func anchored(expr string) (*regexp.Regexp, error) {
	return regexp.Compile("^(?:" + expr + ")$")
}

// reError drops the "error parsing regexp: " prefix from a compile error.
func reError(err error) string {
	return strings.TrimPrefix(err.Error(), "error parsing regexp: ")
}

// ResolveSecrets reads the token and the password from their *_env or
// *_file keys into Token and Password and clears those keys. Relative file
// paths resolve against dir, the config file's folder. Errors name the key
// and never contain a secret. A nil getenv means os.Getenv.
func (c *Config) ResolveSecrets(dir string, getenv func(string) string) error {
	if getenv == nil {
		getenv = os.Getenv
	}
	var errs []error
	tok, err := secret.Source{Key: "token", Literal: c.Token, Env: c.TokenEnv, File: c.TokenFile}.Resolve(dir, getenv)
	if err != nil {
		errs = append(errs, err)
	} else {
		c.Token, c.TokenEnv, c.TokenFile = tok, "", ""
	}
	pw, err := secret.Source{Key: "password", Literal: c.Password, Env: c.PasswordEnv, File: c.PasswordFile}.Resolve(dir, getenv)
	if err != nil {
		errs = append(errs, err)
	} else {
		c.Password, c.PasswordEnv, c.PasswordFile = pw, "", ""
	}
	return errors.Join(errs...)
}
