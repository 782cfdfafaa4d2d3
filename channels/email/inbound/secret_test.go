package inbound

import (
	"encoding/base64"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/emersion/go-sasl"

	"github.com/oob-relay/relay/internal/testkit"
	"github.com/oob-relay/relay/relay/secret"
)

// TestSecretsNeverShow runs logins, replies and refusals with a debug
// logger and checks that neither a bot password nor the reply key reaches
// a log line, an error or a printed value, nor a message body a log line.
func TestSecretsNeverShow(t *testing.T) {
	var logs testkit.LogBuffer
	logger := slog.New(slog.NewJSONHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	var opts Options
	ts := startServer(t, func(o *Options) {
		withBot(o)
		o.Logger = logger
		opts = *o
	})
	const body = "body-text-that-must-not-be-logged"

	// A refused and an accepted login, a post, a forged reply address and
	// a refused From.
	c := dial(t, ts.addr)
	if err := c.Auth(sasl.NewPlainClient("", botUser, botPassword+"x")); err == nil {
		t.Fatal("a wrong password was accepted")
	}
	if err := c.Auth(sasl.NewPlainClient("", botUser, botPassword)); err != nil {
		t.Fatal(err)
	}
	if err := send(c, "bot@monitoring.example", []string{"db-outage@" + domain},
		mailBytes("bot@monitoring.example", "db-outage@"+domain, "", body+"\n")); err != nil {
		t.Fatal(err)
	}
	if err := sendOne(t, ts.addr, "kim@example.com", []string{"r+aaaaaaaaaaaaaaaaaaaaaaaaaaaaaa@" + domain}, nil); err == nil {
		t.Fatal("a forged reply address was accepted")
	}
	if err := sendOne(t, ts.addr, "kim@example.com", []string{"db-outage@" + domain},
		mailBytes("stranger@example.net", "db-outage@"+domain, "", body+"\n")); err == nil {
		t.Fatal("a stranger's From was accepted")
	}
	reply := testKey(t).Address("kim", "db-outage", domain)
	if err := sendOne(t, ts.addr, "kim@example.com", []string{reply},
		mailBytes("kim@example.com", reply, "", body+"\n")); err != nil {
		t.Fatal(err)
	}

	outputs := []string{
		logs.String(),
		fmt.Sprintf("%v %+v %#v", opts, opts, opts),
	}
	// A Server as built from those options (printing the running one
	// would race with its connections).
	idle, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	outputs = append(outputs, fmt.Sprintf("%v %+v %#v", idle, idle, idle))
	// Configuration errors.
	dir := t.TempDir()
	cfg := Config{Domain: domain, ReplyKeys: []secret.String{secret.New(keySecret), secret.New("short-secret-key")},
		ReplyKeysEnv: "RELAY_REPLY_KEYS",
		Auth:         []AuthUser{{Username: botUser, Password: secret.New(botPassword), PasswordFile: "missing"}}}
	outputs = append(outputs, fmt.Sprint(cfg.Validate()), fmt.Sprint(cfg.ResolveSecrets(dir, func(string) string { return keySecret })),
		fmt.Sprintf("%+v %#v", cfg, cfg))
	keyFile := filepath.Join(dir, "keys")
	if err := os.WriteFile(keyFile, []byte("short-secret-key\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg2 := Config{Domain: domain, ReplyKeysFile: keyFile}
	if err := cfg2.ResolveSecrets(dir, nil); err != nil {
		t.Fatal(err)
	}
	_, err = cfg2.Options()
	outputs = append(outputs, fmt.Sprint(err), fmt.Sprintf("%+v", cfg2))
	if _, err := New(Options{Domain: domain, Auth: map[string]Bot{"": {Password: secret.New(botPassword)}}}); err != nil {
		outputs = append(outputs, err.Error())
	} else {
		t.Error("New accepted options without a Receiver")
	}

	for _, want := range []string{"email login refused", "email login", "email bot post", "email refused"} {
		if !strings.Contains(logs.String(), want) {
			t.Errorf("the logs have no %q line, so they prove nothing:\n%s", want, logs.String())
		}
	}
	leaks := []string{
		botPassword,
		base64.StdEncoding.EncodeToString([]byte("\x00" + botUser + "\x00" + botPassword)),
		keySecret,
		"short-secret-key",
	}
	for _, out := range outputs {
		for _, leak := range leaks {
			if strings.Contains(out, leak) {
				t.Errorf("output shows a secret (%q):\n%s", leak, out)
			}
		}
	}
	if strings.Contains(logs.String(), body) {
		t.Errorf("the logs show a message body:\n%s", logs.String())
	}
}
