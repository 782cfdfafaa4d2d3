// Package emulatortest starts Twilio emulators for tests, checked against
// Twilio's OpenAPI description when it is available.
//
// The description is not part of the repository. Tests find it through
// the TWILIO_OPENAPI_SPEC environment variable, or at
// ../shared/twilio/twilio_api_v2010.yaml beside the module root. When it is
// missing, the contract check is off (and said so in the test log), unless
// RELAY_REQUIRE_TWILIO_SPEC=1, which makes its absence a test failure.
package emulatortest

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/oob-relay/relay/channels/twilio/emulator"
)

// Credentials of the test account every emulator started here knows.
// Twilio's credentials are letters and digits only.
const (
	AccountSID = "AC0123456789abcdef0123456789abcdef"
	AuthToken  = "0123456789abcdef0123456789abcdef"
)

// SpecEnv names the environment variable holding the description's path;
// RequireEnv the one that makes a missing description a failure.
const (
	SpecEnv    = "TWILIO_OPENAPI_SPEC"
	RequireEnv = "RELAY_REQUIRE_TWILIO_SPEC"
)

// Where returns where to get the description, for messages.
const Where = "Twilio's public twilio-oai repository, spec/yaml/twilio_api_v2010.yaml"

// SpecPath returns $TWILIO_OPENAPI_SPEC, or else
// <module root>/../shared/twilio/twilio_api_v2010.yaml, where the module
// root is the nearest directory above the working directory holding a
// go.mod.
func SpecPath() string {
	if p := os.Getenv(SpecEnv); p != "" {
		return p
	}
	dir, err := os.Getwd()
	if err != nil {
		return filepath.Join("..", "shared", "twilio", "twilio_api_v2010.yaml")
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return filepath.Join(dir, "..", "shared", "twilio", "twilio_api_v2010.yaml")
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return filepath.Join("..", "shared", "twilio", "twilio_api_v2010.yaml")
		}
		dir = parent
	}
}

// loaded holds the description, loaded once per test binary.
var loaded struct {
	once sync.Once
	path string
	spec *emulator.Spec
	err  error
}

func load() (string, *emulator.Spec, error) {
	loaded.once.Do(func() {
		loaded.path = SpecPath()
		loaded.spec, loaded.err = emulator.LoadSpec(loaded.path)
	})
	return loaded.path, loaded.spec, loaded.err
}

// Missing reports whether the description is absent, and the message
// saying so.
func Missing() (bool, string) {
	path, _, err := load()
	if err != nil && errors.Is(err, fs.ErrNotExist) {
		return true, "Twilio OpenAPI description not found at " + path +
			": the contract check is off. Get it from " + Where +
			" and set " + SpecEnv + " to its path, or place it there."
	}
	return false, ""
}

// Spec returns the description, loading it once per test binary. When it
// is missing it returns nil after logging that the contract check is off,
// or fails the test if RELAY_REQUIRE_TWILIO_SPEC=1. A description that is
// present but cannot be loaded always fails the test.
func Spec(tb testing.TB) *emulator.Spec {
	tb.Helper()
	_, spec, err := load()
	if missing, msg := Missing(); missing {
		if os.Getenv(RequireEnv) == "1" {
			tb.Fatalf("%s (%s=1 requires it)", msg, RequireEnv)
		}
		tb.Log(msg)
		return nil
	}
	if err != nil {
		tb.Fatal(err)
	}
	return spec
}

// Start starts an emulator on 127.0.0.1 with the description and the test
// account (used when opts.Accounts is empty), and closes it when the test
// ends. At the end it also fails the test if the contract check recorded
// any violation; a test that sends invalid requests on purpose should
// start its emulator with emulator.New instead.
func Start(tb testing.TB, opts emulator.Options) *emulator.Emulator {
	tb.Helper()
	if opts.Spec == nil {
		opts.Spec = Spec(tb)
	}
	if len(opts.Accounts) == 0 {
		opts.Accounts = map[string]string{AccountSID: AuthToken}
	}
	em, err := emulator.New(opts)
	if err != nil {
		tb.Fatal(err)
	}
	if err := em.Start("127.0.0.1:0"); err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		if err := em.Close(); err != nil {
			tb.Errorf("close Twilio emulator: %v", err)
		}
		for _, v := range em.Violations() {
			tb.Errorf("Twilio contract violation: %s", v)
		}
	})
	return em
}
