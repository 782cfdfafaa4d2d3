package nats

import (
	"math"
	"reflect"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/oob-relay/relay/relay/problem"
)

func TestIngestConfigDefaults(t *testing.T) {
	c := IngestConfig{Bots: []Bot{{Name: "oncall-bot"}, {Name: "pager", Allow: []string{"ack"}, AckFor: []string{"group:infra"}, Rate: 5}}}
	c.SetDefaults()
	want := IngestConfig{QueueGroup: "relay", PostSubject: "relay.post", AckSubject: "relay.ack",
		Timeout: 10 * time.Second, Concurrency: 8, MaxInFlight: 64, MaxRequestBytes: 256 << 10, Rate: 1, Burst: 20,
		Bots: []Bot{
			{Name: "oncall-bot", Allow: []string{"post"}, Rate: 1, Burst: 20},
			{Name: "pager", Allow: []string{"ack"}, AckFor: []string{"group:infra"}, Rate: 5, Burst: 20},
		}}
	if !reflect.DeepEqual(c, want) {
		t.Errorf("SetDefaults =\n%+v\nwant\n%+v", c, want)
	}
	if err := c.Validate(); err != nil {
		t.Errorf("defaults do not validate: %v", err)
	}
	c = IngestConfig{AckSubject: "bots.ack"}
	c.SetDefaultsUnder("relay.prod")
	if c.PostSubject != "relay.prod.post" || c.AckSubject != "bots.ack" {
		t.Errorf("SetDefaultsUnder(relay.prod) = %+v", c)
	}
	c = IngestConfig{Concurrency: 100}
	c.SetDefaults()
	if c.MaxInFlight != 100 {
		t.Errorf("max_in_flight = %d with concurrency 100, want it raised to 100", c.MaxInFlight)
	}

	dec := yaml.NewDecoder(strings.NewReader(`enabled: true
queue_group: relay-kr
post_subject: ops.post
timeout: 3s
concurrency: 2
max_in_flight: 16
max_request_bytes: 65536
rate: 2
burst: 10
bots:
  - name: oncall-bot
  - name: pager
    allow: [post, ack]
    ack_for: [group:infra, person:kim]
    rate: 0.5
    burst: 3
`))
	dec.KnownFields(true)
	c = IngestConfig{}
	if err := dec.Decode(&c); err != nil {
		t.Fatal(err)
	}
	c.SetDefaults()
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	if !c.Enabled || c.QueueGroup != "relay-kr" || c.PostSubject != "ops.post" || c.Timeout != 3*time.Second || c.Concurrency != 2 ||
		c.MaxInFlight != 16 || c.MaxRequestBytes != 65536 {
		t.Errorf("decoded %+v", c)
	}
	if got := c.Bots; !reflect.DeepEqual(got, []Bot{
		{Name: "oncall-bot", Allow: []string{"post"}, Rate: 2, Burst: 10},
		{Name: "pager", Allow: []string{"post", "ack"}, AckFor: []string{"group:infra", "person:kim"}, Rate: 0.5, Burst: 3},
	}) {
		t.Errorf("bots = %+v", got)
	}
}

func TestIngestConfigValidate(t *testing.T) {
	for _, tc := range []struct {
		name   string
		mutate func(*IngestConfig)
		want   string
	}{
		{"queue group space", func(c *IngestConfig) { c.QueueGroup = "relay nodes" }, `queue_group: "relay nodes" must be a name without spaces, such as "relay"`},
		{"wildcard post", func(c *IngestConfig) { c.PostSubject = "relay.*" }, `post_subject: "relay.*" must be dot-separated tokens without wildcards (* or >), spaces or empty tokens, such as "relay.post"`},
		{"empty token ack", func(c *IngestConfig) { c.AckSubject = "relay..ack" }, `ack_subject: "relay..ack" must be dot-separated tokens`},
		{"same subjects", func(c *IngestConfig) { c.AckSubject = c.PostSubject }, `ack_subject: "relay.post" is also post_subject; the two must differ`},
		{"author", func(c *IngestConfig) { c.Author = "nats" }, `author: is no longer read: a post's author is the bot that sends it, named by its subject; list the bots under bots`},
		{"timeout", func(c *IngestConfig) { c.Timeout = -time.Second }, `timeout: must be positive, such as 10s`},
		{"concurrency", func(c *IngestConfig) { c.Concurrency = -1 }, `concurrency: -1 must be between 1 and 1024`},
		{"in flight", func(c *IngestConfig) { c.MaxInFlight = 4 }, `max_in_flight: 4 must be between concurrency (8) and 65536`},
		{"request bytes", func(c *IngestConfig) { c.MaxRequestBytes = 1 << 20 }, `max_request_bytes: 1048576 must be between 1024 and 262144`},
		{"rate", func(c *IngestConfig) { c.Rate = -1 }, `rate: must be a positive number of requests per second, such as 1`},
		{"no bots", func(c *IngestConfig) { c.Bots = nil }, `bots: is empty: list the bots that may send requests, each with a name; bot <name> posts on relay.post.<name>`},
		{"bot without name", func(c *IngestConfig) { c.Bots[0].Name = "" }, `bots[0].name: is required: the bot's identity`},
		{"bot name", func(c *IngestConfig) { c.Bots[0].Name = "ops.bot" }, `bots[0].name: "ops.bot" must be 1-64 characters of a-z, 0-9 and '-'`},
		{"bot twice", func(c *IngestConfig) { c.Bots[1].Name = c.Bots[0].Name }, `bots[1].name: "oncall-bot" is also bots[0]`},
		{"unknown action", func(c *IngestConfig) { c.Bots[0].Allow = []string{"post", "stop"} }, `bots[0].allow[1]: "stop" is not an action: use post or ack`},
		{"action twice", func(c *IngestConfig) { c.Bots[0].Allow = []string{"post", "post"} }, `bots[0].allow[1]: "post" is listed twice`},
		{"ack without ack_for", func(c *IngestConfig) { c.Bots[1].AckFor = nil }, `bots[1].ack_for: is required with allow: ack: list whom the bot may acknowledge for (person:<id>, group:<id> or everyone)`},
		{"ack_for without ack", func(c *IngestConfig) { c.Bots[0].AckFor = []string{"everyone"} }, `bots[0].ack_for: has no use without ack in allow`},
		{"ack_for target", func(c *IngestConfig) { c.Bots[1].AckFor = []string{"kim"} }, `bots[1].ack_for[0]: "kim" must be person:<id>, group:<id> or everyone`},
		{"ack_for id", func(c *IngestConfig) { c.Bots[1].AckFor = []string{"group:Infra"} }, `bots[1].ack_for[0]: "group:Infra" must name an id`},
		{"ack_for twice", func(c *IngestConfig) { c.Bots[1].AckFor = []string{"everyone", "everyone"} }, `bots[1].ack_for[1]: "everyone" is listed twice`},
		{"bot rate", func(c *IngestConfig) { c.Bots[1].Rate = math.Inf(1) }, `bots[1].rate: must be a positive number of requests per second`},
		{"bot burst", func(c *IngestConfig) { c.Bots[1].Burst = -2 }, `bots[1].burst: -2 must be between 1 and 100000`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := IngestConfig{Bots: []Bot{{Name: "oncall-bot"}, {Name: "pager", Allow: []string{"ack"}, AckFor: []string{"group:infra"}}}}
			c.SetDefaults()
			tc.mutate(&c)
			if err := c.Validate(); err == nil || !strings.HasPrefix(err.Error(), tc.want) {
				t.Errorf("Validate:\n got %v\nwant %q", err, tc.want)
			}
		})
	}
	c := IngestConfig{QueueGroup: "a b", PostSubject: "x", AckSubject: "x", Author: "-", Timeout: -1, Concurrency: 2000,
		MaxInFlight: 1, MaxRequestBytes: 1, Rate: -1, Burst: -1}
	if n := len(problem.Flatten(c.Validate())); n != 10 {
		t.Errorf("Validate reported %d problems, want all 10: %v", n, c.Validate())
	}
	if _, err := Subscribe(t.Context(), nil, IngestConfig{Author: "nats"}, &fakeInbox{}, Options{}); err == nil || !strings.Contains(err.Error(), "author:") {
		t.Errorf("Subscribe with a bad config: %v, want the config's error", err)
	}
}
