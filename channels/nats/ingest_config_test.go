package nats

import (
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/oob-relay/relay/relay/problem"
)

func TestIngestConfigDefaults(t *testing.T) {
	var c IngestConfig
	c.SetDefaults()
	want := IngestConfig{QueueGroup: "relay", PostSubject: "relay.post", AckSubject: "relay.ack", Author: "nats",
		Timeout: 10 * time.Second, Concurrency: 8}
	if c != want {
		t.Errorf("SetDefaults = %+v, want %+v", c, want)
	}
	if err := c.Validate(); err != nil {
		t.Errorf("defaults do not validate: %v", err)
	}
	c = IngestConfig{AckSubject: "bots.ack"}
	c.SetDefaultsUnder("relay.prod")
	if c.PostSubject != "relay.prod.post" || c.AckSubject != "bots.ack" {
		t.Errorf("SetDefaultsUnder(relay.prod) = %+v", c)
	}

	dec := yaml.NewDecoder(strings.NewReader("enabled: true\nqueue_group: relay-kr\npost_subject: ops.post\ntimeout: 3s\nconcurrency: 2\n"))
	dec.KnownFields(true)
	c = IngestConfig{}
	if err := dec.Decode(&c); err != nil {
		t.Fatal(err)
	}
	if !c.Enabled || c.QueueGroup != "relay-kr" || c.PostSubject != "ops.post" || c.Timeout != 3*time.Second || c.Concurrency != 2 {
		t.Errorf("decoded %+v", c)
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
		{"author", func(c *IngestConfig) { c.Author = "Ops Bot" }, `author: "Ops Bot" must be 1-64 characters of a-z, 0-9 and '-', such as "nats"`},
		{"timeout", func(c *IngestConfig) { c.Timeout = -time.Second }, `timeout: must be positive, such as 10s`},
		{"concurrency", func(c *IngestConfig) { c.Concurrency = -1 }, `concurrency: -1 must be between 1 and 1024`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var c IngestConfig
			c.SetDefaults()
			tc.mutate(&c)
			if err := c.Validate(); err == nil || !strings.HasPrefix(err.Error(), tc.want) {
				t.Errorf("Validate:\n got %v\nwant %q", err, tc.want)
			}
		})
	}
	c := IngestConfig{QueueGroup: "a b", PostSubject: "x", AckSubject: "x", Author: "-", Timeout: -1, Concurrency: 2000}
	if n := len(problem.Flatten(c.Validate())); n != 5 {
		t.Errorf("Validate reported %d problems, want all 5: %v", n, c.Validate())
	}
	if _, err := Subscribe(t.Context(), nil, IngestConfig{Author: "X"}, &fakeInbox{}, nil); err == nil || !strings.Contains(err.Error(), "author:") {
		t.Errorf("Subscribe with a bad config: %v, want the config's error", err)
	}
}
