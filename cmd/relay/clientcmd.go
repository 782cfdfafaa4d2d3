package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"

	"github.com/oob-relay/relay/relay"
	"github.com/oob-relay/relay/relay/client"
)

// newClient builds a client from RELAY_ADDR, RELAY_TOKEN and
// RELAY_CA_FILE.
func newClient(e *env) (*client.Client, error) {
	addrs, err := client.ParseAddrs(e.getenv("RELAY_ADDR"))
	if err != nil {
		return nil, err
	}
	tok := e.getenv("RELAY_TOKEN")
	if tok == "" {
		return nil, errors.New("RELAY_TOKEN is not set: export the API token to use")
	}
	hc, err := clientHTTP(e)
	if err != nil {
		return nil, err
	}
	for _, u := range addrs {
		if !tokenSafe(u) {
			fmt.Fprintf(e.stderr, "warning: %s is plain http to another host: the token crosses the network in clear text; use https\n", u.Redacted())
		}
	}
	return client.New(addrs, tok, hc), nil
}

// tokenSafe reports whether a bearer token may be sent to u without
// crossing a network in clear text: over https, or to a loopback host.
func tokenSafe(u *url.URL) bool {
	return u.Scheme == "https" || relay.LoopbackHost(u.Hostname())
}

// clientHTTP is the HTTP client of the client verbs: HTTPS nodes are
// verified against the certificates of RELAY_CA_FILE when it is set, and
// against the system's roots otherwise.
func clientHTTP(e *env) (*http.Client, error) {
	f := e.getenv("RELAY_CA_FILE")
	hc, err := client.HTTPClient(f)
	if err != nil {
		return nil, fmt.Errorf("RELAY_CA_FILE: %w", err)
	}
	return hc, nil
}

func printJSON(e *env, v any) error {
	enc := json.NewEncoder(e.stdout)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	return enc.Encode(v)
}

func plural(n int, one, many string) string {
	if n == 1 {
		return fmt.Sprintf("%d %s", n, one)
	}
	return fmt.Sprintf("%d %s", n, many)
}
