package launch_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/oob-relay/relay/config"
)

// baseConfig is a node's config with one admin token (testToken) and a
// roster file, listening on a free loopback port.
const baseConfig = `node:
  name: seoul-1
  data_dir: data
http:
  listen: 127.0.0.1:0
api:
  tokens:
    - name: ops
      role: admin
      token_env: TEST_LAUNCH_TOKEN
roster_file: roster.yaml
`

// loadConfig writes cfg as relay.yaml and roster as roster.yaml in a
// directory of the test's and loads the config as relay serve does, with
// TEST_LAUNCH_TOKEN set to testToken.
func loadConfig(t *testing.T, cfg, roster string) *config.Config {
	t.Helper()
	dir := t.TempDir()
	for name, body := range map[string]string{"relay.yaml": cfg, "roster.yaml": roster} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	c, err := config.Load(filepath.Join(dir, "relay.yaml"), func(k string) string {
		if k == "TEST_LAUNCH_TOKEN" {
			return testToken
		}
		return ""
	})
	if err != nil {
		t.Fatal(err)
	}
	return c
}
