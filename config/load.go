package config

import (
	"bytes"
	"cmp"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
)

// Load reads the config file at path, decodes it, sets Dir to the file's
// folder, fills in defaults, validates it and resolves its secrets and
// relative paths. It reports every problem it finds at once, joined with
// errors.Join; the errors name keys and lines but not the file. Secrets
// read from the environment or from files are validated too. A nil getenv
// means os.Getenv.
func Load(path string, getenv func(string) string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read config: %w", err)
	}
	c, err := Decode(bytes.NewReader(data))
	if err != nil {
		return nil, err
	}
	c.Dir = filepath.Dir(path)
	if abs, err := filepath.Abs(c.Dir); err == nil {
		c.Dir = abs
	}
	c.SetDefaults()
	// Validate, resolve the secrets, then validate again: the secrets read
	// from the environment and files are literals now and get checked too.
	// A later step's problem with a key an earlier step already reported
	// (two sources of one secret, say) is left out.
	var errs []error
	reported := map[string]bool{}
	for _, step := range []func() error{c.Validate, func() error { return c.ResolveSecrets(getenv) }, c.Validate} {
		var keys []string
		for _, e := range flatten(step()) {
			k := secretKey(e.Error())
			if !reported[k] {
				errs = append(errs, e)
				keys = append(keys, k)
			}
		}
		for _, k := range keys {
			reported[k] = true
		}
	}
	if len(errs) > 0 {
		slices.SortStableFunc(errs, func(a, b error) int { return cmpPosition(a.Error(), b.Error()) })
		return nil, errors.Join(errs...)
	}
	return c, nil
}

// sections orders the top-level keys as a config file usually has them;
// channels count one section per channel.
var sections = []string{"node", "http", "api", "roster_file", "delivery", "channels.sms", "channels.voice", "channels.email", "channels.nats", "inbound.email", "inbound.alertmanager", "cluster", "log"}

// cmpPosition orders two problems by where their keys usually are in the
// file: by section, then by list index (api.tokens[2] after api.tokens[1]).
func cmpPosition(a, b string) int {
	sa, ia := position(a)
	sb, ib := position(b)
	if sa != sb {
		return cmp.Compare(sa, sb)
	}
	return cmp.Compare(ia, ib)
}

// position returns the section and first list index of the key an error
// message starts with; -1 for none.
func position(msg string) (section, index int) {
	key, _, _ := strings.Cut(msg, ": ")
	section = len(sections)
	for i, s := range sections {
		if key == s || strings.HasPrefix(key, s+".") || strings.HasPrefix(key, s+"[") {
			section = i
			break
		}
	}
	index = -1
	if i := strings.IndexByte(key, '['); i >= 0 {
		if j := strings.IndexByte(key[i:], ']'); j > 0 {
			if n, err := strconv.Atoi(key[i+1 : i+j]); err == nil {
				index = n
			}
		}
	}
	return section, index
}

// secretKey returns the key an error message starts with, with a _env or
// _file suffix removed, so that "token_env: ..." and "token: ..." match.
func secretKey(msg string) string {
	key, _, ok := strings.Cut(msg, ": ")
	if !ok {
		return msg
	}
	for _, suffix := range []string{"_env", "_file"} {
		key = strings.TrimSuffix(key, suffix)
	}
	return key
}
