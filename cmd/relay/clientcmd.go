package main

import (
	"encoding/json"
	"errors"
	"fmt"

	"github.com/oob-relay/relay/relay/client"
)

// newClient builds a client from RELAY_ADDR and RELAY_TOKEN.
func newClient(e *env) (*client.Client, error) {
	addrs, err := client.ParseAddrs(e.getenv("RELAY_ADDR"))
	if err != nil {
		return nil, err
	}
	tok := e.getenv("RELAY_TOKEN")
	if tok == "" {
		return nil, errors.New("RELAY_TOKEN is not set: export the API token to use")
	}
	return client.New(addrs, tok, nil), nil
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
