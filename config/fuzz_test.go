package config

import (
	"bytes"
	"os"
	"regexp"
	"strings"
	"testing"
)

var (
	// keyPath is how every validation problem starts.
	keyPath = regexp.MustCompile(`^[a-z_]+(\[\d+\])?(\.[a-z_]+(\[\d+\])?)*: `)
	// goType is what decoding errors must not show instead of keys.
	goType = regexp.MustCompile(`\b(config|twilio|email|nats|secret|relay|time)\.[A-Z]`)
)

// FuzzDecode feeds any input to Decode, SetDefaults and Validate: they must
// not panic, decoding errors must name keys rather than Go types, and every
// validation problem must be one line that starts with its key path.
func FuzzDecode(f *testing.F) {
	full, err := os.ReadFile("testdata/full.yaml")
	if err != nil {
		f.Fatal(err)
	}
	for _, seed := range []string{
		string(full), baseYAML, leakyYAML, minimal, "", "~", "- a", "a: b\n---\nc: d\n",
		"node: {name: a, data_dir: b}\napi: {tokens: [{name: t, role: bot, token: x}]}\n",
		"x: &a {name: 1}\nnode: *a\n", "node:\n  <<: [{name: a}, {data_dir: b}]\n",
		"channels: {sms: {providers: [{name: s, rate: .nan, burst: -1, twilio: {timeout: 1h}}]}}\n",
		"delivery: {backoff: {initial: 2m}, deadlines: {critical: -1s}}\n",
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := Decode(bytes.NewReader(data))
		if err != nil {
			if err.Error() == "" {
				t.Fatal("Decode returned an empty error")
			}
			for _, line := range strings.Split(err.Error(), "\n") {
				if goType.MatchString(line) || strings.HasPrefix(line, "yaml: ") {
					t.Errorf("Decode error names Go types rather than keys: %q", line)
				}
			}
			return
		}
		c.SetDefaults()
		c.EnabledChannels()
		c.Level()
		if err := c.Validate(); err != nil {
			for _, line := range strings.Split(err.Error(), "\n") {
				if !keyPath.MatchString(line) {
					t.Errorf("validation problem does not start with a key path: %q", line)
				}
			}
		}
	})
}
