package config

import (
	"log/slog"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/oob-relay/relay/relay"
)

// exampleEnv holds the variables testdata/full.yaml reads.
var exampleEnv = map[string]string{
	"RELAY_ADMIN_TOKEN":       "admin-token-from-env-0123456789",
	"TWILIO_AUTH_TOKEN":       "TwilioMainToken0123456789abcdef",
	"SMTP_BACKUP_PASSWORD":    "smtp-backup-password",
	"NATS_TOKEN":              "nats-token-from-env",
	"RELAY_SMTP_BOT_PASSWORD": "smtp-bot-password-from-env",
}

// envOf returns a getenv that reads m only.
func envOf(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}

// writeFiles creates files (path relative to dir: content) and returns dir.
func writeFiles(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, content := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func TestLoadExample(t *testing.T) {
	c, err := Load("testdata/full.yaml", envOf(exampleEnv))
	if err != nil {
		t.Fatalf("Load(testdata/full.yaml): %v", err)
	}
	dir, err := filepath.Abs("testdata")
	if err != nil {
		t.Fatal(err)
	}
	if c.Dir != dir {
		t.Errorf("Dir = %q, want %q", c.Dir, dir)
	}
	if c.Node.Name != "seoul-1" || c.Node.DataDir != filepath.Join(dir, "data") {
		t.Errorf("node = %+v", c.Node)
	}
	if c.RosterFile != filepath.Join(dir, "roster.yaml") {
		t.Errorf("roster_file = %q", c.RosterFile)
	}
	f, err := os.Open(c.RosterFile)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := relay.DecodeRoster(f); err != nil {
		t.Errorf("the example's roster: %v", err)
	}

	tokens := map[string]string{}
	for _, tok := range c.API.Tokens {
		tokens[tok.Name] = string(tok.Role) + " " + tok.Token.Reveal()
		if tok.TokenEnv != "" || tok.TokenFile != "" {
			t.Errorf("token %s still has token_env %q or token_file %q", tok.Name, tok.TokenEnv, tok.TokenFile)
		}
	}
	wantTokens := map[string]string{
		"ops-admin":    "admin " + exampleEnv["RELAY_ADMIN_TOKEN"],
		"alertmanager": "bot alertmanager-token-0123456789abcdef",
		"status-board": "viewer status-board-0123456789abcdef",
	}
	if !reflect.DeepEqual(tokens, wantTokens) {
		t.Errorf("tokens = %v, want %v", tokens, wantTokens)
	}

	sms := c.Channels.SMS.Providers
	if len(sms) != 2 || sms[0].Twilio.AuthToken.Reveal() != exampleEnv["TWILIO_AUTH_TOKEN"] ||
		sms[1].Twilio.AuthToken.Reveal() != "TwilioBackupToken0123456789abcdef" {
		t.Errorf("sms providers = %+v", sms)
	}
	if sms[0].Limit != (Limit{Rate: 1, Burst: 1}) || sms[1].Limit != (Limit{Rate: 10, Burst: 5}) {
		t.Errorf("sms limits = %+v, %+v", sms[0].Limit, sms[1].Limit)
	}
	mail := c.Channels.Email.Providers
	if len(mail) != 2 || mail[0].SMTP.Password.Reveal() != "smtp-password-for-tests" ||
		mail[1].SMTP.Password.Reveal() != exampleEnv["SMTP_BACKUP_PASSWORD"] {
		t.Errorf("email providers = %+v", mail)
	}
	if mail[0].SMTP.From != "relay 알림 <relay@example.com>" {
		t.Errorf("Korean display name arrived as %q", mail[0].SMTP.From)
	}
	if mail[0].SMTP.CAFile != filepath.Join(dir, "ca.pem") {
		t.Errorf("smtp ca_file = %q", mail[0].SMTP.CAFile)
	}
	if mail[1].Limit != (Limit{Rate: 5, Burst: 1}) {
		t.Errorf("smtp-backup limit = %+v, want the default burst 1", mail[1].Limit)
	}
	nats := c.Channels.NATS.Providers
	if len(nats) != 2 || nats[0].NATS.Token.Reveal() != exampleEnv["NATS_TOKEN"] ||
		nats[1].NATS.Password.Reveal() != "nats-password-for-tests" || nats[0].NATS.JetStream.Stream != "RELAY" {
		t.Errorf("nats providers = %+v", nats)
	}
	if got := c.EnabledChannels(); !slices.Equal(got, []string{"sms", "voice", "email", "nats"}) {
		t.Errorf("EnabledChannels() = %v", got)
	}
	if c.Level() != slog.LevelInfo || c.Log.Format != "text" {
		t.Errorf("log = %+v", c.Log)
	}
	wantTLS := TLS{MinVersion: "1.2", RedirectListen: ":80", ACME: &ACME{Domains: []string{"relay-seoul-1.example.com"}, Email: "ops@example.com",
		DirectoryURL: DefaultACMEDirectory, CacheDir: filepath.Join(dir, "data", "acme"), CAFile: filepath.Join(dir, "acme-ca.pem")}}
	if h := c.HTTP; h.TLS == nil || !reflect.DeepEqual(*h.TLS, wantTLS) {
		t.Errorf("http.tls = %+v, want %+v", h.TLS, wantTLS)
	}
	c.HTTP.TLS = nil
	if c.HTTP != (HTTP{Listen: "127.0.0.1:8080", PublicURL: "https://relay-seoul-1.example.com", CallbackURL: "https://relay.example.com", MaxBodyBytes: 1 << 20, MaxRosterBytes: DefaultMaxRosterBytes}) {
		t.Errorf("http = %+v", c.HTTP)
	}
}

// TestExampleCoversEveryKey keeps testdata/full.yaml a complete reference:
// every key a config can hold is written there, as a key or in a comment.
func TestExampleCoversEveryKey(t *testing.T) {
	data, err := os.ReadFile("testdata/full.yaml")
	if err != nil {
		t.Fatal(err)
	}
	text := string(data)
	var missing []string
	var visit func(t reflect.Type, path string)
	visit = func(t reflect.Type, path string) {
		for _, f := range structFields(t) {
			if !regexp.MustCompile(`\b` + regexp.QuoteMeta(f.name) + `\b`).MatchString(text) {
				missing = append(missing, join(path, f.name))
			}
			ft := f.typ
			if ft.Kind() == reflect.Slice {
				ft = ft.Elem()
			}
			if ft.Kind() == reflect.Struct && ft != durationType && !reflect.PointerTo(ft).Implements(unmarshalerType) {
				visit(ft, join(path, f.name))
			}
		}
	}
	visit(configType, "")
	if len(missing) > 0 {
		t.Errorf("testdata/full.yaml does not mention %s", strings.Join(missing, ", "))
	}
}

func TestDefaults(t *testing.T) {
	c, err := Decode(strings.NewReader(`
node: {name: n1, data_dir: data}
channels:
  sms: {providers: [{name: a, rate: 2, twilio: {}}]}
  email: {providers: [{name: b, smtp: {}}]}
  nats: {providers: [{name: c, nats: {}}]}
`))
	if err != nil {
		t.Fatal(err)
	}
	c.SetDefaults()
	if c.HTTP != (HTTP{Listen: DefaultListen, MaxBodyBytes: DefaultMaxBodyBytes, MaxRosterBytes: DefaultMaxRosterBytes}) {
		t.Errorf("http = %+v", c.HTTP)
	}
	want := Delivery{
		Workers:        16,
		AttemptTimeout: 30 * time.Second,
		ReceiptTimeout: time.Minute,
		Backoff:        Backoff{Initial: time.Second, Max: time.Minute},
		Deadlines:      Deadlines{Critical: time.Hour, Warning: 4 * time.Hour, Info: 24 * time.Hour},
		Policy: Policies{
			Critical: Policy{Mode: relay.ModeAll, UnconfirmedAfter: 2 * time.Minute},
			Warning:  Policy{Mode: relay.ModeFallback, UnconfirmedAfter: 3 * time.Minute, Channels: []string{"sms", "email", "nats"}},
			Info:     Policy{Mode: relay.ModeFallback, UnconfirmedAfter: 10 * time.Minute, Channels: []string{"sms", "email", "nats"}},
		},
		Calls: Calls{Retries: ptr(DefaultCallRetries), RetryAfter: time.Minute},
	}
	if !reflect.DeepEqual(c.Delivery, want) {
		t.Errorf("delivery = %+v, want %+v", c.Delivery, want)
	}
	if c.Log != (Log{Level: "info", Format: "text"}) {
		t.Errorf("log = %+v", c.Log)
	}
	if want := (relay.ReplyLimits{Window: time.Minute, PerPerson: 6, HighPriority: 10, RepeatWindow: 10 * time.Minute}); c.Inbound.Replies != want {
		t.Errorf("inbound.replies = %+v, want %+v", c.Inbound.Replies, want)
	}
	if p := c.Channels.SMS.Providers[0]; p.Limit != (Limit{Rate: 2, Burst: 1}) || p.Twilio.APIURL != "https://api.twilio.com" || p.Twilio.Timeout != 10*time.Second {
		t.Errorf("sms provider defaults = %+v", p)
	}
	if p := c.Channels.Email.Providers[0]; p.Limit != (Limit{}) || p.SMTP.TLS != "starttls" || p.SMTP.Timeout != 30*time.Second {
		t.Errorf("email provider defaults = %+v", p)
	}
	if p := c.Channels.NATS.Providers[0]; !slices.Equal(p.NATS.URLs, []string{"nats://127.0.0.1:4222"}) || p.NATS.SubjectPrefix != "relay" {
		t.Errorf("nats provider defaults = %+v", p)
	}
}

func TestSetDefaultsKeepsValues(t *testing.T) {
	c := &Config{
		HTTP:     HTTP{Listen: ":9000", PublicURL: "https://relay.example.com/hooks/", MaxBodyBytes: 2 << 20, MaxRosterBytes: 4 << 20},
		Delivery: Delivery{Workers: 4, AttemptTimeout: time.Second, Backoff: Backoff{Initial: 2 * time.Minute}, Deadlines: Deadlines{Critical: time.Minute, Warning: -time.Second}},
		Log:      Log{Level: "debug", Format: "json"},
	}
	c.SetDefaults()
	if c.HTTP != (HTTP{Listen: ":9000", PublicURL: "https://relay.example.com/hooks", MaxBodyBytes: 2 << 20, MaxRosterBytes: 4 << 20}) {
		t.Errorf("http = %+v", c.HTTP)
	}
	want := Delivery{Workers: 4, AttemptTimeout: time.Second, ReceiptTimeout: time.Minute,
		// A long initial wait raises the default cap rather than failing.
		Backoff:   Backoff{Initial: 2 * time.Minute, Max: 2 * time.Minute},
		Deadlines: Deadlines{Critical: time.Minute, Warning: -time.Second, Info: 24 * time.Hour}}
	c.Delivery.Policy, c.Delivery.Calls = Policies{}, Calls{} // covered above
	if !reflect.DeepEqual(c.Delivery, want) {
		t.Errorf("delivery = %+v, want %+v", c.Delivery, want)
	}
	if c.Log != (Log{Level: "debug", Format: "json"}) || c.Level() != slog.LevelDebug {
		t.Errorf("log = %+v", c.Log)
	}
}

func TestLevel(t *testing.T) {
	for in, want := range map[string]slog.Level{"debug": slog.LevelDebug, "info": slog.LevelInfo, "warn": slog.LevelWarn, "error": slog.LevelError, "": slog.LevelInfo, "loud": slog.LevelInfo} {
		c := Config{Log: Log{Level: in}}
		if got := c.Level(); got != want {
			t.Errorf("Level() with level %q = %v, want %v", in, got, want)
		}
	}
}

func TestPath(t *testing.T) {
	c := Config{Dir: "/etc/relay"}
	for in, want := range map[string]string{"": "", "/var/lib/relay": "/var/lib/relay", "data": "/etc/relay/data", "../x/y": "/etc/x/y"} {
		if got := c.Path(in); got != want {
			t.Errorf("Path(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestEnabledChannels(t *testing.T) {
	var c Config
	if got := c.EnabledChannels(); len(got) != 0 {
		t.Errorf("no providers: EnabledChannels() = %v", got)
	}
	c.Channels.NATS.Providers = []NATSProvider{{Name: "n"}}
	c.Channels.SMS.Providers = []SMSProvider{{Name: "s"}, {Name: "t"}}
	if got := c.EnabledChannels(); !slices.Equal(got, []string{"sms", "nats"}) {
		t.Errorf("EnabledChannels() = %v, want [sms nats]", got)
	}
}

func TestDeadlinesFor(t *testing.T) {
	d := Deadlines{Critical: time.Hour, Warning: 4 * time.Hour, Info: 2 * time.Hour}
	for s, want := range map[relay.Severity]time.Duration{
		relay.SeverityCritical: time.Hour, relay.SeverityWarning: 4 * time.Hour, relay.SeverityInfo: 2 * time.Hour,
		"panic": 4 * time.Hour, // unknown: the longest, so nothing is given up early
	} {
		if got := d.For(s); got != want {
			t.Errorf("For(%q) = %v, want %v", s, got, want)
		}
	}
}

func TestRole(t *testing.T) {
	for _, tt := range []struct {
		have, need Role
		allows     bool
	}{
		{RoleAdmin, RoleAdmin, true}, {RoleAdmin, RoleBot, true}, {RoleAdmin, RoleViewer, true},
		{RoleBot, RoleAdmin, false}, {RoleBot, RoleBot, true}, {RoleBot, RoleViewer, true},
		{RoleViewer, RoleAdmin, false}, {RoleViewer, RoleBot, false}, {RoleViewer, RoleViewer, true},
		{"root", RoleViewer, false}, {RoleAdmin, "root", false},
	} {
		if got := tt.have.Allows(tt.need); got != tt.allows {
			t.Errorf("%q.Allows(%q) = %v, want %v", tt.have, tt.need, got, tt.allows)
		}
	}
	if !RoleBot.Valid() || Role("root").Valid() || Role("").Valid() {
		t.Error("Valid() accepts an unknown role or refuses bot")
	}
}

func ptr[T any](v T) *T { return &v }
