package relay

import "testing"

func TestLoopbackHost(t *testing.T) {
	for host, want := range map[string]bool{
		"localhost":             true,
		"LOCALHOST":             true,
		"localhost.":            true,
		"127.0.0.1":             true,
		"127.3.2.1":             true,
		"::1":                   true,
		"[::1]":                 true,
		"::ffff:127.0.0.1":      true,
		"":                      false,
		"0.0.0.0":               false,
		"::":                    false,
		"10.0.0.1":              false,
		"192.168.1.10":          false,
		"relay.example.com":     false,
		"localhost.example.com": false,
		"mylocalhost":           false,
		"127.0.0.1.example.com": false,
		"fe80::1%lo":            false,
	} {
		if got := LoopbackHost(host); got != want {
			t.Errorf("LoopbackHost(%q) = %v, want %v", host, got, want)
		}
	}
}
