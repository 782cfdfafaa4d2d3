package config

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

// marker is part of every secret in these tests; no output may contain it.
const marker = "S3CRET"

// leakyYAML puts a recognisable secret in every secret key, literally, and
// breaks the configuration in many ways, several of them about the secrets
// themselves.
const leakyYAML = `
node: {name: Bad_Name}
http: {listen: nowhere, public_url: "https://u:pw-S3CRET@relay.example.com"}
api:
  tokens:
    - {name: a, role: admin, token: API-LITERAL-S3CRET-0001}
    - {name: b, role: bot, token: API-LITERAL-S3CRET-0001}
    - {name: c, role: viewer, token: "short S3CRET"}
    - {name: d, role: viewer, token_env: RELAY_D}
    - {name: e, role: viewer, token_file: e.token}
    - {name: f, role: viewer, token: API-BOTH-S3CRET-000001, token_env: RELAY_D}
channels:
  sms:
    providers:
      - name: s1
        twilio: {account_sid: AC1, auth_token: Twilio-S3CRET-literal, from: "+1"}
      - name: s2
        twilio: {account_sid: AC1, auth_token_env: TWILIO, auth_token: TwilioS3CRETboth}
  email:
    providers:
      - name: m1
        smtp: {address: "x", password: SMTP-S3CRET-literal, from: nobody}
      - name: m2
        smtp: {address: "x:1", username: u, password_env: SMTP_PW, password: SMTP-S3CRET-both, from: a@b.c}
  nats:
    providers:
      - name: n1
        nats: {password: NATS-PW-S3CRET, token: NATS-TOKEN-S3CRET, urls: ["nats://user:NATS-URL-S3CRET@x:1"]}
      - name: n2
        nats: {user: u, password_env: NATS_PW, token_file: e.token}
log: {level: loud}
`

var leakyEnv = map[string]string{
	"RELAY_D": "ENV token S3CRET with spaces",
	"TWILIO":  "Env-Twilio-S3CRET!",
	"SMTP_PW": "SMTP-env-S3CRET",
	"NATS_PW": "NATS-env-S3CRET",
}

func assertNoSecret(t *testing.T, what, text string) {
	t.Helper()
	if strings.Contains(text, marker) {
		t.Errorf("%s shows a secret:\n%s", what, text)
	}
}

func TestErrorsNeverShowSecrets(t *testing.T) {
	dir := writeFiles(t, map[string]string{
		"relay.yaml": leakyYAML,
		"e.token":    "API-LITERAL-S3CRET-0001\n",
	})
	_, err := Load(filepath.Join(dir, "relay.yaml"), envOf(leakyEnv))
	if err == nil {
		t.Fatal("Load accepted a broken config")
	}
	// The config must have failed for the secrets' sake too, or the test
	// proves little.
	for _, want := range []string{
		"api.tokens[1].token: has the same value as api.tokens[0].token",
		"api.tokens[2].token: must be printable ASCII",
		"api.tokens[3].token: must be printable ASCII",
		"api.tokens[4].token: has the same value as api.tokens[0].token",
		"api.tokens[5].token: set only one of token, token_env and token_file",
		"channels.sms.providers[0].twilio.auth_token: must contain only letters and digits",
		"channels.sms.providers[1].twilio.auth_token: set only one of",
		"channels.email.providers[0].smtp.username: is required when a password is set",
		"channels.email.providers[1].smtp.password: set only one of",
		"channels.nats.providers[0].nats.token: cannot be combined with user",
		"channels.nats.providers[0].nats.urls[0]:",
		"channels.nats.providers[1].nats.token_file: cannot be combined with user",
		"http.public_url:",
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("Load's error lacks %q", want)
		}
	}
	assertNoSecret(t, "Load's error", err.Error())

	c, err := Decode(strings.NewReader(leakyYAML))
	if err != nil {
		t.Fatal(err)
	}
	c.SetDefaults()
	assertNoSecret(t, "Validate's error", fmt.Sprint(c.Validate()))
	assertNoSecret(t, "ResolveSecrets' error", fmt.Sprint(c.ResolveSecrets(envOf(leakyEnv))))
	assertNoSecret(t, "Validate's error after resolving", fmt.Sprint(c.Validate()))
}

func TestDecodeErrorsNeverShowSecrets(t *testing.T) {
	for _, in := range []string{
		"api: {tokens: [{name: a, token: [DECODE-S3CRET]}]}\n",
		"api: {tokens: [{name: a, token: {DECODE-S3CRET: 1}}]}\n",
		"api: {tokens: [{name: a, tokn: DECODE-S3CRET}]}\n",
		"channels: {sms: {providers: [{twilio: {auth_token: [Twilio-S3CRET]}}]}}\n",
		"channels: {email: {providers: [{smtp: {password: {a: SMTP-S3CRET}}}]}}\n",
		"channels: {nats: {providers: [{nats: {token: [NATS-S3CRET], password: [NATS-S3CRET]}}]}}\n",
	} {
		_, err := Decode(strings.NewReader(in))
		if err == nil {
			t.Errorf("Decode(%q) succeeded", in)
			continue
		}
		assertNoSecret(t, "Decode's error", err.Error())
	}
}

// TestPrintedConfigHidesSecrets prints and encodes a loaded config every
// way a program might log it.
func TestPrintedConfigHidesSecrets(t *testing.T) {
	dir := writeFiles(t, map[string]string{
		"relay.yaml": `
node: {name: n1, data_dir: data}
api:
  tokens:
    - {name: a, role: admin, token: API-LITERAL-S3CRET-0001}
    - {name: b, role: bot, token_file: b.token}
channels:
  sms: {providers: [{name: s, twilio: {account_sid: AC0123456789abcdef0123456789abcdef, auth_token_env: TW, from: "+12025550143"}}]}
  email: {providers: [{name: m, smtp: {address: "127.0.0.1:25", tls: none, username: u, password_env: PW, from: a@example.com}}]}
  nats: {providers: [{name: n, nats: {user: u, password: NATS-PW-S3CRET}}, {name: n2, nats: {token_env: NT}}]}
`,
		"b.token": "API-FILE-S3CRET-00001\n",
	})
	env := envOf(map[string]string{"TW": "TwilioEnvS3CRET", "PW": "SMTP-env-S3CRET", "NT": "NATS-token-S3CRET"})
	c, err := Load(filepath.Join(dir, "relay.yaml"), env)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(c.API.Tokens[1].Token.Reveal(), marker) || !strings.Contains(c.Channels.SMS.Providers[0].Twilio.AuthToken.Reveal(), marker) {
		t.Fatal("the secrets were not loaded, so hiding them proves nothing")
	}
	for _, verb := range []string{"%v", "%+v", "%#v", "%s"} {
		assertNoSecret(t, verb, fmt.Sprintf(verb, c))
		assertNoSecret(t, verb+" of the value", fmt.Sprintf(verb, *c))
	}
	j, err := json.Marshal(c)
	if err != nil {
		t.Fatal(err)
	}
	assertNoSecret(t, "JSON", string(j))
	y, err := yaml.Marshal(c)
	if err != nil {
		t.Fatal(err)
	}
	assertNoSecret(t, "YAML", string(y))
	var buf bytes.Buffer
	slog.New(slog.NewTextHandler(&buf, nil)).Info("config loaded", "config", c, "tokens", c.API.Tokens)
	slog.New(slog.NewJSONHandler(&buf, nil)).Info("config loaded", "config", c, "token", c.API.Tokens[0].Token)
	assertNoSecret(t, "the log", buf.String())
}
