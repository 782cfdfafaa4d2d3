package alertmanager_test

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/oob-relay/relay/relay/secret"
)

// No token or password, configured or presented, reaches a log line, an
// answer, an error or a printed config.
func TestSecretsNeverShow(t *testing.T) {
	leaks := []string{
		testToken, testPassword, wrongToken,
		base64.StdEncoding.EncodeToString([]byte(testUser + ":" + testPassword)),
		base64.StdEncoding.EncodeToString([]byte(testUser + ":" + wrongToken)),
	}
	var outputs []string
	show := func(what string, v any) { outputs = append(outputs, what+": "+fmt.Sprint(v)) }

	cfg := baseConfig()
	cfg.Username, cfg.Password = testUser, secret.New(testPassword)
	h := newHarness(t, cfg)
	answers := []answer{
		h.send(t, fixture(t, "firing"), bearer(testToken)),
		h.send(t, fixture(t, "firing"), bearer(wrongToken)),
		h.send(t, fixture(t, "firing"), basic(testUser, wrongToken)),
		h.send(t, fixture(t, "firing"), basic(testUser, testPassword)),
		h.send(t, []byte(`{"version":"3"}`), bearer(testToken)),
	}
	h.faults.Store(1)
	answers = append(answers, h.send(t, fixture(t, "resolved"), bearer(testToken)))
	req, _ := http.NewRequest(http.MethodGet, h.url, nil)
	bearer(wrongToken)(req)
	answers = append(answers, h.do(t, req))
	for i, a := range answers {
		show(fmt.Sprintf("answer %d", i), string(a.body))
		show(fmt.Sprintf("answer %d headers", i), a.header)
	}
	if answers[1].status != http.StatusUnauthorized || answers[3].status != http.StatusOK || answers[5].status != http.StatusServiceUnavailable {
		t.Fatalf("the requests did not go the expected ways: %d %d %d", answers[1].status, answers[3].status, answers[5].status)
	}
	show("logs", h.logs.String())

	show("%v", fmt.Sprintf("%v", cfg))
	show("%+v", fmt.Sprintf("%+v", cfg))
	show("%#v", fmt.Sprintf("%#v", cfg))
	j, _ := json.Marshal(cfg)
	show("json", string(j))
	y, _ := yaml.Marshal(cfg)
	show("yaml", string(y))

	// Validate and ResolveSecrets errors about the secrets.
	bad := baseConfig()
	bad.Token = secret.New(testToken[:10])
	bad.Username, bad.Password, bad.PasswordEnv = testUser, secret.New(testPassword), "AM_PASSWORD"
	show("Validate", bad.Validate())
	show("ResolveSecrets", bad.ResolveSecrets(t.TempDir(), func(string) string { return testPassword }))
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "token"), []byte(testToken), 0o600); err != nil {
		t.Fatal(err)
	}
	viaFile := baseConfig()
	viaFile.Token, viaFile.TokenFile, viaFile.TokenEnv = secret.String{}, "token", "AM_TOKEN"
	show("ResolveSecrets from file and env", viaFile.ResolveSecrets(dir, func(string) string { return testToken }))
	short := baseConfig()
	short.Token, short.TokenEnv = secret.String{}, "AM_TOKEN"
	if err := short.ResolveSecrets(dir, func(string) string { return testToken[:8] }); err != nil {
		t.Fatal(err)
	}
	show("Validate after resolving", short.Validate())

	for _, out := range outputs {
		for _, leak := range leaks {
			if strings.Contains(out, leak) {
				t.Errorf("%q shows in %.300s", leak, out)
			}
		}
		if strings.Contains(out, testToken[:10]) || strings.Contains(out, testToken[:8]) {
			t.Errorf("part of the token shows in %.300s", out)
		}
	}
	if !strings.Contains(h.logs.String(), "alertmanager notification refused") {
		t.Error("refusals are not logged at all, so the check above proves nothing")
	}
	if !strings.Contains(fmt.Sprintf("%+v", cfg), secret.Masked) {
		t.Error("the printed config does not mask the token")
	}
}
