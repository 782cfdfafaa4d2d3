package main

import (
	"testing"

	"github.com/rogpeppe/go-internal/testscript"
)

// TestMain lets the tests run this binary as the relay command, both in
// scripts and as real `relay serve` processes.
func TestMain(m *testing.M) {
	testscript.Main(m, map[string]func(){"relay": main})
}
