package main

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/oob-relay/relay/internal/testkit"
	"github.com/oob-relay/relay/relay"
)

// relay serve with a public URL puts each reader's link to the incident
// room in their SMS and mail, under the cluster's callback URL; with
// console.links: false in its config, in neither.
func TestServeLinksFollowConfig(t *testing.T) {
	for _, off := range []bool{false, true} {
		spec := clusterSpec{nodes: 1, people: 2, receipts: true}
		if off {
			spec.console = "console:\n  links: false\n  link_ttl: 2h\n"
		}
		cl := startCluster(t, spec)
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		text := "링크 확인 " + map[bool]string{false: "on", true: "off"}[off]
		if _, err := cl.nodes[0].c.Post(ctx, &relay.Post{Incident: "links", Text: text, To: []string{"group:all"},
			Severity: relay.SeverityCritical}, ""); err != nil {
			t.Fatal(err)
		}
		testkit.WaitFor(t, ctx, "every SMS and mail", func() bool {
			return len(cl.s.smsArrivals(text)) == 2 && len(cl.s.mailArrivals(text)) == 2
		})
		cancel()
		for _, m := range cl.s.emu.Messages() {
			if !strings.Contains(m.Body, text) {
				continue
			}
			if has := strings.Contains(m.Body, "\n"+cl.balancer.URL+"/l/"); has == off {
				t.Errorf("links off %v: SMS to %s:\n%s", off, m.To, m.Body)
			}
		}
		for _, m := range cl.s.mail.Mails() {
			if !strings.Contains(m.Text, text) {
				continue
			}
			if has := strings.Contains(m.Text, cl.balancer.URL+"/l/"); has == off {
				t.Errorf("links off %v: mail to %v:\n%s", off, m.To, m.Text)
			}
		}
	}
}
