package main

import (
	"context"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/oob-relay/relay/cmd/relay/internal/devstack"
	"github.com/oob-relay/relay/internal/testkit"
	"github.com/oob-relay/relay/relay/client"
)

// TestDevWatch: relay dev's nodes sit in three sites, watch demo-web and
// expect the heartbeat watchdog, which the stack beats; taking demo-web
// down from the console pages the on-call group, and up again tells it.
func TestDevWatch(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	st, err := devstack.Start(ctx, devstack.Options{DataDir: filepath.Join(t.TempDir(), "dev"), HTTPAddr: "127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close(context.Background()) })
	u, _ := url.Parse(st.URLs[0])
	c := client.New([]*url.URL{u}, st.Token, nil)
	testkit.WaitFor(t, ctx, "the watch view", func() bool {
		v, err := c.Watch(ctx)
		if err != nil {
			t.Fatal(err)
		}
		return len(v.Targets) == 1 && v.Targets[0].Name == "demo-web" && len(v.Targets[0].Views) == 3 &&
			len(v.Heartbeats) == 1 && v.Heartbeats[0].LastBeat != nil && len(v.Members) == 3 && v.Members[1].Detail == "busan"
	})
	sms := func(marker string) int {
		n := 0
		for _, m := range st.Emulator().Messages() {
			if strings.Contains(m.Body, marker) {
				n++
			}
		}
		return n
	}
	st.SetTarget(false)
	testkit.WaitFor(t, ctx, "the page", func() bool { return sms("[장애] demo-web") == 2 })
	st.SetTarget(true)
	testkit.WaitFor(t, ctx, "the recovery", func() bool { return sms("[복구] demo-web") == 2 })
	if n := sms("watchdog"); n != 0 {
		t.Errorf("%d pages about the watchdog, which the stack beats", n)
	}
}
