package console_test

import (
	"bufio"
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/oob-relay/relay/internal/testkit"
	"github.com/oob-relay/relay/relay/console"
)

// openStream opens the incident's live stream on tn for b and returns
// its scanner, once the stream said which node serves it.
func openStream(t *testing.T, ctx context.Context, b *browser, tn *tnode) (*http.Response, *bufio.Scanner) {
	t.Helper()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, tn.url+"/incidents/"+incident+"/live", nil)
	resp, err := b.http.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK {
		return resp, nil
	}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 1<<20), 4<<20)
	for sc.Scan() {
		if sc.Text() == "data: "+tn.n.Name() {
			return resp, sc
		}
	}
	t.Fatalf("the stream ended before naming its node: %v", sc.Err())
	return nil, nil
}

// TestLiveStreamsBoundedPerSession: a session keeps at most
// DefaultStreamsPerSession streams open; one more is refused with 429
// until one closes.
func TestLiveStreamsBoundedPerSession(t *testing.T) {
	ns := startCluster(t, "relay-1")
	a := ns[0]
	postIncident(t, a, "first", "group:db-oncall")
	b := newBrowser(t)
	b.login(a, "kim")
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	var open []*http.Response
	for range console.DefaultStreamsPerSession {
		resp, sc := openStream(t, ctx, b, a)
		if sc == nil {
			t.Fatalf("stream %d: %d", len(open)+1, resp.StatusCode)
		}
		open = append(open, resp)
	}
	resp, _ := openStream(t, ctx, b, a)
	resp.Body.Close()
	if resp.StatusCode != http.StatusTooManyRequests {
		t.Errorf("one stream too many: %d, want 429", resp.StatusCode)
	}
	other := newBrowser(t)
	other.login(a, "lee")
	if resp, sc := openStream(t, ctx, other, a); sc == nil {
		t.Errorf("another session's stream: %d", resp.StatusCode)
	} else {
		resp.Body.Close()
	}
	open[0].Body.Close()
	// The server sees the closed stream go once it writes to it: a beat
	// comes each second in these tests.
	testkit.Eventually(t, 5*time.Second, "a stream again once one closed", func() bool {
		r, sc := openStream(t, ctx, b, a)
		r.Body.Close()
		return sc != nil
	})
	for _, r := range open[1:] {
		r.Body.Close()
	}
}

// TestLiveStreamEndsWithSession: the stream of a session revoked (on
// another node) says "ended" and closes.
func TestLiveStreamEndsWithSession(t *testing.T) {
	ns := startCluster(t, "relay-1", "relay-2")
	a, b2 := ns[0], ns[1]
	postIncident(t, a, "first", "group:db-oncall")
	b := newBrowser(t)
	cl := b.login(a, "kim")
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	resp, sc := openStream(t, ctx, b, a)
	defer resp.Body.Close()
	if err := b2.n.RevokeSession(ctx, cl.ID, "kim", "park"); err != nil {
		t.Fatal(err)
	}
	event := ""
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "event: ") {
			event = strings.TrimPrefix(line, "event: ")
		}
		if event == "ended" {
			break
		}
	}
	if event != "ended" {
		t.Fatalf("the stream of a revoked session did not end: %v", sc.Err())
	}
	for sc.Scan() {
		if line := sc.Text(); line != "" && line != "data: " {
			t.Errorf("the stream went on after ended: %q", line)
		}
	}
	if ctx.Err() != nil {
		t.Error("the stream stayed open after ended")
	}
}
