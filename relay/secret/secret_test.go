package secret

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

const value = "hunter2xyz"

func TestStringNeverPrintsValue(t *testing.T) {
	s := New(value)
	var logs bytes.Buffer
	slog.New(slog.NewJSONHandler(&logs, nil)).Info("x", "token", s, "struct", struct{ T String }{s})
	js, _ := json.Marshal(struct{ T String }{s})
	ym, _ := yaml.Marshal(struct{ T String }{s})
	for name, out := range map[string]string{
		"%v": fmt.Sprintf("%v", s), "%s": fmt.Sprintf("%s", s), "%q": fmt.Sprintf("%q", s),
		"%+v": fmt.Sprintf("%+v", struct{ T String }{s}), "%#v": fmt.Sprintf("%#v", s),
		"json": string(js), "yaml": string(ym), "slog": logs.String(),
		"error": fmt.Errorf("wrapped: %v", s).Error(),
	} {
		if strings.Contains(out, value) {
			t.Errorf("%s output %q contains the secret", name, out)
		}
		if !strings.Contains(out, Masked) && !strings.Contains(out, `\u003csecret\u003e`) {
			t.Errorf("%s output %q does not show %s", name, out, Masked)
		}
	}
	if s.Reveal() != value {
		t.Fatalf("Reveal() = %q", s.Reveal())
	}
}

func TestResolve(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "tok"), []byte(value+"\n"), 0o600)
	os.WriteFile(filepath.Join(dir, "empty"), nil, 0o600)
	env := map[string]string{"TOK": value}
	getenv := func(k string) string { return env[k] }
	cases := []struct {
		name    string
		src     Source
		want    string
		wantErr string
	}{
		{"literal", Source{Key: "password", Literal: New(value)}, value, ""},
		{"env", Source{Key: "password", Env: "TOK"}, value, ""},
		{"relative file", Source{Key: "password", File: "tok"}, value, ""},
		{"none", Source{Key: "password"}, "", ""},
		{"two", Source{Key: "password", Literal: New(value), Env: "TOK"}, "", "password: set only one of password, password_env and password_file"},
		{"missing env", Source{Key: "password", Env: "NOPE"}, "", "password_env: environment variable NOPE is not set"},
		{"missing file", Source{Key: "password", File: "nope"}, "", "password_file: cannot read " + filepath.Join(dir, "nope") + ": no such file or directory"},
		{"empty file", Source{Key: "password", File: "empty"}, "", "password_file: " + filepath.Join(dir, "empty") + " is empty"},
	}
	for _, c := range cases {
		got, err := c.src.Resolve(dir, getenv)
		if c.wantErr != "" {
			if err == nil || err.Error() != c.wantErr {
				t.Errorf("%s: err = %v, want %q", c.name, err, c.wantErr)
			}
			if err != nil && strings.Contains(err.Error(), value) {
				t.Errorf("%s: error leaks the secret", c.name)
			}
			continue
		}
		if err != nil || got.Reveal() != c.want {
			t.Errorf("%s: got %q, %v; want %q", c.name, got.Reveal(), err, c.want)
		}
	}
}
