package twilio

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/oob-relay/relay/relay/secret"
)

const (
	testSID   = "AC0123456789abcdef0123456789abcdef"
	testToken = "0123456789abcdef0123456789abcdef"
	testMG    = "MG0123456789abcdef0123456789abcdef"
)

func validConfig() Config {
	c := Config{AccountSID: testSID, AuthToken: secret.New(testToken), From: "+15005550006"}
	c.SetDefaults()
	return c
}

func TestSetDefaults(t *testing.T) {
	var c Config
	c.SetDefaults()
	if c.APIURL != DefaultAPIURL || c.Timeout != DefaultTimeout {
		t.Errorf("defaults: %+v", c)
	}
	c = Config{APIURL: "http://127.0.0.1:1", Timeout: time.Second}
	c.SetDefaults()
	if c.APIURL != "http://127.0.0.1:1" || c.Timeout != time.Second {
		t.Errorf("SetDefaults overwrote set fields: %+v", c)
	}
}

func TestValidate(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(*Config)
		want   string // the whole error text; empty means valid
	}{
		{"valid", func(*Config) {}, ""},
		{"messaging service instead of from", func(c *Config) { c.From, c.MessagingServiceSID = "", testMG }, ""},
		{"token from env", func(c *Config) { c.AuthToken, c.AuthTokenEnv = secret.String{}, "TWILIO_AUTH_TOKEN" }, ""},
		{"emulator url", func(c *Config) { c.APIURL = "http://127.0.0.1:8099" }, ""},
		{"plain http to localhost", func(c *Config) { c.APIURL = "http://localhost:8099" }, ""},
		{"plain http to IPv6 loopback", func(c *Config) { c.APIURL = "http://[::1]:8099" }, ""},
		{"https proxy", func(c *Config) { c.APIURL = "https://twilio-proxy.example.com:8443" }, ""},
		{"plain http to a remote proxy in a lab", func(c *Config) {
			c.APIURL, c.InsecureAPIURL = "http://twilio-proxy.example.com:8080", true
		}, ""},
		{"plain http to a remote proxy", func(c *Config) { c.APIURL = "http://twilio-proxy.example.com:8080" },
			`api_url: "http://twilio-proxy.example.com:8080" would send the auth token and every message in clear text; ` +
				`use https, or set insecure_api_url: true in a lab`},
		{"plain http to a private address", func(c *Config) { c.APIURL = "http://10.0.0.7" },
			`api_url: "http://10.0.0.7" would send the auth token and every message in clear text; ` +
				`use https, or set insecure_api_url: true in a lab`},
		{"missing account", func(c *Config) { c.AccountSID = "" }, "account_sid: is required"},
		{"bad account", func(c *Config) { c.AccountSID = "AC12" }, `account_sid: "AC12" must be AC followed by 32 hex digits`},
		{"missing token", func(c *Config) { c.AuthToken = secret.String{} },
			"auth_token: is required (or auth_token_env or auth_token_file)"},
		{"two token sources", func(c *Config) { c.AuthTokenFile = "token.txt" },
			"auth_token: set only one of auth_token, auth_token_env and auth_token_file"},
		{"token with symbols", func(c *Config) { c.AuthToken = secret.New("abc-def") },
			"auth_token: must contain only letters and digits"},
		{"no sender", func(c *Config) { c.From = "" }, "from: set from or messaging_service_sid"},
		{"two senders", func(c *Config) { c.MessagingServiceSID = testMG },
			"messaging_service_sid: set only one of from and messaging_service_sid"},
		{"short from", func(c *Config) { c.From = "+8210" }, `from: "+8210" must be an E.164 number such as +821012345678`},
		{"bad service", func(c *Config) { c.From, c.MessagingServiceSID = "", "MG1" },
			`messaging_service_sid: "MG1" must be MG followed by 32 hex digits`},
		{"url without scheme", func(c *Config) { c.APIURL = "api.twilio.com" },
			`api_url: "api.twilio.com" must be an http or https URL such as https://api.twilio.com`},
		{"url with path", func(c *Config) { c.APIURL = "https://proxy.example.com/twilio" },
			`api_url: "https://proxy.example.com/twilio" must be a scheme, host and port only, such as https://api.twilio.com`},
		{"url with credentials", func(c *Config) { c.APIURL = "https://u:p@proxy.example.com" },
			`api_url: "https://u:p@proxy.example.com" must not carry credentials; set account_sid and auth_token`},
		{"negative timeout", func(c *Config) { c.Timeout = -time.Second }, "timeout: -1s must not be negative"},
		{"several problems", func(c *Config) { c.AccountSID, c.From = "", "" },
			"account_sid: is required\nfrom: set from or messaging_service_sid"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := validConfig()
			tt.mutate(&c)
			err := c.Validate()
			switch {
			case tt.want == "" && err != nil:
				t.Errorf("unexpected error: %v", err)
			case tt.want != "" && (err == nil || err.Error() != tt.want):
				t.Errorf("error = %v, want %q", err, tt.want)
			}
		})
	}
}

func TestDecodeYAML(t *testing.T) {
	src := `
account_sid: AC0123456789abcdef0123456789abcdef
auth_token_file: twilio.token
messaging_service_sid: MG0123456789abcdef0123456789abcdef
api_url: http://127.0.0.1:8099
timeout: 3s
`
	dec := yaml.NewDecoder(strings.NewReader(src))
	dec.KnownFields(true)
	var c Config
	if err := dec.Decode(&c); err != nil {
		t.Fatal(err)
	}
	want := Config{AccountSID: testSID, AuthTokenFile: "twilio.token", MessagingServiceSID: testMG,
		APIURL: "http://127.0.0.1:8099", Timeout: 3 * time.Second}
	if c != want {
		t.Errorf("decoded %+v, want %+v", c, want)
	}
}

func TestResolveSecrets(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "twilio.token"), []byte(testToken+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	env := map[string]string{"TWILIO_AUTH_TOKEN": testToken}
	getenv := func(k string) string { return env[k] }

	for name, c := range map[string]Config{
		"file":    {AuthTokenFile: "twilio.token"},
		"env":     {AuthTokenEnv: "TWILIO_AUTH_TOKEN"},
		"literal": {AuthToken: secret.New(testToken)},
	} {
		if err := c.ResolveSecrets(dir, getenv); err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		if c.AuthToken.Reveal() != testToken || c.AuthTokenEnv != "" || c.AuthTokenFile != "" {
			t.Errorf("%s: resolved to %q (env %q, file %q)", name, c.AuthToken.Reveal(), c.AuthTokenEnv, c.AuthTokenFile)
		}
	}

	c := Config{AuthTokenEnv: "UNSET"}
	if err := c.ResolveSecrets(dir, getenv); err == nil || err.Error() != "auth_token_env: environment variable UNSET is not set" {
		t.Errorf("unset env: %v", err)
	}
	c = Config{AuthTokenFile: "missing.token"}
	if err := c.ResolveSecrets(dir, getenv); err == nil || !strings.HasPrefix(err.Error(), "auth_token_file: cannot read ") {
		t.Errorf("missing file: %v", err)
	}
}

// TestConfigHidesToken proves the token never shows when a config is
// printed, marshalled or validated.
func TestConfigHidesToken(t *testing.T) {
	const token = "HideMe0123456789HideMe0123456789"
	c := validConfig()
	c.AuthToken = secret.New(token)
	var out bytes.Buffer
	for _, f := range []string{"%v", "%+v", "%#v", "%s"} {
		out.WriteString(fmt.Sprintf(f, c))
		out.WriteString(fmt.Sprintf(f, &c))
	}
	j, err := json.Marshal(c)
	if err != nil {
		t.Fatal(err)
	}
	out.Write(j)
	y, err := yaml.Marshal(c)
	if err != nil {
		t.Fatal(err)
	}
	out.Write(y)
	bad := c
	bad.AuthToken = secret.New(token + "-x")
	bad.AuthTokenEnv = "ALSO"
	if err := bad.Validate(); err != nil {
		out.WriteString(err.Error())
	}
	if strings.Contains(out.String(), token) {
		t.Errorf("token printed:\n%s", out.String())
	}
	if !strings.Contains(out.String(), secret.Masked) {
		t.Errorf("expected the mask %q in:\n%s", secret.Masked, out.String())
	}
}
