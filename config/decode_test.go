package config

import (
	"errors"
	"strings"
	"testing"
	"testing/iotest"
)

func TestDecodeErrors(t *testing.T) {
	tests := []struct {
		name, in, want string
	}{
		{"empty", "", "config is empty"},
		{"only comments", "# nothing yet\n\n", "config is empty"},
		{"null", "~\n", "config is empty"},
		{"list", "- node\n", "line 1: the config must be a mapping of keys such as node:, http: and channels:"},
		{"scalar", "relay\n", "line 1: the config must be a mapping of keys such as node:, http: and channels:"},
		{"two documents", "node: {name: a}\n---\nnode: {name: b}\n", "line 2: a config file holds one YAML document; remove the second one"},
		{"syntax", "node:\n  name: [a\n", "line 1: did not find expected ',' or ']'"},
		{"tab indentation", "node:\n\tname: a\n", "line 2: found character that cannot start any token"},
		{"unknown top-level key", "node: {name: a}\nnodes: {}\n",
			`line 2: unknown key "nodes" at the top level (known: node, http, api, roster_file, delivery, channels, inbound, cluster, store, limits, console, watch, log, drills)`},
		{"unknown nested key", "http:\n  listn: :80\n",
			`line 2: unknown key "listn" in http (known: listen, public_url, callback_url, max_body_bytes, max_roster_bytes, insecure_public_url, tls)`},
		{"unknown key beside an inline limit", "channels:\n  sms:\n    providers:\n      - name: a\n      - name: b\n        rat: 1\n",
			`line 6: unknown key "rat" in channels.sms.providers[1] (known: name, rate, burst, twilio, canary)`},
		{"unknown key in a channel's config", "channels:\n  email:\n    providers:\n      - name: a\n        smtp: {adress: x}\n",
			`line 5: unknown key "adress" in channels.email.providers[0].smtp (known: address, tls, tls_server_name, ca_file, insecure_skip_verify, insecure_password_without_tls, username, password, password_env, password_file, from, hello, timeout)`},
		{"unknown key in a merged mapping", "node:\n  <<: {name: a, nmae: b}\n",
			`line 2: unknown key "nmae" in node (known: name, site, data_dir)`},
		{"Dir is not a key", "dir: /etc\n",
			`line 1: unknown key "dir" at the top level (known: node, http, api, roster_file, delivery, channels, inbound, cluster, store, limits, console, watch, log, drills)`},
		{"repeated key", "node:\n  name: a\n  name: b\n", `line 3: key "name" in node is repeated; it was first given at line 2`},
		{"repeated section", "log: {}\nnode: {}\nlog: {}\n", `line 3: key "log" at the top level is repeated; it was first given at line 1`},
		{"string for integer", "http:\n  max_body_bytes: 1MiB\n", `line 2: http.max_body_bytes: want an integer, got "1MiB"`},
		{"duration without unit", "delivery:\n  attempt_timeout: 30\n",
			`line 2: delivery.attempt_timeout: want a duration such as 30s, 5m or 1h, got "30"`},
		{"two values on one line", "delivery: {attempt_timeout: 30, backoff: {initial: 1, max: 2}}\n", strings.Join([]string{
			`line 1: delivery.attempt_timeout: want a duration such as 30s, 5m or 1h, got "30"`,
			`line 1: delivery.backoff.initial: want a duration such as 30s, 5m or 1h, got "1"`,
			`line 1: delivery.backoff.max: want a duration such as 30s, 5m or 1h, got "2"`,
		}, "\n")},
		{"list for integer", "delivery:\n  workers: [1]\n", "line 2: delivery.workers: want an integer, got a list"},
		{"mapping for string", "node:\n  name: {first: a}\n", "line 2: node.name: want a string, got a mapping"},
		{"scalar for section", "http: on\n", `line 1: http: want a mapping of keys, got "on"`},
		{"scalar for list", "api:\n  tokens: none\n", `line 2: api.tokens: want a list, got "none"`},
		{"bool", "channels:\n  email:\n    providers:\n      - smtp: {insecure_skip_verify: maybe}\n",
			`line 4: channels.email.providers[0].smtp.insecure_skip_verify: want true or false, got "maybe"`},
		{"long value is shortened", "http:\n  max_body_bytes: " + strings.Repeat("x", 60) + "\n",
			`line 2: http.max_body_bytes: want an integer, got "` + strings.Repeat("x", 37) + `..."`},
		{"secret as a list", "api:\n  tokens:\n    - name: a\n      token: [x]\n", "line 4: api.tokens[0].token: a secret must be a string"},
		{"every problem at once", "node:\n  nam: x\nhttp:\n  listn: 1\n  max_body_bytes: many\ndelivery:\n  attempt_timeout: 30\nfoo: 1\n",
			strings.Join([]string{
				`line 2: unknown key "nam" in node (known: name, site, data_dir)`,
				`line 4: unknown key "listn" in http (known: listen, public_url, callback_url, max_body_bytes, max_roster_bytes, insecure_public_url, tls)`,
				`line 5: http.max_body_bytes: want an integer, got "many"`,
				`line 7: delivery.attempt_timeout: want a duration such as 30s, 5m or 1h, got "30"`,
				`line 8: unknown key "foo" at the top level (known: node, http, api, roster_file, delivery, channels, inbound, cluster, store, limits, console, watch, log, drills)`,
			}, "\n")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := Decode(strings.NewReader(tt.in))
			if err == nil || err.Error() != tt.want {
				t.Errorf("Decode error:\n%v\nwant:\n%s", err, tt.want)
			}
			if c != nil {
				t.Error("Decode returned a config with its error")
			}
		})
	}
}

func TestDecodeOnlyDecodes(t *testing.T) {
	c, err := Decode(strings.NewReader("node: {name: Not_Valid}\nroster_file: r.yaml\n"))
	if err != nil {
		t.Fatal(err)
	}
	if c.Node.Name != "Not_Valid" || c.HTTP.Listen != "" || c.Dir != "" || c.RosterFile != "r.yaml" {
		t.Errorf("Decode validated, defaulted or resolved: %+v", c)
	}
}

func TestDecodeKorean(t *testing.T) {
	c, err := Decode(strings.NewReader("channels:\n  email:\n    providers:\n      - name: m\n        smtp: {from: \"관제센터 알림 <relay@example.com>\"}\n"))
	if err != nil {
		t.Fatal(err)
	}
	if got := c.Channels.Email.Providers[0].SMTP.From; got != "관제센터 알림 <relay@example.com>" {
		t.Errorf("from = %q", got)
	}
}

func TestDecodeAliases(t *testing.T) {
	// An anchor and alias inside the config share a provider's settings.
	c, err := Decode(strings.NewReader(`
channels:
  sms:
    providers:
      - name: a
        twilio: &tw {account_sid: AC0123456789abcdef0123456789abcdef, from: "+12025550143"}
      - name: b
        twilio: *tw
`))
	if err != nil {
		t.Fatal(err)
	}
	if p := c.Channels.SMS.Providers; p[0].Twilio.From != "+12025550143" || p[1].Twilio != p[0].Twilio {
		t.Errorf("providers = %+v", p)
	}
}

func TestDecodeReadError(t *testing.T) {
	boom := errors.New("disk on fire")
	_, err := Decode(iotest.ErrReader(boom))
	if !errors.Is(err, boom) || err.Error() != "read config: disk on fire" {
		t.Errorf("Decode of a failing reader: %v", err)
	}
}

// TestRewriteFallbacks covers messages whose key the walk did not find:
// they still name no Go type.
func TestRewriteFallbacks(t *testing.T) {
	w := &walker{}
	for in, want := range map[string]string{
		"line 3: field listn not found in type config.HTTP":            `line 3: unknown key "listn"`,
		`line 3: mapping key "a\"b" already defined at line 1`:         `line 3: key "a\"b" is repeated; it was first given at line 1`,
		"line 4: cannot unmarshal !!str `many` into int":               "line 4: wrong type: !!str `many`",
		"yaml: line 2: mapping values are not allowed in this context": "line 2: mapping values are not allowed in this context",
		"yaml: control characters are not allowed":                     "control characters are not allowed",
	} {
		if got := rewrite(in, w); got != want {
			t.Errorf("rewrite(%q) = %q, want %q", in, got, want)
		}
	}
}
