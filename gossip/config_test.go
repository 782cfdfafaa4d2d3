package gossip

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/oob-relay/relay/relay/secret"
)

func validConfig() Config {
	c := Config{
		Seeds: []string{"relay-1.example.net:7946", "10.0.0.2:7946"},
		Keys:  []secret.String{secret.New(testKey), secret.New(newKey)},
		Label: "relay-prod",
	}
	c.SetDefaults()
	return c
}

func TestSetDefaults(t *testing.T) {
	var c Config
	c.SetDefaults()
	lan := lanPreset()
	if c.Bind != DefaultBind || c.RejoinInterval != DefaultRejoinInterval || c.Preset != PresetLAN ||
		c.ProbeInterval != lan.probeInterval || c.ProbeTimeout != lan.probeTimeout ||
		c.SuspicionMult != lan.suspicionMult || c.GossipInterval != lan.gossipInterval ||
		c.PushPullInterval != lan.pushPullInterval || c.TCPTimeout != lan.tcpTimeout {
		t.Errorf("defaults: %+v", c)
	}

	c = Config{Preset: PresetWAN, ProbeInterval: 7 * time.Second}
	c.SetDefaults()
	wan := wanPreset()
	if c.ProbeInterval != 7*time.Second || c.ProbeTimeout != wan.probeTimeout || c.SuspicionMult != wan.suspicionMult {
		t.Errorf("wan with an override: %+v", c)
	}

	c = Config{Preset: "moon"}
	c.SetDefaults()
	if c.ProbeInterval != 0 {
		t.Errorf("an unknown preset set timers: %+v", c)
	}
}

// TestLANPresetFailsOverFast checks the arithmetic behind the LAN preset:
// the longest a suspected member stays suspect without confirmations.
func TestLANPresetFailsOverFast(t *testing.T) {
	p := lanPreset()
	suspicion := time.Duration(p.suspicionMult) * p.probeInterval
	worst := time.Duration(p.suspicionMaxMult) * suspicion
	if worst+2*p.probeInterval >= 2*time.Second {
		t.Errorf("a dead member may stay suspect %s after two probe rounds; want under 2s", worst)
	}
	if p.probeTimeout >= p.probeInterval {
		t.Errorf("probe timeout %s is not below the probe interval %s", p.probeTimeout, p.probeInterval)
	}
}

func TestValidate(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(*Config)
		want   string // the whole error text; empty means valid
	}{
		{"valid", func(*Config) {}, ""},
		{"keys from env", func(c *Config) { c.Keys, c.KeysEnv = nil, "RELAY_GOSSIP_KEYS" }, ""},
		{"keys from file", func(c *Config) { c.Keys, c.KeysFile = nil, "gossip.keys" }, ""},
		{"advertise", func(c *Config) { c.Advertise = "203.0.113.7:7946" }, ""},
		{"ipv6 bind", func(c *Config) { c.Bind = "[::]:7946" }, ""},
		{"wan", func(c *Config) { c.Preset = PresetWAN }, ""},
		{"bind not host:port", func(c *Config) { c.Bind = "x" }, `bind: "x" is not host:port`},
		{"bind host name", func(c *Config) { c.Bind = "localhost:7946" }, `bind: "localhost:7946" needs an IP address as host`},
		{"bind bad port", func(c *Config) { c.Bind = "0.0.0.0:70000" }, `bind: "0.0.0.0:70000" has no valid port (0 to 65535)`},
		{"advertise port 0", func(c *Config) { c.Advertise = "10.0.0.1:0" }, `advertise: "10.0.0.1:0" needs a port other than 0`},
		{"advertise host name", func(c *Config) { c.Advertise = "relay-1:7946" }, `advertise: "relay-1:7946" needs an IP address as host`},
		{"seed without port", func(c *Config) { c.Seeds[1] = "10.0.0.2" }, `seeds[1]: "10.0.0.2" is not host:port`},
		{"seed without host", func(c *Config) { c.Seeds[0] = ":7946" }, `seeds[0]: ":7946" needs a host`},
		{"seed port 0", func(c *Config) { c.Seeds[0] = "relay-1:0" }, `seeds[0]: "relay-1:0" needs a port other than 0`},
		{"rejoin interval", func(c *Config) { c.RejoinInterval = -time.Second }, "rejoin_interval: -1s must be positive"},
		{"no keys", func(c *Config) { c.Keys = nil },
			`keys: is required (or keys_env or keys_file): base64 AES keys of 16, 24 or 32 bytes, such as the output of "openssl rand -base64 32"`},
		{"two key sources", func(c *Config) { c.KeysFile = "gossip.keys" }, "keys: set only one of keys, keys_env and keys_file"},
		{"key not base64", func(c *Config) { c.Keys[1] = secret.New(rawKey) }, "keys[1]: is not valid base64"},
		{"key too short", func(c *Config) { c.Keys[0] = secret.New("c2hvcnQ=") }, "keys[0]: decodes to 5 bytes; an AES key has 16, 24 or 32"},
		{"no label", func(c *Config) { c.Label = "" }, "label: is required (a name shared by the cluster's nodes, such as relay-prod)"},
		{"long label", func(c *Config) { c.Label = strings.Repeat("x", 256) }, "label: is 256 bytes long; at most 255 are allowed"},
		{"unknown preset", func(c *Config) { c.Preset = "moon" }, `preset: "moon" must be "lan" or "wan"`},
		{"probe interval", func(c *Config) { c.ProbeInterval = 0 },
			"probe_interval: 0s must be positive"},
		{"probe timeout", func(c *Config) { c.ProbeTimeout = -1 }, "probe_timeout: -1ns must be positive"},
		{"probe timeout too long", func(c *Config) { c.ProbeTimeout = c.ProbeInterval },
			"probe_timeout: 200ms must be shorter than probe_interval (200ms)"},
		{"suspicion mult", func(c *Config) { c.SuspicionMult = 0 }, "suspicion_mult: 0 must be at least 1"},
		{"gossip interval", func(c *Config) { c.GossipInterval = 0 }, "gossip_interval: 0s must be positive"},
		{"push pull interval", func(c *Config) { c.PushPullInterval = 0 }, "push_pull_interval: 0s must be positive"},
		{"tcp timeout", func(c *Config) { c.TCPTimeout = 0 }, "tcp_timeout: 0s must be positive"},
		{"several problems", func(c *Config) { c.Bind, c.Label = "", "" },
			"bind: \"\" is not host:port\nlabel: is required (a name shared by the cluster's nodes, such as relay-prod)"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := validConfig()
			tc.mutate(&c)
			err := c.Validate()
			if got := fmt.Sprint(err); (err == nil) != (tc.want == "") || (err != nil && got != tc.want) {
				t.Errorf("Validate() = %v\nwant %s", err, tc.want)
			}
			if err != nil {
				assertNoKeys(t, err.Error())
			}
		})
	}
}

func TestValidateDev(t *testing.T) {
	c := Config{}
	c.SetDefaults()
	if err := c.ValidateDev(); err != nil {
		t.Errorf("dev without keys and label: %v", err)
	}
	err := c.Validate()
	for _, key := range []string{"keys:", "label:"} {
		if err == nil || !strings.Contains(err.Error(), key) {
			t.Errorf("Validate() = %v; want an error naming %s", err, key)
		}
	}
	c.Keys = []secret.String{secret.New("c2hvcnQ=")}
	if err := c.ValidateDev(); err == nil || err.Error() != "keys[0]: decodes to 5 bytes; an AES key has 16, 24 or 32" {
		t.Errorf("dev with a bad key: %v", err)
	}
}

func TestDecodeYAML(t *testing.T) {
	in := `
bind: 0.0.0.0:7946
advertise: 203.0.113.7:7946
seeds: [relay.example.net:7946]
rejoin_interval: 1m
keys: [` + testKey + `]
label: relay-prod
preset: wan
probe_interval: 4s
tcp_timeout: 15s
`
	var c Config
	dec := yaml.NewDecoder(strings.NewReader(in))
	dec.KnownFields(true)
	if err := dec.Decode(&c); err != nil {
		t.Fatal(err)
	}
	c.SetDefaults()
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	if c.RejoinInterval != time.Minute || c.ProbeInterval != 4*time.Second || c.TCPTimeout != 15*time.Second ||
		c.ProbeTimeout != wanPreset().probeTimeout || len(c.Keys) != 1 || c.Keys[0].Reveal() != testKey || c.Advertise != "203.0.113.7:7946" {
		t.Errorf("decoded %+v", c)
	}
	out, err := yaml.Marshal(c)
	if err != nil {
		t.Fatal(err)
	}
	assertNoKeys(t, string(out))
}

func TestResolveSecrets(t *testing.T) {
	dir := t.TempDir()
	file := "# gossip keys, the one in use first\n" + testKey + "\n\n  " + newKey + "  \n"
	if err := os.WriteFile(filepath.Join(dir, "gossip.keys"), []byte(file), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "empty.keys"), []byte("# none yet\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	env := map[string]string{"KEYS": testKey + ", " + newKey, "BLANK": " , "}
	getenv := func(k string) string { return env[k] }
	want := []string{testKey, newKey}

	for _, tc := range []struct {
		name    string
		mutate  func(*Config)
		wantErr string
	}{
		{"env", func(c *Config) { c.KeysEnv = "KEYS" }, ""},
		{"file", func(c *Config) { c.KeysFile = "gossip.keys" }, ""},
		{"absolute file", func(c *Config) { c.KeysFile = filepath.Join(dir, "gossip.keys") }, ""},
		{"literal", func(c *Config) { c.Keys = []secret.String{secret.New(testKey), secret.New(newKey)} }, ""},
		{"unset env", func(c *Config) { c.KeysEnv = "NOPE" }, "keys_env: environment variable NOPE is not set"},
		{"env without keys", func(c *Config) { c.KeysEnv = "BLANK" }, "keys_env: environment variable BLANK holds no key"},
		{"missing file", func(c *Config) { c.KeysFile = "nope.keys" },
			"keys_file: cannot read " + filepath.Join(dir, "nope.keys") + ": no such file or directory"},
		{"file without keys", func(c *Config) { c.KeysFile = "empty.keys" },
			"keys_file: " + filepath.Join(dir, "empty.keys") + " holds no key"},
		{"two sources", func(c *Config) { c.KeysEnv, c.KeysFile = "KEYS", "gossip.keys" },
			"keys: set only one of keys, keys_env and keys_file"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := Config{Label: "relay-prod"}
			tc.mutate(&c)
			c.SetDefaults()
			err := c.ResolveSecrets(dir, getenv)
			if tc.wantErr != "" {
				if err == nil || err.Error() != tc.wantErr {
					t.Errorf("ResolveSecrets() = %v, want %s", err, tc.wantErr)
				}
				if err != nil {
					assertNoKeys(t, err.Error())
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, k := range c.Keys {
				got = append(got, k.Reveal())
			}
			if !slices.Equal(got, want) || c.KeysEnv != "" || c.KeysFile != "" {
				t.Errorf("resolved %v (env %q, file %q), want %v", got, c.KeysEnv, c.KeysFile, want)
			}
			if err := c.Validate(); err != nil {
				t.Errorf("resolved config does not validate: %v", err)
			}
		})
	}
}

func TestResolvedKeysReachMemberlist(t *testing.T) {
	// Keys read from the environment keep their order: the first
	// encrypts.
	env := func(string) string { return newKey + "," + testKey }
	a, err := newNode("a", func(o *Options) {
		o.Config.Keys, o.Config.KeysEnv = nil, "KEYS"
		if err := o.Config.ResolveSecrets("", env); err != nil {
			t.Fatal(err)
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = a.Shutdown() })
	if err := a.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	if got := a.keyring.GetPrimaryKey(); string(got) != rawNewKey {
		t.Errorf("primary key is not the first listed")
	}
	if got := len(a.keyring.GetKeys()); got != 2 {
		t.Errorf("keyring holds %d keys, want 2", got)
	}
	if err := a.Start(t.Context()); err == nil {
		t.Error("Start twice succeeded")
	}
}

func TestMemberlistConfig(t *testing.T) {
	c := validConfig()
	c.Bind, c.Advertise = ":7946", "203.0.113.7:8946"
	c.TCPTimeout = 4 * time.Second
	mc, err := c.memberlistConfig("seoul-1")
	if err != nil {
		t.Fatal(err)
	}
	lan := lanPreset()
	if mc.Name != "seoul-1" || mc.BindAddr != "0.0.0.0" || mc.BindPort != 7946 ||
		mc.AdvertiseAddr != "203.0.113.7" || mc.AdvertisePort != 8946 || mc.Label != "relay-prod" ||
		mc.ProbeInterval != lan.probeInterval || mc.SuspicionMaxTimeoutMult != lan.suspicionMaxMult ||
		mc.TCPTimeout != 4*time.Second || mc.DeadNodeReclaimTime != lan.deadReclaim {
		t.Errorf("lan: %+v", mc)
	}

	c = Config{Preset: PresetWAN}
	c.SetDefaults()
	mc, err = c.memberlistConfig("seoul-1")
	if err != nil {
		t.Fatal(err)
	}
	wan := wanPreset()
	if mc.ProbeInterval != wan.probeInterval || mc.ProbeTimeout != wan.probeTimeout || mc.SuspicionMult != wan.suspicionMult ||
		mc.SuspicionMaxTimeoutMult != wan.suspicionMaxMult || mc.PushPullInterval != wan.pushPullInterval ||
		mc.GossipNodes != 4 || mc.BindAddr != "0.0.0.0" || mc.AdvertiseAddr != "" {
		t.Errorf("wan: %+v", mc)
	}
}
