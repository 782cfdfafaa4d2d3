package main

import (
	"fmt"
	"testing"

	"github.com/rogpeppe/go-internal/testscript"
)

// TestMain lets the tests run this binary as the relay command, both in
// scripts and as real `relay serve` processes, and as burn, a process
// that keeps one core busy until it is killed.
func TestMain(m *testing.M) {
	testscript.Main(m, map[string]func(){"relay": main, "burn": burn})
}

// burn spins forever: a CPU burner for tests that saturate the machine.
func burn() {
	x := uint64(1)
	for {
		x = x*6364136223846793005 + 1442695040888963407
		if x == 0 {
			fmt.Println(x) // never: keeps the loop from being optimised away
		}
	}
}
