package config

import (
	"errors"
	"fmt"
	"os"

	"github.com/oob-relay/relay/relay/secret"
)

// ResolveSecrets reads every secret given through a *_env or *_file key
// into its literal key and clears the other two: the API tokens and each
// provider's credentials (through its channel configuration's own
// ResolveSecrets). Relative secret files, node.data_dir, roster_file and
// the http.tls files resolve against c.Dir and are made absolute where
// c.Dir is; the http.tls certificate and key are read and checked. A nil getenv
// means os.Getenv.
//
// It reports every problem at once, each starting with its key path, and
// never includes a secret's value. Resolving twice is harmless. Call
// Validate again afterwards to check the values read (Load does).
func (c *Config) ResolveSecrets(getenv func(string) string) error {
	if getenv == nil {
		getenv = os.Getenv
	}
	var errs []error
	for i := range c.API.Tokens {
		t := &c.API.Tokens[i]
		src := secret.Source{Key: "token", Literal: t.Token, Env: t.TokenEnv, File: t.TokenFile}
		v, err := src.Resolve(c.Dir, getenv)
		if err != nil {
			errs = append(errs, prefixed(fmt.Sprintf("api.tokens[%d]", i), err)...)
			continue
		}
		t.Token, t.TokenEnv, t.TokenFile = v, "", ""
	}
	for _, p := range c.providers() {
		errs = append(errs, prefixed(p.key+"."+p.sub, p.conf.ResolveSecrets(c.Dir, getenv))...)
	}
	errs = append(errs, c.Inbound.resolveSecrets(c.Dir, getenv)...)
	if c.HTTP.TLS != nil {
		errs = append(errs, c.HTTP.TLS.resolve(c.Path)...)
	}
	if c.Cluster != nil {
		errs = append(errs, prefixed("cluster", c.Cluster.ResolveSecrets(c.Dir, getenv))...)
		errs = append(errs, c.Cluster.resolveTrust(c.Path)...)
	}
	c.Node.DataDir = c.Path(c.Node.DataDir)
	c.RosterFile = c.Path(c.RosterFile)
	return errors.Join(errs...)
}
