package twilio_test

import (
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/oob-relay/relay/channels/twilio"
	"github.com/oob-relay/relay/internal/testkit"
	"github.com/oob-relay/relay/relay"
	relaynode "github.com/oob-relay/relay/relay/node"
	"github.com/oob-relay/relay/relay/secret"
)

// TestHooksFloodOfForgeriesDoesNotFloodTheLog: whoever posts forged
// webhooks decides how often one is refused, so 2,000 of them in a
// second log a few lines, the metric counts every one, and the next
// line that is logged says how many were not.
func TestHooksFloodOfForgeriesDoesNotFloodTheLog(t *testing.T) {
	n := openHooksNode(t, relay.ChannelSMS, &testkit.Sender{}, relaynode.Calls{})
	var logs testkit.LogBuffer
	reg := prometheus.NewRegistry()
	var now atomic.Int64
	now.Store(time.Date(2026, 12, 2, 9, 0, 0, 0, time.UTC).UnixNano())
	h, err := twilio.NewHooks(twilio.HookOptions{Node: hooksNode{n}, PublicURL: hooksURL,
		AuthTokens: []secret.String{secret.New(hooksToken)}, Registerer: reg,
		Logger: slog.New(slog.NewTextHandler(&logs, nil)),
		Now:    func() time.Time { return time.Unix(0, now.Load()) }})
	if err != nil {
		t.Fatal(err)
	}
	path := relay.WebhookPrefix + "m.sms.kim/status"
	form := url.Values{"MessageSid": {"SM" + strings.Repeat("0", 32)}, "MessageStatus": {"delivered"}}
	const flood = 2000
	for range flood {
		if w := postHook(h, path, form, "forged"); w.Code != http.StatusForbidden {
			t.Fatalf("forged receipt: %d %s, want 403", w.Code, w.Body)
		}
	}
	lines := strings.Count(logs.String(), "webhook refused")
	if lines == 0 || lines > 20 {
		t.Fatalf("%d forged requests in one instant logged %d lines, want a few (1 to 20)", flood, lines)
	}
	if got := testkit.Metric(t, reg, "relay_webhook_refused_total", "reason", "signature"); got != flood {
		t.Fatalf("relay_webhook_refused_total{reason=signature} = %v, want %d", got, flood)
	}
	now.Add(int64(2 * time.Second))
	postHook(h, path, form, "forged")
	all := strings.Split(strings.TrimSpace(logs.String()), "\n")
	if last := all[len(all)-1]; !strings.Contains(last, "not_logged_before="+strconv.Itoa(flood-lines)) {
		t.Fatalf("the next line logged does not say that %d refusals went unlogged: %s", flood-lines, last)
	}
}
