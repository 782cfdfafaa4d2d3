package launch_test

import (
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/oob-relay/relay/cmd/relay/internal/launch"
)

const testToken = "launch-console-admin-token-7d2f"

// TestConsoleBesideAPI: the node relay serve builds from a config file
// serves the console at / and its pages, while /v1/, /healthz, /readyz
// and /metrics stay the API's, its unknown paths answered in JSON.
func TestConsoleBesideAPI(t *testing.T) {
	roster := "people:\n  - id: kim\n    name: 김민준\n    email: kim@example.com\n"
	c := loadConfig(t, baseConfig, roster)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s, err := launch.Start(context.Background(), c, launch.Options{Listener: ln})
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := s.Shutdown(ctx); err != nil {
			t.Error(err)
		}
	}()
	client := &http.Client{Timeout: 10 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	defer client.CloseIdleConnections()
	get := func(path string, auth bool) (*http.Response, string) {
		req, _ := http.NewRequest(http.MethodGet, s.URL+path, nil)
		if auth {
			req.Header.Set("Authorization", "Bearer "+testToken)
		}
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp, string(b)
	}
	for _, tc := range []struct {
		path   string
		auth   bool
		status int
		ctype  string
		has    string
	}{
		{"/", false, http.StatusSeeOther, "", ""},
		{"/login", false, http.StatusOK, "text/html", `form id="login"`},
		{"/", true, http.StatusOK, "text/html", `id="node-banner"`},
		{"/admin/cluster", true, http.StatusOK, "text/html", "seoul-1"},
		{"/static/console.js", false, http.StatusOK, "text/javascript", "EventSource"},
		{"/no/such/page", false, http.StatusNotFound, "text/html", ""},
		{"/healthz", false, http.StatusOK, "application/json", `"status":"ok"`},
		{"/v1/incidents", true, http.StatusOK, "application/json", `"incidents"`},
		{"/v1/incidents", false, http.StatusUnauthorized, "application/json", ""},
		{"/v1/no-such-endpoint", false, http.StatusNotFound, "application/json", "no such endpoint"},
		{"/metrics", false, http.StatusOK, "text/plain", "relay_console_live_streams"},
	} {
		resp, body := get(tc.path, tc.auth)
		if resp.StatusCode != tc.status || !strings.HasPrefix(resp.Header.Get("Content-Type"), tc.ctype) || !strings.Contains(body, tc.has) {
			t.Errorf("GET %s (token %v): %d %s, want %d %s with %q\n%.300s", tc.path, tc.auth, resp.StatusCode, resp.Header.Get("Content-Type"), tc.status, tc.ctype, tc.has, body)
		}
		if strings.HasPrefix(tc.ctype, "text/html") && resp.Header.Get("Content-Security-Policy") == "" {
			t.Errorf("GET %s: no Content-Security-Policy", tc.path)
		}
	}
	resp, body := get("/readyz", false)
	var ready map[string]string
	if resp.StatusCode != http.StatusOK || json.Unmarshal([]byte(body), &ready) != nil || ready["status"] != "ready" {
		t.Errorf("/readyz: %d %s", resp.StatusCode, body)
	}
}
