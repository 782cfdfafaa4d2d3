package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"

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
	return client.New(addrs, tok, hc), nil
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
