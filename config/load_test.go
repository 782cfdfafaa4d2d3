package config

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// minimal is a valid config file that reads its token from a file.
const minimal = `
node: {name: n1, data_dir: state}
roster_file: people/roster.yaml
api:
  tokens: [{name: ops, role: admin, token_file: secrets/ops}]
`

func TestLoadResolvesRelativePaths(t *testing.T) {
	dir := writeFiles(t, map[string]string{
		"etc/relay.yaml":  minimal,
		"etc/secrets/ops": "ops-token-0123456789\n",
	})
	t.Chdir(dir)
	c, err := Load("etc/relay.yaml", envOf(nil))
	if err != nil {
		t.Fatal(err)
	}
	etc := filepath.Join(dir, "etc")
	if c.Dir != etc || c.Node.DataDir != filepath.Join(etc, "state") || c.RosterFile != filepath.Join(etc, "people/roster.yaml") {
		t.Errorf("Dir %q, data_dir %q, roster_file %q: want them under %q", c.Dir, c.Node.DataDir, c.RosterFile, etc)
	}
	if got := c.API.Tokens[0].Token.Reveal(); got != "ops-token-0123456789" {
		t.Errorf("token = %q, want the file's content without its newline", got)
	}
	if got := c.Path("x"); got != filepath.Join(etc, "x") {
		t.Errorf("Path(x) = %q", got)
	}
}

func TestLoadAbsolutePathsStay(t *testing.T) {
	other := t.TempDir()
	dir := writeFiles(t, map[string]string{"relay.yaml": `
node: {name: n1, data_dir: ` + other + `}
api:
  tokens: [{name: ops, role: admin, token_env: OPS}]
`})
	c, err := Load(filepath.Join(dir, "relay.yaml"), envOf(map[string]string{"OPS": "ops-token-0123456789"}))
	if err != nil {
		t.Fatal(err)
	}
	if c.Node.DataDir != other || c.RosterFile != "" {
		t.Errorf("data_dir %q, roster_file %q", c.Node.DataDir, c.RosterFile)
	}
}

func TestLoadSecretsFromEnvAndFile(t *testing.T) {
	dir := writeFiles(t, map[string]string{
		"relay.yaml": `
node: {name: n1, data_dir: data}
api:
  tokens:
    - {name: a, role: admin, token_env: RELAY_A}
    - {name: b, role: bot, token_file: b.token}
channels:
  sms:
    providers:
      - name: sms
        twilio: {account_sid: AC0123456789abcdef0123456789abcdef, auth_token_file: twilio.token, from: "+12025550143"}
  email:
    providers:
      - name: mail
        smtp: {address: "127.0.0.1:25", tls: none, from: relay@example.com, username: relay, password_env: SMTP_PW}
  nats:
    providers:
      - name: bus
        nats: {user: relay, password_file: /nonexistent/ignored, password_env: NATS_PW}
`,
		"b.token":      "bot-token-from-file-0123\r\n",
		"twilio.token": "TwilioToken0123456789\n",
	})
	env := envOf(map[string]string{"RELAY_A": "admin-token-from-env", "SMTP_PW": "비밀번호-smtp", "NATS_PW": "nats-pw"})
	_, err := Load(filepath.Join(dir, "relay.yaml"), env)
	// Two sources for one secret is reported once.
	want := "channels.nats.providers[0].nats.password_env: set only one of password_env, password_file"
	if err == nil || err.Error() != want {
		t.Fatalf("Load: %v\nwant: %s", err, want)
	}

	data, _ := os.ReadFile(filepath.Join(dir, "relay.yaml"))
	fixed := strings.Replace(string(data), "password_file: /nonexistent/ignored, ", "", 1)
	if err := os.WriteFile(filepath.Join(dir, "relay.yaml"), []byte(fixed), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := Load(filepath.Join(dir, "relay.yaml"), env)
	if err != nil {
		t.Fatal(err)
	}
	got := []string{
		c.API.Tokens[0].Token.Reveal(), c.API.Tokens[1].Token.Reveal(),
		c.Channels.SMS.Providers[0].Twilio.AuthToken.Reveal(),
		c.Channels.Email.Providers[0].SMTP.Password.Reveal(),
		c.Channels.NATS.Providers[0].NATS.Password.Reveal(),
	}
	want2 := []string{"admin-token-from-env", "bot-token-from-file-0123", "TwilioToken0123456789", "비밀번호-smtp", "nats-pw"}
	if !slices.Equal(got, want2) {
		t.Errorf("secrets = %q, want %q", got, want2)
	}
	if err := c.ResolveSecrets(env); err != nil {
		t.Errorf("resolving twice: %v", err)
	}
	if got := c.API.Tokens[1].Token.Reveal(); got != "bot-token-from-file-0123" {
		t.Errorf("after resolving twice the token is %q", got)
	}
}

func TestLoadErrors(t *testing.T) {
	base := "node: {name: n1, data_dir: data}\n"
	tests := []struct {
		name  string
		files map[string]string // relay.yaml and its neighbours
		env   map[string]string
		want  string // $DIR stands for the config's folder
	}{
		{"variable not set", map[string]string{"relay.yaml": base + "api: {tokens: [{name: a, role: admin, token_env: RELAY_A}]}"}, nil,
			"api.tokens[0].token_env: environment variable RELAY_A is not set"},
		{"file missing", map[string]string{"relay.yaml": base + "api: {tokens: [{name: a, role: admin, token_file: a.token}]}"}, nil,
			"api.tokens[0].token_file: cannot read $DIR/a.token: no such file or directory"},
		{"file empty", map[string]string{"relay.yaml": base + "api: {tokens: [{name: a, role: admin, token_file: a.token}]}", "a.token": "\n"}, nil,
			"api.tokens[0].token_file: $DIR/a.token is empty"},
		{"short token from env", map[string]string{"relay.yaml": base + "api: {tokens: [{name: a, role: admin, token_env: RELAY_A}]}"},
			map[string]string{"RELAY_A": "short"},
			"api.tokens[0].token: must be at least 16 characters; generate one with: openssl rand -hex 32"},
		{"same token from env and file", map[string]string{
			"relay.yaml": base + "api: {tokens: [{name: a, role: admin, token_env: RELAY_A}, {name: b, role: bot, token_file: b.token}]}",
			"b.token":    "same-token-0123456789\n"},
			map[string]string{"RELAY_A": "same-token-0123456789"},
			`api.tokens[1].token: has the same value as api.tokens[0].token; the tokens "a" and "b" must differ`},
		{"two sources reported once", map[string]string{"relay.yaml": base + "api: {tokens: [{name: a, role: admin, token: x, token_env: RELAY_A}]}"},
			map[string]string{"RELAY_A": "admin-token-0123456789"},
			"api.tokens[0].token: set only one of token, token_env and token_file"},
		{"twilio token from env checked", map[string]string{"relay.yaml": base + `api: {tokens: [{name: a, role: admin, token: admin-token-0123456789}]}
channels: {sms: {providers: [{name: s, twilio: {account_sid: AC0123456789abcdef0123456789abcdef, auth_token_env: TW, from: "+12025550143"}}]}}`},
			map[string]string{"TW": "not-alphanumeric"},
			"channels.sms.providers[0].twilio.auth_token: must contain only letters and digits"},
		{"validation and resolution together, in file order", map[string]string{"relay.yaml": "node: {data_dir: d}\napi: {tokens: [{name: a, role: admin, token_env: RELAY_A}]}\nlog: {level: loud}"}, nil,
			"node.name: is required (the node's name in its cluster, such as seoul-1)\n" +
				"api.tokens[0].token_env: environment variable RELAY_A is not set\n" +
				`log.level: unknown level "loud" (known: debug, info, warn, error)`},
		{"decode error", map[string]string{"relay.yaml": base + "nodes: 1\n"}, nil,
			`line 2: unknown key "nodes" at the top level (known: node, http, api, roster_file, delivery, channels, inbound, cluster, store, limits, console, watch, log, drills)`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := writeFiles(t, tt.files)
			c, err := Load(filepath.Join(dir, "relay.yaml"), envOf(tt.env))
			want := strings.ReplaceAll(tt.want, "$DIR", dir)
			if err == nil || err.Error() != want {
				t.Errorf("Load error:\n%v\nwant:\n%s", err, want)
			}
			if c != nil {
				t.Errorf("Load returned a config with its error")
			}
		})
	}
}

func TestLoadMissingFile(t *testing.T) {
	_, err := Load(filepath.Join(t.TempDir(), "relay.yaml"), nil)
	if !errors.Is(err, os.ErrNotExist) || !strings.HasPrefix(err.Error(), "read config: ") {
		t.Errorf("Load of a missing file: %v", err)
	}
}
