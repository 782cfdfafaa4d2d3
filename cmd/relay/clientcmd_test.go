package main

import (
	"bytes"
	"strings"
	"testing"
)

// TestTokenInClearTextWarns: a client verb warns when RELAY_ADDR sends the
// token as plain http to another host, and not over https or loopback.
func TestTokenInClearTextWarns(t *testing.T) {
	for _, tc := range []struct {
		addr string
		warn bool
	}{
		{"http://relay.example.com:8080", true},
		{"https://relay.example.com", false},
		{"http://127.0.0.1:8080,http://[::1]:8081,http://localhost:8082", false},
		{"https://relay-a.example.com,http://10.0.0.7:8080", true},
	} {
		var stderr bytes.Buffer
		e := &env{stderr: &stderr, getenv: func(k string) string {
			return map[string]string{"RELAY_ADDR": tc.addr, "RELAY_TOKEN": "0123456789abcdef0123"}[k]
		}}
		if _, err := newClient(e); err != nil {
			t.Fatal(err)
		}
		got := strings.Contains(stderr.String(), "clear text")
		if got != tc.warn {
			t.Errorf("RELAY_ADDR=%s: warned %v (%q), want %v", tc.addr, got, stderr.String(), tc.warn)
		}
		if strings.Contains(stderr.String(), "0123456789abcdef0123") {
			t.Errorf("the warning shows the token: %q", stderr.String())
		}
	}
}
