package alertmanager_test

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/oob-relay/relay/relay"
	"github.com/oob-relay/relay/relay/alertmanager"
	"github.com/oob-relay/relay/relay/secret"
)

// Credentials. They are long and distinctive so a leak into a log line or
// an answer cannot hide.
const (
	testToken    = "am-token-3f9c1e7a5b2d8046"
	testUser     = "alertmanager"
	testPassword = "am-password-8d2b6f0a4c9e1735"
	wrongToken   = "am-wrong-token-6a1d9c3e7f0b2584"
)

// baseConfig sends team=db alerts to the DB on-call group, team=web or
// front alerts to lee by email as warnings, and the rest to everyone.
func baseConfig() *alertmanager.Config {
	c := &alertmanager.Config{
		Token: secret.New(testToken),
		Routes: []alertmanager.Route{
			{Match: map[string]string{"team": "db"}, To: []string{"group:db-oncall"}},
			{MatchRE: map[string]string{"team": "web|front"}, To: []string{"person:lee"}, Severity: relay.SeverityWarning, Channels: []string{"email"}},
		},
		Default: &alertmanager.Route{To: []string{"everyone"}},
	}
	c.SetDefaults()
	return c
}

func TestConfigDefaults(t *testing.T) {
	c := baseConfig()
	if c.Lang != "ko" || c.SeverityLabel != "severity" || c.DefaultSeverity != relay.SeverityWarning || c.MaxBodyBytes != 1<<20 {
		t.Errorf("defaults: %+v", c)
	}
	if err := c.Validate(); err != nil {
		t.Fatalf("the base config is refused: %v", err)
	}
}

func TestConfigValidate(t *testing.T) {
	cases := []struct {
		name   string
		mutate func(*alertmanager.Config)
		want   string
	}{
		{"no routes", func(c *alertmanager.Config) { c.Routes, c.Default = nil, nil },
			"routes: set at least one route, or a default route"},
		{"only a default", func(c *alertmanager.Config) { c.Routes = nil }, ""},
		{"only routes", func(c *alertmanager.Config) { c.Default = nil }, ""},
		{"match label empty", func(c *alertmanager.Config) { c.Routes[1].Match = map[string]string{"": "x"} },
			`routes[1].match: label name "" must be non-empty UTF-8`},
		{"match_re bad", func(c *alertmanager.Config) { c.Routes[1].MatchRE["instance"] = "web-(" },
			`routes[1].match_re.instance: "web-(" is not an RE2 regular expression: missing closing ): ` + "`^(?:web-()$`"},
		{"match_re lookahead", func(c *alertmanager.Config) { c.Routes[0].MatchRE = map[string]string{"job": "(?!node)"} },
			`routes[0].match_re.job: "(?!node)" is not an RE2 regular expression: invalid or unsupported Perl syntax: ` + "`(?!`"},
		{"to missing", func(c *alertmanager.Config) { c.Routes[0].To = nil },
			`routes[0].to: is required: list "person:<id>", "group:<id>", "role:<role>", "schedule:<id>", "escalation:<id>" or "everyone"`},
		{"to not a target", func(c *alertmanager.Config) { c.Routes[0].To = []string{"db-oncall"} },
			`routes[0].to[0]: "db-oncall" is not an audience: use "person:<id>", "group:<id>", "role:<role>", "schedule:<id>", "escalation:<id>" or "everyone"`},
		{"to bad id", func(c *alertmanager.Config) { c.Routes[0].To = []string{"group:DB"} },
			`routes[0].to[0]: "group:DB" names no valid group id`},
		{"to twice", func(c *alertmanager.Config) { c.Default.To = []string{"person:kim", "person:kim"} },
			`default.to[1]: "person:kim" is listed twice`},
		{"severity", func(c *alertmanager.Config) { c.Routes[1].Severity = "page" },
			`routes[1].severity: "page" must be one of critical, warning and info, or unset to read the alert's label`},
		{"channel unknown", func(c *alertmanager.Config) { c.Routes[1].Channels = []string{"email", "pager"} },
			`routes[1].channels[1]: "pager" is not a channel: use sms, voice, email, nats`},
		{"channel twice", func(c *alertmanager.Config) { c.Routes[1].Channels = []string{"sms", "sms"} },
			`routes[1].channels[1]: "sms" is listed twice`},
		{"default with match", func(c *alertmanager.Config) { c.Default.Match = map[string]string{"team": "x"} },
			"default: takes every alert no route matched, so it has no match, match_re or continue"},
		{"no credentials", func(c *alertmanager.Config) { c.Token = secret.String{} },
			"token: is required (or token_env or token_file), or username and password: Alertmanager must authenticate"},
		{"two token sources", func(c *alertmanager.Config) { c.TokenEnv = "AM_TOKEN" },
			"token: set only one of token, token_env and token_file"},
		{"short token", func(c *alertmanager.Config) { c.Token = secret.New("short") },
			"token: must be at least 16 characters"},
		{"token with space", func(c *alertmanager.Config) { c.Token = secret.New(testToken + " ") },
			"token: must not start or end with white space"},
		{"basic only", func(c *alertmanager.Config) {
			c.Token, c.Username, c.PasswordFile = secret.String{}, testUser, "am.password"
		}, ""},
		{"username without password", func(c *alertmanager.Config) { c.Username = testUser },
			"password: is required with username (or password_env or password_file)"},
		{"password without username", func(c *alertmanager.Config) { c.Password = secret.New(testPassword) },
			"username: is required with password"},
		{"username with colon", func(c *alertmanager.Config) { c.Username, c.Password = "a:b", secret.New(testPassword) },
			"username: must not contain ':', which basic auth cannot carry"},
		{"lang", func(c *alertmanager.Config) { c.Lang = "ja" }, `lang: "ja" must be one of ko, en`},
		{"severities", func(c *alertmanager.Config) {
			c.Severities = map[string]relay.Severity{"page": "urgent", "Ticket": "info", "ticket": "warning"}
		}, "severities.page: \"urgent\" must be one of critical, warning and info\nseverities.ticket: is also given as \"Ticket\": values compare without case"},
		{"default_severity", func(c *alertmanager.Config) { c.DefaultSeverity = "high" },
			`default_severity: "high" must be one of critical, warning and info`},
		{"resolved_severity", func(c *alertmanager.Config) { c.ResolvedSeverity = "none" },
			`resolved_severity: "none" must be one of critical, warning and info`},
		{"max_body_bytes", func(c *alertmanager.Config) { c.MaxBodyBytes = 100 },
			"max_body_bytes: 100 must be from 4096 to 67108864"},
		{"several", func(c *alertmanager.Config) { c.Routes[0].To = nil; c.Lang = "jp" },
			"routes[0].to: is required: list \"person:<id>\", \"group:<id>\", \"role:<role>\", \"schedule:<id>\", \"escalation:<id>\" or \"everyone\"\nlang: \"jp\" must be one of ko, en"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			cfg := baseConfig()
			c.mutate(cfg)
			err := cfg.Validate()
			got := ""
			if err != nil {
				got = err.Error()
			}
			if got != c.want {
				t.Errorf("Validate\n got: %s\nwant: %s", got, c.want)
			}
		})
	}
}

func TestResolveSecrets(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "am.password"), []byte(testPassword+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	c := baseConfig()
	c.Token, c.TokenEnv = secret.String{}, "AM_TOKEN"
	c.Username, c.PasswordFile = testUser, "am.password"
	env := map[string]string{"AM_TOKEN": testToken}
	if err := c.ResolveSecrets(dir, func(k string) string { return env[k] }); err != nil {
		t.Fatal(err)
	}
	if c.Token.Reveal() != testToken || c.Password.Reveal() != testPassword || c.TokenEnv != "" || c.PasswordFile != "" {
		t.Errorf("resolved: token %v password %v env %q file %q", c.Token.Reveal() == testToken, c.Password.Reveal() == testPassword, c.TokenEnv, c.PasswordFile)
	}
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}

	c = baseConfig()
	c.Token, c.TokenEnv = secret.String{}, "AM_TOKEN"
	c.Username, c.PasswordFile = testUser, "missing.password"
	err := c.ResolveSecrets(dir, func(string) string { return "" })
	want := "token_env: environment variable AM_TOKEN is not set\npassword_file: cannot read " + filepath.Join(dir, "missing.password") + ": no such file or directory"
	if err == nil || err.Error() != want {
		t.Errorf("ResolveSecrets\n got: %v\nwant: %s", err, want)
	}
}

// alert makes a firing alert with the given labels.
func alert(labels ...string) alertmanager.Alert {
	a := alertmanager.Alert{Status: alertmanager.StatusFiring, Labels: map[string]string{}, StartsAt: time.Date(2026, 11, 3, 5, 0, 0, 0, time.UTC)}
	for i := 0; i+1 < len(labels); i += 2 {
		a.Labels[labels[i]] = labels[i+1]
	}
	a.Fingerprint = strings.Join(labels, "/")
	return a
}

func notification(alerts ...alertmanager.Alert) *alertmanager.Notification {
	return &alertmanager.Notification{Receiver: "relay", Status: alertmanager.StatusFiring, Version: "4", GroupKey: "{}:{}", Alerts: alerts}
}

// routed returns, for each post, its route and the audience.
func routed(t *testing.T, n *alertmanager.Notification, cfg *alertmanager.Config) []string {
	t.Helper()
	reqs, err := alertmanager.Posts(n, cfg)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, r := range reqs {
		out = append(out, r.Route+" "+strings.Join(r.Post.To, ","))
	}
	return out
}

func TestRouting(t *testing.T) {
	cfg := baseConfig()
	cfg.Routes = append(cfg.Routes,
		alertmanager.Route{Match: map[string]string{"env": ""}, MatchRE: map[string]string{"alertname": "Disk.*"}, To: []string{"group:storage"}, Continue: true},
		alertmanager.Route{MatchRE: map[string]string{"alertname": "Disk.*"}, To: []string{"person:park"}},
	)
	cases := []struct {
		name  string
		alert alertmanager.Alert
		want  []string
	}{
		{"match", alert("team", "db"), []string{"routes[0] group:db-oncall"}},
		{"first match wins", alert("team", "db", "alertname", "DiskFull", "env", "prod"), []string{"routes[0] group:db-oncall"}},
		{"match_re alternation", alert("team", "front"), []string{"routes[1] person:lee"}},
		{"match_re anchored at the start", alert("team", "xweb"), []string{"default everyone"}},
		{"match_re anchored at the end", alert("team", "webx"), []string{"default everyone"}},
		{"missing label matches empty", alert("alertname", "DiskFull"), []string{"routes[2] group:storage", "routes[3] person:park"}},
		{"continue goes on", alert("alertname", "DiskSlow", "env", ""), []string{"routes[2] group:storage", "routes[3] person:park"}},
		{"continue without a later match", alert("alertname", "DiskFull", "env", "prod"), []string{"routes[3] person:park"}},
		{"no match takes the default", alert("team", "net"), []string{"default everyone"}},
		{"value compared exactly", alert("team", "DB"), []string{"default everyone"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := routed(t, notification(c.alert), cfg); !slices.Equal(got, c.want) {
				t.Errorf("routes %v, want %v", got, c.want)
			}
		})
	}

	// One notification's alerts split by route, in config order.
	got := routed(t, notification(alert("team", "web", "i", "1"), alert("team", "net"), alert("team", "db"), alert("team", "web", "i", "2")), cfg)
	if want := []string{"routes[0] group:db-oncall", "routes[1] person:lee", "default everyone"}; !slices.Equal(got, want) {
		t.Errorf("split %v, want %v", got, want)
	}
}

func TestNoRoute(t *testing.T) {
	cfg := baseConfig()
	cfg.Default = nil
	n := notification(alert("team", "db"), alert("alertname", "Lost", "team", "net"), alert("team", "none"))
	reqs, err := alertmanager.Posts(n, cfg)
	var nr *alertmanager.NoRouteError
	if !errors.As(err, &nr) {
		t.Fatalf("error %v, want a *NoRouteError", err)
	}
	if want := "alerts[1] (Lost), alerts[2] matched no route and there is no default route"; err.Error() != want {
		t.Errorf("error %q, want %q", err, want)
	}
	if len(reqs) != 1 || reqs[0].Route != "routes[0]" {
		t.Errorf("the routed alert's post is missing: %+v", reqs)
	}
}

func TestPostsRefusesInvalidConfig(t *testing.T) {
	cfg := baseConfig()
	cfg.Routes[0].MatchRE = map[string]string{"x": "("}
	if _, err := alertmanager.Posts(notification(alert("team", "db")), cfg); err == nil || !strings.HasPrefix(err.Error(), "routes[0].match_re.x: ") {
		t.Fatalf("error %v, want the config's problem", err)
	}
}

func TestSeverity(t *testing.T) {
	cfg := baseConfig()
	cfg.Routes = nil
	cfg.Severities = map[string]relay.Severity{"Page": relay.SeverityCritical, "warning": relay.SeverityInfo}
	resolved := func(a alertmanager.Alert) alertmanager.Alert { a.Status = alertmanager.StatusResolved; return a }
	cases := []struct {
		name     string
		alerts   []alertmanager.Alert
		resolved relay.Severity
		want     relay.Severity
	}{
		{"label", []alertmanager.Alert{alert("severity", "critical")}, "", relay.SeverityCritical},
		{"label case", []alertmanager.Alert{alert("severity", "Info")}, "", relay.SeverityInfo},
		{"mapped without case", []alertmanager.Alert{alert("severity", "PAGE")}, "", relay.SeverityCritical},
		{"mapping overrides a name", []alertmanager.Alert{alert("severity", "warning")}, "", relay.SeverityInfo},
		{"missing", []alertmanager.Alert{alert("team", "x")}, "", relay.SeverityWarning},
		{"unknown", []alertmanager.Alert{alert("severity", "major")}, "", relay.SeverityWarning},
		{"most urgent", []alertmanager.Alert{alert("severity", "info", "i", "1"), alert("severity", "critical", "i", "2")}, "", relay.SeverityCritical},
		{"firing ones count", []alertmanager.Alert{resolved(alert("severity", "critical", "i", "1")), alert("severity", "info", "i", "2")}, "", relay.SeverityInfo},
		{"resolved keeps the level", []alertmanager.Alert{resolved(alert("severity", "critical"))}, "", relay.SeverityCritical},
		{"resolved_severity", []alertmanager.Alert{resolved(alert("severity", "critical"))}, relay.SeverityInfo, relay.SeverityInfo},
		{"resolved_severity not while firing", []alertmanager.Alert{alert("severity", "critical")}, relay.SeverityInfo, relay.SeverityCritical},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			cfg.ResolvedSeverity = c.resolved
			reqs, err := alertmanager.Posts(notification(c.alerts...), cfg)
			if err != nil {
				t.Fatal(err)
			}
			if got := reqs[0].Post.Severity; got != c.want {
				t.Errorf("severity %q, want %q", got, c.want)
			}
		})
	}

	cfg.DefaultSeverity, cfg.SeverityLabel = relay.SeverityInfo, "level"
	cfg.Default.Severity = ""
	reqs, _ := alertmanager.Posts(notification(alert("severity", "critical")), cfg)
	if got := reqs[0].Post.Severity; got != relay.SeverityInfo {
		t.Errorf("severity_label level and default_severity info: got %q", got)
	}
	cfg.Default.Severity = relay.SeverityCritical
	reqs, _ = alertmanager.Posts(notification(alert("level", "info")), cfg)
	if got := reqs[0].Post.Severity; got != relay.SeverityCritical {
		t.Errorf("a fixed severity: got %q", got)
	}
}

// The example config decodes strictly, as the node's config file does, and
// is valid.
func TestConfigYAML(t *testing.T) {
	f, err := os.Open(filepath.Join("testdata", "config.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	dec := yaml.NewDecoder(f)
	dec.KnownFields(true)
	var c alertmanager.Config
	if err := dec.Decode(&c); err != nil {
		t.Fatal(err)
	}
	c.SetDefaults()
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	if len(c.Routes) != 2 || c.Routes[1].MatchRE["alertname"] != "(Disk|Memory).*" || !c.Routes[0].Continue ||
		c.Severities["page"] != relay.SeverityCritical || c.Default == nil || c.TokenFile != "/etc/relay/alertmanager.token" {
		t.Errorf("decoded %+v", c)
	}
	dir := t.TempDir()
	c.TokenFile = "token"
	if err := os.WriteFile(filepath.Join(dir, "token"), []byte(testToken+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := c.ResolveSecrets(dir, nil); err != nil {
		t.Fatal(err)
	}
	n := notification(alert("alertname", "DiskFull", "env", "prod", "team", "db", "severity", "ticket"))
	reqs, err := alertmanager.Posts(n, &c)
	if err != nil {
		t.Fatal(err)
	}
	if got := routedOf(reqs); !slices.Equal(got, []string{"routes[0] group:db-oncall info", "routes[1] person:park critical"}) {
		t.Errorf("routed %v", got)
	}
}

func routedOf(reqs []alertmanager.Request) []string {
	var out []string
	for _, r := range reqs {
		out = append(out, r.Route+" "+strings.Join(r.Post.To, ",")+" "+string(r.Post.Severity))
	}
	return out
}
