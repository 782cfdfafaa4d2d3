package api_test

import (
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/oob-relay/relay/relay"
	"github.com/oob-relay/relay/relay/api"
)

// TestMessageViewIsConsistent reads messages over and over, from several
// clients, while their deliveries go out. Every answer must show one
// moment's state: the summary counts the deliveries listed, and settled is
// true exactly when none of them is pending or sending.
func TestMessageViewIsConsistent(t *testing.T) {
	h := newHarness(t)
	const posts, readers = 50, 4
	var (
		mu      sync.Mutex
		ids     []string
		settled = map[string]bool{}
		posted  = make(chan struct{})
		wg      sync.WaitGroup
		reads   int
		bad     []string
	)
	// A bound for a stuck engine, not a speed check: under -race on a
	// loaded machine the readers themselves slow the engine down.
	deadline := time.Now().Add(time.Minute)
	for range readers {
		wg.Go(func() {
			for time.Now().Before(deadline) {
				mu.Lock()
				open := make([]string, 0, len(ids))
				for _, id := range ids {
					if !settled[id] {
						open = append(open, id)
					}
				}
				mu.Unlock()
				select {
				case <-posted:
					if len(open) == 0 {
						return
					}
				default:
				}
				for _, id := range open {
					m, err := h.readMessage(t, id)
					if err != nil {
						t.Error(err)
						return
					}
					mu.Lock()
					reads++
					if err := consistent(m); err != nil {
						bad = append(bad, fmt.Sprintf("message %s: %v", id, err))
					}
					if m.Settled {
						settled[id] = true
					}
					mu.Unlock()
				}
			}
			t.Error("messages still not settled after a minute")
		})
	}
	for i := range posts {
		acc := h.accept(t, botToken, relay.Post{Incident: incident, Text: fmt.Sprintf("%s (%d)", koText, i), To: []string{"group:db-oncall"}}, "")
		mu.Lock()
		ids = append(ids, acc.ID)
		mu.Unlock()
	}
	close(posted)
	wg.Wait()
	if len(bad) > 0 {
		t.Errorf("%d of %d answers contradict themselves; the first: %s", len(bad), reads, bad[0])
	}
}

// readMessage reads a message from any goroutine.
func (h *harness) readMessage(t *testing.T, id string) (api.MessageView, error) {
	var m api.MessageView
	a, err := h.send(t.Context(), request{method: http.MethodGet, path: "/v1/messages/" + id, auth: bearer(viewerToken)})
	if err != nil {
		return m, err
	}
	if a.status != http.StatusOK {
		return m, fmt.Errorf("GET message %s: %d %s", id, a.status, a.body)
	}
	return m, json.Unmarshal(a.body, &m)
}

// consistent reports how a message view contradicts itself.
func consistent(m api.MessageView) error {
	counts := map[relay.Status]int{}
	open := false
	for _, d := range m.Deliveries {
		counts[d.Status]++
		if !d.Status.Settled() {
			open = true
		}
	}
	if !maps.Equal(counts, m.Summary) {
		return fmt.Errorf("summary %v, but the deliveries listed count %v", m.Summary, counts)
	}
	if m.Settled == open {
		return fmt.Errorf("settled is %v, but the deliveries listed count %v", m.Settled, counts)
	}
	return nil
}
