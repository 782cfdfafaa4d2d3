// Package secret holds credentials so that they cannot be printed by
// accident: a String formats, marshals and logs as "<secret>", and only
// Reveal gives the value, at the one place that sends it.
package secret

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"

	"go.yaml.in/yaml/v3"
)

// Masked is what a String prints as.
const Masked = "<secret>"

// String is a secret value.
type String struct{ v string }

// New wraps v.
func New(v string) String { return String{v: v} }

// Reveal returns the value. Call it only where the value is sent.
func (s String) Reveal() string { return s.v }

// IsZero reports whether no value is set.
func (s String) IsZero() bool { return s.v == "" }

func (s String) String() string   { return s.mask() }
func (s String) GoString() string { return s.mask() }

// LogValue keeps the value out of slog output.
func (s String) LogValue() slog.Value { return slog.StringValue(s.mask()) }

// MarshalJSON keeps the value out of JSON.
func (s String) MarshalJSON() ([]byte, error) { return []byte(`"` + s.mask() + `"`), nil }

// MarshalYAML keeps the value out of YAML.
func (s String) MarshalYAML() (any, error) { return s.mask(), nil }

// MarshalText keeps the value out of text encodings.
func (s String) MarshalText() ([]byte, error) { return []byte(s.mask()), nil }

// UnmarshalYAML reads a literal value.
func (s *String) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind != yaml.ScalarNode {
		return fmt.Errorf("line %d: a secret must be a string", n.Line)
	}
	s.v = n.Value
	return nil
}

func (s String) mask() string {
	if s.v == "" {
		return ""
	}
	return Masked
}

// Source says where a secret comes from: a literal in the config file, an
// environment variable, or a file. At most one may be set. A config key
// "password" has the siblings "password_env" and "password_file".
type Source struct {
	Key     string // the literal's config key, e.g. "password"
	Literal String
	Env     string
	File    string
}

// Resolve returns the secret. Relative file paths resolve against dir (the
// config file's folder). One trailing newline is trimmed from files.
// Errors name the key and never contain the value.
func (src Source) Resolve(dir string, getenv func(string) string) (String, error) {
	n := 0
	for _, set := range []bool{!src.Literal.IsZero(), src.Env != "", src.File != ""} {
		if set {
			n++
		}
	}
	if n > 1 {
		return String{}, fmt.Errorf("%s: set only one of %s, %s_env and %s_file", src.Key, src.Key, src.Key, src.Key)
	}
	switch {
	case src.Env != "":
		v := getenv(src.Env)
		if v == "" {
			return String{}, fmt.Errorf("%s_env: environment variable %s is not set", src.Key, src.Env)
		}
		return New(v), nil
	case src.File != "":
		path := src.File
		if !filepath.IsAbs(path) && dir != "" {
			path = filepath.Join(dir, path)
		}
		b, err := os.ReadFile(path)
		if err != nil {
			var pe *os.PathError
			if errors.As(err, &pe) {
				err = pe.Err
			}
			return String{}, fmt.Errorf("%s_file: cannot read %s: %v", src.Key, path, err)
		}
		v := strings.TrimSuffix(strings.TrimSuffix(string(b), "\n"), "\r")
		if v == "" {
			return String{}, fmt.Errorf("%s_file: %s is empty", src.Key, path)
		}
		return New(v), nil
	}
	return src.Literal, nil
}
