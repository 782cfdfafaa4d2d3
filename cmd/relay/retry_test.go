package main

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/oob-relay/relay/channels/twilio/emulator"
	"github.com/oob-relay/relay/channels/twilio/emulator/emulatortest"
	"github.com/oob-relay/relay/internal/testkit"
	"github.com/oob-relay/relay/relay"
	"github.com/oob-relay/relay/relay/client"
)

// createLog is a Twilio stand-in that answers every message create with
// 503 and notes when each create came.
type createLog struct {
	mu sync.Mutex
	at []time.Time
}

func (c *createLog) times() []time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]time.Time(nil), c.at...)
}

// startFailingTwilio starts the emulator behind a recorder, with every
// request scripted to fail with 503.
func startFailingTwilio(t *testing.T) (*createLog, string) {
	t.Helper()
	em, err := emulator.New(emulator.Options{Spec: emulatortest.Spec(t),
		Accounts: map[string]string{emulatortest.AccountSID: emulatortest.AuthToken}})
	if err != nil {
		t.Fatal(err)
	}
	em.FailNext(1_000_000, http.StatusServiceUnavailable)
	log := &createLog{}
	inner := em.Handler()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPost && strings.HasSuffix(r.URL.Path, "/Messages.json") {
			log.mu.Lock()
			log.at = append(log.at, time.Now())
			log.mu.Unlock()
		}
		inner.ServeHTTP(w, r)
	}))
	t.Cleanup(func() {
		srv.Close()
		em.Close()
		for _, v := range em.Violations() {
			t.Errorf("Twilio contract violation: %s", v)
		}
	})
	return log, srv.URL
}

// failingNode starts relay serve with production delivery defaults (no
// delivery section at all) and one SMS provider, which fails every
// request, for a roster of people.
func failingNode(t *testing.T, twilioURL string, people int) *client.Client {
	t.Helper()
	dir := t.TempDir()
	writeRoster(t, dir, people)
	addr := freeAddr(t)
	cfg := fmt.Sprintf(`node:
  name: retry-1
  data_dir: data
http:
  listen: %s
api:
  tokens:
    - name: ops-bot
      role: bot
      token_env: TEST_RELAY_TOKEN
roster_file: roster.yaml
channels:
  sms:
    providers:
      - name: twilio-only
        twilio:
          account_sid: %s
          auth_token_env: TEST_TWILIO_TOKEN
          from: "+15005550006"
          api_url: %s
`, addr, emulatortest.AccountSID, twilioURL)
	path := filepath.Join(dir, "relay.yaml")
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	serve(t, path, "http://"+addr)
	u, _ := url.Parse("http://" + addr)
	return client.New([]*url.URL{u}, testToken, nil)
}

// TestRetriesBackOffAgainstFailingProvider: a relay serve node whose only
// SMS provider answers every request with 503 retries a delivery after
// the documented waits: 1 s, then doubling, each ±20%.
func TestRetriesBackOffAgainstFailingProvider(t *testing.T) {
	t.Parallel()
	log, twilioURL := startFailingTwilio(t)
	c := failingNode(t, twilioURL, 1)
	if _, err := c.Post(context.Background(), &relay.Post{Incident: "retry", Text: "503 test",
		To: []string{"person:p00000"}, Severity: relay.SeverityCritical}, ""); err != nil {
		t.Fatal(err)
	}
	// Four attempts: the first at once, then after about 1, 2 and 4 s.
	// The provider's breaker (five failures) does not open before.
	testkit.Eventually(t, 15*time.Second, "four attempts", func() bool { return len(log.times()) >= 4 })
	at := log.times()
	for i := 1; i < 4; i++ {
		want := time.Second << (i - 1)
		gap := at[i].Sub(at[i-1])
		lo, hi := time.Duration(float64(want)*0.8), time.Duration(float64(want)*1.2)+300*time.Millisecond
		if gap < lo || gap > hi {
			t.Errorf("retry %d came %v after the attempt before, want %v ±20%% (%v to %v)", i, gap.Round(time.Millisecond), want, lo, hi)
		}
	}
}

// TestOpenBreakerHoldsBackRetries: twenty deliveries through a relay
// serve node whose only SMS provider fails every request. After the
// first attempts the provider's circuit breaker is open, and with no
// other provider the lane waits for its cool-down (5 s) and sends one
// probe, rather than retrying all twenty every second.
func TestOpenBreakerHoldsBackRetries(t *testing.T) {
	t.Parallel()
	log, twilioURL := startFailingTwilio(t)
	c := failingNode(t, twilioURL, 20)
	if _, err := c.Post(context.Background(), &relay.Post{Incident: "breaker", Text: "503 test",
		To: []string{"group:all"}, Severity: relay.SeverityCritical}, ""); err != nil {
		t.Fatal(err)
	}
	testkit.Eventually(t, 10*time.Second, "the first attempt of every delivery", func() bool { return len(log.times()) >= 20 })
	first := log.times()[0]
	// The first probe goes about 5 s after the breaker opened; it fails
	// and the next waits 10 s more. So by 9 s: the 20 first attempts,
	// those already claimed when the breaker opened, and one probe.
	time.Sleep(time.Until(first.Add(9 * time.Second)))
	at := log.times()
	if len(at) > 22 {
		t.Fatalf("%d requests in 9 s to a provider that fails every request, want at most 22 (20 first attempts and one probe)", len(at))
	}
	probes := 0
	for _, a := range at {
		if a.Sub(first) > 3*time.Second {
			probes++
		}
	}
	if probes == 0 {
		t.Fatalf("no probe of the failing provider within 9 s (requests at %v)", at)
	}
}
