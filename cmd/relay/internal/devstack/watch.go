package devstack

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/oob-relay/relay/config"
)

// The dev stack's demo of watching: a tiny web server every node probes
// (demo-web), which the console takes down and up; a heartbeat named
// watchdog, which the stack beats every watchdogEvery as a monitoring
// system would, until the console stops it; and the nodes in three
// sites.

// demoSites are the sites of the first dev nodes.
var demoSites = []string{"seoul", "busan", "tokyo"}

const (
	watchdogEvery = 15 * time.Second
	watchdogGrace = 15 * time.Second
)

func siteOf(i int) string {
	if i <= len(demoSites) {
		return demoSites[i-1]
	}
	return fmt.Sprintf("site-%d", i)
}

// demoWatch is the stack's demo target, heartbeat beater and their
// switches.
type demoWatch struct {
	srv     *http.Server
	url     string
	down    atomic.Bool
	beating atomic.Bool
	done    chan struct{}
	wg      sync.WaitGroup
}

func startDemoWatch() (*demoWatch, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	d := &demoWatch{url: "http://" + ln.Addr().String() + "/health", done: make(chan struct{})}
	d.beating.Store(true)
	d.srv = &http.Server{ReadHeaderTimeout: 5 * time.Second, Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if d.down.Load() {
			http.Error(w, "demo-web is down", http.StatusServiceUnavailable)
			return
		}
		fmt.Fprintln(w, "ok")
	})}
	d.wg.Add(1)
	go func() {
		defer d.wg.Done()
		d.srv.Serve(ln)
	}()
	return d, nil
}

// watchConfig sets node i's site and watch section.
func (d *demoWatch) watchConfig(cfg *config.Config, i int) {
	cfg.Node.Site = siteOf(i)
	cfg.Watch = config.Watch{
		Targets: []config.WatchTarget{{Name: "demo-web", Kind: "http", URL: d.url, Body: "ok",
			Interval: 2 * time.Second, Timeout: time.Second, For: 10 * time.Second, RecoverFor: 10 * time.Second,
			To: []string{"group:oncall"}}},
		Heartbeats: []config.Heartbeat{{Name: "watchdog", Every: watchdogEvery, Grace: watchdogGrace, To: []string{"group:oncall"}}},
		SiteDark:   config.SiteDark{After: 30 * time.Second},
	}
}

// beat beats the watchdog through a running node every watchdogEvery
// while beating is on, until stop.
func (s *Stack) beat() {
	defer s.demo.wg.Done()
	t := time.NewTicker(watchdogEvery / 3)
	defer t.Stop()
	for {
		if s.demo.beating.Load() {
			s.mu.Lock()
			for _, n := range s.nodes {
				if n.srv != nil {
					ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
					if err := n.srv.Node.Beat(ctx, "watchdog", "relay-dev"); err != nil {
						s.log.Warn("demo watchdog beat failed", "node", n.cfg.Node.Name, "err", err)
					}
					cancel()
					break
				}
			}
			s.mu.Unlock()
		}
		select {
		case <-t.C:
		case <-s.demo.done:
			return
		}
	}
}

func (d *demoWatch) close(ctx context.Context) error {
	close(d.done)
	err := d.srv.Shutdown(ctx)
	d.wg.Wait()
	return err
}

// SetTarget takes the demo target demo-web down (it answers 503) or up.
func (s *Stack) SetTarget(up bool) {
	s.demo.down.Store(!up)
	state := "up"
	if !up {
		state = "down (503)"
	}
	s.printf("demo-web is %s", state)
}

// SetWatchdog stops or resumes the demo beats of heartbeat watchdog.
func (s *Stack) SetWatchdog(beating bool) {
	s.demo.beating.Store(beating)
	state := "beating every " + watchdogEvery.String()
	if !beating {
		state = "stopped: nobody beats it"
	}
	s.printf("heartbeat watchdog %s", state)
}
