package config

import (
	"math"
	"strings"
	"testing"
	"time"

	"github.com/oob-relay/relay/relay/secret"
)

// baseYAML is a valid configuration with a provider on every channel.
const baseYAML = `
node: {name: seoul-1, data_dir: data}
api:
  tokens:
    - {name: ops, role: admin, token: admin-token-0123456789}
    - {name: alertmanager, role: bot, token: bot-token-0123456789}
channels:
  sms:
    providers:
      - name: twilio-main
        rate: 1
        twilio: {account_sid: AC0123456789abcdef0123456789abcdef, auth_token: TwilioToken0123456789, from: "+12025550143"}
  email:
    providers:
      - name: smtp-main
        smtp: {address: "127.0.0.1:2525", tls: none, from: "relay 알림 <relay@example.com>"}
  nats:
    providers:
      - name: nats-main
        nats: {urls: ["nats://127.0.0.1:4222"]}
`

// validBase decodes baseYAML with its defaults and checks that it is valid.
func validBase(t *testing.T) *Config {
	t.Helper()
	c, err := Decode(strings.NewReader(baseYAML))
	if err != nil {
		t.Fatal(err)
	}
	c.SetDefaults()
	if err := c.Validate(); err != nil {
		t.Fatalf("the base config is invalid: %v", err)
	}
	return c
}

func TestValidate(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(*Config)
		want   string // the whole error text; empty means valid
	}{
		{"base", func(*Config) {}, ""},
		{"listen on every interface", func(c *Config) { c.HTTP.Listen = ":8080" }, ""},
		{"listen on IPv6 and any port", func(c *Config) { c.HTTP.Listen = "[::1]:0" }, ""},
		{"public url with path", func(c *Config) { c.HTTP.PublicURL = "https://relay.example.com/seoul" }, ""},
		{"no channels", func(c *Config) { c.Channels = Channels{} }, ""},
		{"token from env", func(c *Config) { c.API.Tokens[0].Token, c.API.Tokens[0].TokenEnv = secret.String{}, "RELAY_TOKEN" }, ""},

		{"no node name", func(c *Config) { c.Node.Name = "" }, "node.name: is required (the node's name in its cluster, such as seoul-1)"},
		{"bad node name", func(c *Config) { c.Node.Name = "Seoul_1" },
			`node.name: "Seoul_1" must be 1-64 characters of a-z, 0-9 and '-', not starting or ending with '-'`},
		{"bad node site", func(c *Config) { c.Node.Site = "Seoul Gangnam" },
			`node.site: "Seoul Gangnam" must be 1-64 characters of a-z, 0-9 and '-', not starting or ending with '-'`},
		{"no data dir", func(c *Config) { c.Node.DataDir = "" }, "node.data_dir: is required (the folder of the node's store)"},

		{"listen without port", func(c *Config) { c.HTTP.Listen = "localhost" },
			`http.listen: "localhost" must be host:port, such as 127.0.0.1:8080 or :8080`},
		{"listen with named port", func(c *Config) { c.HTTP.Listen = "127.0.0.1:http" },
			`http.listen: "127.0.0.1:http" has port "http"; a port is a number from 0 to 65535`},
		{"listen port too big", func(c *Config) { c.HTTP.Listen = ":70000" },
			`http.listen: ":70000" has port "70000"; a port is a number from 0 to 65535`},
		{"listen host with space", func(c *Config) { c.HTTP.Listen = "my host:80" },
			`http.listen: "my host:80" has a host with spaces or control characters`},
		{"relative public url", func(c *Config) { c.HTTP.PublicURL = "relay.example.com" },
			`http.public_url: "relay.example.com" must be an absolute http or https URL, such as https://relay-1.example.com`},
		{"public url scheme", func(c *Config) { c.HTTP.PublicURL = "ftp://relay.example.com" },
			`http.public_url: "ftp://relay.example.com" must be an absolute http or https URL, such as https://relay-1.example.com`},
		{"public url query", func(c *Config) { c.HTTP.PublicURL = "https://relay.example.com/?a=1" },
			`http.public_url: "https://relay.example.com/?a=1" must not have a query or fragment`},
		{"public url fragment", func(c *Config) { c.HTTP.PublicURL = "https://relay.example.com#top" },
			`http.public_url: "https://relay.example.com#top" must not have a query or fragment`},
		{"public url credentials", func(c *Config) { c.HTTP.PublicURL = "https://user:hunter2@relay.example.com" },
			`http.public_url: "https://user:xxxxx@relay.example.com" must not carry credentials; providers sign what they post`},
		{"public url over http to loopback", func(c *Config) { c.HTTP.PublicURL = "http://127.0.0.1:8080" }, ""},
		{"public url over http to localhost", func(c *Config) { c.HTTP.PublicURL = "http://localhost:8080" }, ""},
		{"public url over http", func(c *Config) { c.HTTP.PublicURL = "http://relay.example.com" },
			`http.public_url: "http://relay.example.com" would have providers post receipts and replies in clear text; ` +
				`use https (http.tls, or a TLS proxy), or set http.insecure_public_url: true in a lab`},
		{"callback url over http", func(c *Config) {
			c.HTTP.PublicURL, c.HTTP.CallbackURL = "https://relay-1.example.com", "http://203.0.113.7:8080"
		},
			`http.callback_url: "http://203.0.113.7:8080" would have providers post receipts and replies in clear text; ` +
				`use https (http.tls, or a TLS proxy), or set http.insecure_public_url: true in a lab`},
		{"public and callback url over http in a lab", func(c *Config) {
			c.HTTP.PublicURL, c.HTTP.CallbackURL, c.HTTP.InsecurePublicURL = "http://relay-1.lab", "http://relay.lab", true
		}, ""},
		{"twilio api over http", func(c *Config) { c.Channels.SMS.Providers[0].Twilio.APIURL = "http://twilio-proxy.example.com" },
			`channels.sms.providers[0].twilio.api_url: "http://twilio-proxy.example.com" would send the auth token and every message ` +
				`in clear text; use https, or set insecure_api_url: true in a lab`},
		{"twilio api over http in a lab", func(c *Config) {
			c.Channels.SMS.Providers[0].Twilio.APIURL = "http://twilio-proxy.example.com"
			c.Channels.SMS.Providers[0].Twilio.InsecureAPIURL = true
		}, ""},
		{"smtp password without tls", func(c *Config) {
			s := &c.Channels.Email.Providers[0].SMTP
			s.Address, s.Username, s.Password = "smtp.example.com:25", "relay", secret.New("smtp-password")
		},
			"channels.email.providers[0].smtp.tls: none would send the password to smtp.example.com:25 in clear text; " +
				"use starttls or implicit, or set insecure_password_without_tls: true in a lab"},
		{"smtp password without tls in a lab", func(c *Config) {
			s := &c.Channels.Email.Providers[0].SMTP
			s.Address, s.Username, s.Password = "smtp.example.com:25", "relay", secret.New("smtp-password")
			s.InsecurePasswordWithoutTLS = true
		}, ""},
		{"smtp password without tls to loopback", func(c *Config) {
			s := &c.Channels.Email.Providers[0].SMTP
			s.Username, s.Password = "relay", secret.New("smtp-password")
		}, ""},
		{"nats password without tls", func(c *Config) {
			n := &c.Channels.NATS.Providers[0].NATS
			n.URLs, n.User, n.Password = []string{"nats://nats.example.com:4222"}, "relay", secret.New("nats-password")
		},
			`channels.nats.providers[0].nats.urls[0]: "nats://nats.example.com:4222" would carry the password in clear text; ` +
				"use tls:// or wss://, or set tls: true, or set insecure_password_without_tls: true in a lab"},
		{"body limit too small", func(c *Config) { c.HTTP.MaxBodyBytes = 65536 },
			"http.max_body_bytes: 65536 is below 71680 (70 KiB): a message of 64 KiB and its JSON must fit"},
		{"body limit negative", func(c *Config) { c.HTTP.MaxBodyBytes = -1 },
			"http.max_body_bytes: -1 is below 71680 (70 KiB): a message of 64 KiB and its JSON must fit"},
		{"body limit too large", func(c *Config) { c.HTTP.MaxBodyBytes = 1 << 30 },
			"http.max_body_bytes: 1073741824 is above 67108864 (64 MiB)"},

		{"no tokens", func(c *Config) { c.API.Tokens = nil }, "api.tokens: at least one token is required"},
		{"bot answers for a group", func(c *Config) { c.API.Tokens[0].Role, c.API.Tokens[0].AnswerFor = RoleBot, []string{"group:oncall"} }, ""},
		{"answer_for on an admin", func(c *Config) { c.API.Tokens[0].Role, c.API.Tokens[0].AnswerFor = RoleAdmin, []string{"everyone"} },
			"api.tokens[0].answer_for: is for bot tokens only: an admin answers for anyone, a viewer for nobody"},
		{"answer_for not an audience", func(c *Config) { c.API.Tokens[0].Role, c.API.Tokens[0].AnswerFor = RoleBot, []string{"kim"} },
			`api.tokens[0].answer_for[0]: "kim" is not an audience: use "person:<id>", "group:<id>", "role:<role>", "schedule:<id>", "escalation:<id>" or "everyone"`},
		{"token without name", func(c *Config) { c.API.Tokens[1].Name = "" },
			"api.tokens[1].name: is required (it is recorded as the author of messages posted with the token)"},
		{"bad token name", func(c *Config) { c.API.Tokens[1].Name = "-bot" },
			`api.tokens[1].name: "-bot" must be 1-64 characters of a-z, 0-9 and '-', not starting or ending with '-'`},
		{"duplicate token name", func(c *Config) { c.API.Tokens[1].Name = "ops" }, `api.tokens[1].name: "ops" is also used by api.tokens[0]`},
		{"no role", func(c *Config) { c.API.Tokens[0].Role = "" }, "api.tokens[0].role: is required (admin, bot or viewer)"},
		{"unknown role", func(c *Config) { c.API.Tokens[0].Role = "root" }, `api.tokens[0].role: unknown role "root" (known: admin, bot, viewer)`},
		{"no token value", func(c *Config) { c.API.Tokens[0].Token = secret.String{} },
			"api.tokens[0].token: is required (or token_env or token_file)"},
		{"two token sources", func(c *Config) { c.API.Tokens[0].TokenFile = "ops.token" },
			"api.tokens[0].token: set only one of token, token_env and token_file"},
		{"short token", func(c *Config) { c.API.Tokens[0].Token = secret.New("0123456789abcde") },
			"api.tokens[0].token: must be at least 16 characters; generate one with: openssl rand -hex 32"},
		{"token with space", func(c *Config) { c.API.Tokens[0].Token = secret.New("admin token 0123456789") },
			"api.tokens[0].token: must be printable ASCII without spaces, so that clients can send it in a header"},
		{"token in Hangul", func(c *Config) {
			c.API.Tokens[0].Token = secret.New("관리자토큰관리자토큰관리자토큰관리자토큰")
		},
			"api.tokens[0].token: must be printable ASCII without spaces, so that clients can send it in a header"},
		{"same token twice", func(c *Config) { c.API.Tokens[1].Token = c.API.Tokens[0].Token },
			`api.tokens[1].token: has the same value as api.tokens[0].token; the tokens "ops" and "alertmanager" must differ`},

		{"no workers", func(c *Config) { c.Delivery.Workers = -1 }, "delivery.workers: -1 must be from 1 to 1024"},
		{"too many workers", func(c *Config) { c.Delivery.Workers = 1025 }, "delivery.workers: 1025 must be from 1 to 1024"},
		{"negative attempt timeout", func(c *Config) { c.Delivery.AttemptTimeout = -time.Second },
			"delivery.attempt_timeout: -1s must be positive, such as 30s"},
		{"negative backoff", func(c *Config) { c.Delivery.Backoff.Initial = -time.Second },
			"delivery.backoff.initial: -1s must be positive, such as 1s"},
		{"backoff cap below start", func(c *Config) { c.Delivery.Backoff.Max = 500 * time.Millisecond },
			"delivery.backoff.max: 500ms must not be shorter than delivery.backoff.initial (1s)"},
		{"negative receipt timeout", func(c *Config) { c.Delivery.ReceiptTimeout = -time.Second },
			"delivery.receipt_timeout: -1s must be positive, such as 1m"},
		{"negative retention", func(c *Config) { n := -1; c.Store.RetentionDays = &n },
			"store.retention_days: -1 must be from 0 (keep everything) to 36500"},
		{"log kept too briefly", func(c *Config) { c.Store.LogKeep = time.Second },
			"store.log_keep: 1s must be at least 1m, such as 24h"},
		{"session too short", func(c *Config) { c.Console.SessionTTL = time.Second },
			"console.session_ttl: 1s must be from 1m to 720h, such as 12h"},
		{"link too long", func(c *Config) { c.Console.LinkTTL = 1000 * time.Hour },
			"console.link_ttl: 1000h0m0s must be from 1m to 720h, such as 24h"},
		{"negative audit days", func(c *Config) { n := -1; c.Console.AuditDays = &n },
			"console.audit_days: -1 must be from 0 (keep everything) to 36500"},
		{"callback URL without a public URL", func(c *Config) { c.HTTP.PublicURL, c.HTTP.CallbackURL = "", "https://relay.example.com" },
			"http.callback_url: needs http.public_url: the node serves the webhooks only with a public URL"},
		{"negative deadline", func(c *Config) { c.Delivery.Deadlines.Warning = -time.Hour },
			"delivery.deadlines.warning: -1h0m0s must be positive, such as 4h"},
		{"unknown policy mode", func(c *Config) { c.Delivery.Policy.Warning.Mode = "some" },
			`delivery.policy.warning.mode: "some" must be one of [all fallback]`},
		{"negative unconfirmed time", func(c *Config) { c.Delivery.Policy.Info.UnconfirmedAfter = -time.Minute },
			"delivery.policy.info.unconfirmed_after: -1m0s must be positive, such as 3m"},
		{"policy without channels", func(c *Config) { c.Delivery.Policy.Critical.Channels = []string{} },
			"delivery.policy.critical.channels: must list at least one channel, or be left out"},
		{"policy with unknown channel", func(c *Config) { c.Delivery.Policy.Critical.Channels = []string{"sms", "fax"} },
			`delivery.policy.critical.channels[1]: "fax" is not a channel (one of [sms voice email nats])`},
		{"too many call retries", func(c *Config) { n := 11; c.Delivery.Calls.Retries = &n },
			"delivery.calls.retries: 11 must be from 0 to 10"},

		{"provider without name", func(c *Config) { c.Channels.Email.Providers[0].Name = "" },
			"channels.email.providers[0].name: is required (it names the provider in records, logs and metrics)"},
		{"bad provider name", func(c *Config) { c.Channels.Email.Providers[0].Name = "SMTP" },
			`channels.email.providers[0].name: "SMTP" must be 1-64 characters of a-z, 0-9 and '-', not starting or ending with '-'`},
		{"provider name used by another channel", func(c *Config) { c.Channels.NATS.Providers[0].Name = "twilio-main" },
			`channels.nats.providers[0].name: "twilio-main" is also used by channels.sms.providers[0]; provider names are unique across all channels`},
		{"negative rate", func(c *Config) { c.Channels.SMS.Providers[0].Rate = -1 },
			"channels.sms.providers[0].rate: -1 must not be negative; 0 means no limit"},
		{"infinite rate", func(c *Config) { c.Channels.SMS.Providers[0].Rate = math.Inf(1) },
			"channels.sms.providers[0].rate: must be a number of attempts per second, or 0 for no limit"},
		{"rate not a number", func(c *Config) { c.Channels.SMS.Providers[0].Rate = math.NaN() },
			"channels.sms.providers[0].rate: must be a number of attempts per second, or 0 for no limit"},
		{"negative burst", func(c *Config) { c.Channels.SMS.Providers[0].Burst = -2 },
			"channels.sms.providers[0].burst: -2 must not be negative"},
		{"burst without rate", func(c *Config) { c.Channels.NATS.Providers[0].Burst = 5 },
			"channels.nats.providers[0].burst: has no effect without rate; set rate (attempts per second) or remove burst"},
		{"twilio from", func(c *Config) { c.Channels.SMS.Providers[0].Twilio.From = "+8210" },
			`channels.sms.providers[0].twilio.from: "+8210" must be an E.164 number such as +821012345678`},
		{"smtp address", func(c *Config) { c.Channels.Email.Providers[0].SMTP.Address = "" },
			"channels.email.providers[0].smtp.address: is required (host:port of the smarthost, such as smtp.example.com:587)"},
		{"nats url", func(c *Config) { c.Channels.NATS.Providers[0].NATS.URLs = []string{"http://x:1"} },
			`channels.nats.providers[0].nats.urls[0]: "http://x:1" must use the nats, tls, ws or wss scheme`},

		{"escalation speedup", func(c *Config) { c.Delivery.EscalationSpeedup = 601 },
			"delivery.escalation_speedup: 601 must be from 0 to 600 (0 and 1 run escalations as the roster writes them)"},
		{"replies per person", func(c *Config) { c.Inbound.Replies.PerPerson = 5000 },
			"inbound.replies.per_person: 5000 must be from 1 to 1000"},
		{"replies window", func(c *Config) { c.Inbound.Replies.Window = 2 * time.Hour },
			"inbound.replies.window: 2h0m0s must be from 1s to 1h, such as 1m"},
		{"replies repeat window", func(c *Config) { c.Inbound.Replies.RepeatWindow = -time.Second },
			"inbound.replies.repeat_window: -1s must be from 1s to 24h, such as 10m"},

		{"log level", func(c *Config) { c.Log.Level = "verbose" }, `log.level: unknown level "verbose" (known: debug, info, warn, error)`},
		{"log format", func(c *Config) { c.Log.Format = "logfmt" }, `log.format: unknown format "logfmt" (known: text, json)`},

		{"every problem at once, in file order", func(c *Config) {
			c.Log.Format = "xml"
			c.Node.Name = ""
			c.Channels.SMS.Providers[0].Twilio.AccountSID = ""
			c.Channels.SMS.Providers[0].Twilio.From = ""
			c.Channels.Email.Providers[0].Name = "twilio-main"
			c.API.Tokens[1].Role = "god"
			c.HTTP.Listen = "nowhere"
		}, strings.Join([]string{
			"node.name: is required (the node's name in its cluster, such as seoul-1)",
			`http.listen: "nowhere" must be host:port, such as 127.0.0.1:8080 or :8080`,
			`api.tokens[1].role: unknown role "god" (known: admin, bot, viewer)`,
			"channels.sms.providers[0].twilio.account_sid: is required",
			"channels.sms.providers[0].twilio.from: set from or messaging_service_sid",
			`channels.email.providers[0].name: "twilio-main" is also used by channels.sms.providers[0]; provider names are unique across all channels`,
			`log.format: unknown format "xml" (known: text, json)`,
		}, "\n")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := validBase(t)
			tt.mutate(c)
			err := c.Validate()
			switch {
			case tt.want == "" && err != nil:
				t.Errorf("Validate() = %v, want no error", err)
			case tt.want != "" && err == nil:
				t.Errorf("Validate() = nil, want:\n%s", tt.want)
			case tt.want != "" && err.Error() != tt.want:
				t.Errorf("Validate() =\n%v\nwant:\n%s", err, tt.want)
			}
		})
	}
}

// TestValidateEmpty checks what an operator sees for a config that names
// nothing: the three required keys, and nothing about defaults.
func TestValidateEmpty(t *testing.T) {
	c, err := Decode(strings.NewReader("node: {}\n"))
	if err != nil {
		t.Fatal(err)
	}
	c.SetDefaults()
	want := "node.name: is required (the node's name in its cluster, such as seoul-1)\n" +
		"node.data_dir: is required (the folder of the node's store)\n" +
		"api.tokens: at least one token is required"
	if err := c.Validate(); err == nil || err.Error() != want {
		t.Errorf("Validate() =\n%v\nwant:\n%s", err, want)
	}
}

// TestValidateKeepsChannelErrors checks that a channel's errors keep their
// identity under the key path prefix.
func TestValidateKeepsChannelErrors(t *testing.T) {
	c := validBase(t)
	c.Channels.SMS.Providers[0].Twilio.From = "+8210"
	errs := flatten(c.Validate())
	if len(errs) != 1 {
		t.Fatalf("got %d errors, want 1: %v", len(errs), errs)
	}
	inner := errs[0].(*keyError).Unwrap()
	if inner.Error() != `from: "+8210" must be an E.164 number such as +821012345678` {
		t.Errorf("the channel's own error is %q", inner)
	}
}
